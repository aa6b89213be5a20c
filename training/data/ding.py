"""Everyday German-English sentence pairs from the Ding dictionary (Debian ``trans-de-en``).

Why: German has no Apertium pair, and FreeDict gives it words and phrases. Ding, the dictionary FreeDict's
German-English one descends from, has grown about 15,000 whole example sentences written and translated by people
("Ich helfe manchmal in der Küche aus." / "I sometimes help out in the kitchen."), most of them of daily life: the
kind of pair the everyday test asks for and no other offline source has for German.

Format: one entry a line, ``German :: English``; each side holds the same number of sub-entries separated by
``" | "`` (the headword, its plural, phrases, sentences), and a sub-entry's alternatives are separated by ``"; "``::

    Abendessen {n} | Abendessen {pl} | Das Abendessen hat mir geschmeckt. :: supper | suppers | I enjoyed my supper.

Only sentences are kept: sub-entries that end in ``.``/``?``/``!`` on both sides, their first alternatives, without
the dictionary's markup (``{f}``, ``[Br.]``, ``(optional words)``, ``a/b`` choices, ``sth.``/``etw.`` slots), which
would teach the model to write it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from training.data.generic import OnBad, _raise
from training.data.records import DataError, Pair

ROOT = Path("/usr/share/trans/de-en")
PACKAGE = "trans-de-en"
ORIGIN = "ding"
LICENSE = "GPL-2.0-or-later (Ding, Frank Richter, TU Chemnitz; see /usr/share/doc/trans-de-en/copyright)"
MIN_WORDS, MAX_WORDS = 3, 30
_END = re.compile(r"[.?!][\"'“”»«]?$")
_MARKUP = re.compile(r"[/(\[{<~…]|\b(?:sth|sb|etw|jdm|jdn|jds|jd)\.")
_QUOTE = str.maketrans({"’": "'", "‘": "'"})


def sentence(text: str) -> str | None:
    """A sub-entry's first alternative if it is a plain sentence, else None."""
    first = text.split("; ")[0].strip().translate(_QUOTE)
    words = len(first.split())
    if not _END.search(first) or not MIN_WORDS <= words <= MAX_WORDS or _MARKUP.search(first):
        return None
    return first


def read(path: Path = ROOT, *, on_bad: OnBad = _raise) -> Iterator[Pair]:
    """English -> German sentence pairs of the dictionary at ``path``; a line that is not ``German :: English``
    with as many sub-entries on each side goes to ``on_bad`` with its file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable Ding dictionary ({e})") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        sides = line.split(" :: ")
        if len(sides) != 2:
            on_bad(DataError(f"{path}:{number}: expected 'German :: English'"))
            continue
        german, english = (side.split(" | ") for side in sides)
        if len(german) != len(english):
            on_bad(DataError(f"{path}:{number}: {len(german)} German sub-entries against {len(english)} English"))
            continue
        for de, en in zip(german, english, strict=True):
            src, tgt = sentence(en), sentence(de)
            if src and tgt:
                yield Pair(ORIGIN, "ding-sentences", "en", "de", src, tgt)
