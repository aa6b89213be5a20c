"""The one record type every corpus source yields, and the TSV format the corpus is stored in.

Why: sources differ (SQLite Bible, gettext catalogs, TSV/JSONL/TMX); everything after parsing (cleaning, splits,
training) sees only ``Pair`` rows, so each source module stays small and the rest never branches on the source.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FIELDS = ("origin", "group", "src_lang", "tgt_lang", "src", "tgt")
BT_TAG = "<bt>"  # put before a machine-made side read as a source (tagged back-translation); never sent when serving
# Origins whose one side is machine-made: "src" (the English side, back-translated) or "tgt" (a teacher's output).
SYNTHETIC_SIDE = {"backtranslation": "src", "teacher": "tgt"}


class DataError(ValueError):
    """Bad input data: the message names the file and, where known, the line."""


@dataclass(frozen=True, slots=True)
class Pair:
    origin: str  # source family: "bible", "gettext", "tsv", ...
    group: str  # what splits are drawn by: a Bible book number or a gettext catalog domain
    src_lang: str
    tgt_lang: str
    src: str
    tgt: str

    def swapped(self) -> Pair:
        return Pair(self.origin, self.group, self.tgt_lang, self.src_lang, self.tgt, self.src)


def write_pairs(path: Path, pairs: Iterable[Pair]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        for p in pairs:
            w.writerow([p.origin, p.group, p.src_lang, p.tgt_lang, _one_line(p.src), _one_line(p.tgt)])
            n += 1
    return n


def read_pairs(path: Path) -> Iterator[Pair]:
    with path.open(encoding="utf-8", newline="") as f:
        r = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        for row in r:
            yield Pair(*row)


def _one_line(text: str) -> str:
    return " ".join(text.split())
