"""Back-translation: real X sentences (``training.data.monolingual``) translated into English by a model's X->en
direction, stored as en -> X pairs whose English side is machine-made (origin ``backtranslation``).

Why: German has no rule-based teacher here, and a model learns to *write* everyday German from human German on the
target side, whatever the quality of its source (Sennrich et al. 2016). The source is tagged ``<bt>`` in training
(``training.corpus``), so the model can tell it from human English (Caswell et al. 2019).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from training.data.generic import OnBad, _raise
from training.data.records import FIELDS, DataError, Pair, write_pairs

ORIGIN = "backtranslation"
Translate = Callable[[list[str], str, str], list[str]]


def backtranslate(
    sentences: Sequence[tuple[str, str]], lang: str, translate: Translate, out: Path, chunk: int = 512
) -> int:
    """``(group, X sentence)`` -> ``out`` rows en(machine) -> X(human); an empty or copied output is left out."""
    pairs: list[Pair] = []
    for start in range(0, len(sentences), chunk):
        part = sentences[start : start + chunk]
        english = translate([s for _, s in part], lang, "en")
        for (group, text), en in zip(part, english, strict=True):
            if en.strip() and en.strip() != text.strip():
                pairs.append(Pair(ORIGIN, group, "en", lang, en.strip(), text))
    return write_pairs(out, pairs)


def read(path: Path, on_bad: OnBad = _raise) -> list[Pair]:
    """Rows of a back-translation file (the corpus TSV format); a row that is not ``backtranslation, group, en, X,
    source, target`` goes to ``on_bad`` with its file and line."""
    rows: list[Pair] = []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
            for cells in reader:
                where = f"{path}:{reader.line_num}"
                if len(cells) != len(FIELDS) or not all(cells):
                    on_bad(DataError(f"{where}: expected {len(FIELDS)} non-empty tab-separated fields"))
                elif cells[0] != ORIGIN or cells[2] != "en":
                    on_bad(DataError(f"{where}: not a back-translation row (origin {ORIGIN}, English source)"))
                else:
                    rows.append(Pair(*cells))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason})") from e
    return rows
