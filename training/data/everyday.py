"""The everyday dev and test sets: English sentences of daily life written by hand, with references in every
language (``training/data/everyday/{dev,test}.tsv``, columns ``en de fr es it pt``).

Why by hand and in the repo: no offline corpus has everyday text with human translations, and the first sentences a
user types ("The house is small.") are of that kind. They are kept out of every training split: ``key`` is the
form two texts are compared in (case, spaces and final punctuation aside), and ``xlt data build`` drops a training
pair whose either side matches a dev or test sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from training.data.records import DataError, Pair

FOLDER = Path(__file__).parent / "everyday"
ORIGIN = "everyday"
SPLITS = ("dev", "test")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def key(text: str) -> str:
    """``"  Where is the station ? "`` and ``"where is the station"`` compare equal."""
    return _EDGES.sub("", " ".join(text.lower().split()))


def read(path: Path, langs: set[str]) -> Iterator[Pair]:
    """en -> X pairs of one split file, for each X of ``langs`` that it has a column for."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason})") from e
    if not lines:
        raise DataError(f"{path}:1: empty file, expected a header 'en<TAB>de<TAB>...'")
    header = lines[0].split("\t")
    if header[0] != "en":
        raise DataError(f"{path}:1: the first column must be 'en', got {header[0]!r}")
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header) or not all(c.strip() for c in cells):
            raise DataError(f"{path}:{number}: expected {len(header)} non-empty tab-separated fields")
        en = cells[0].strip()
        for lang, text in zip(header[1:], cells[1:], strict=True):
            if lang in langs:
                yield Pair(ORIGIN, f"{path.stem}-{number - 1}", "en", lang, en, text.strip())


def held_out_keys(pairs: list[Pair]) -> set[str]:
    """Every side of the everyday pairs, as ``key`` forms."""
    return {key(p.src) for p in pairs} | {key(p.tgt) for p in pairs}
