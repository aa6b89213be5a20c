"""English everyday text from WordNet 3.0 (Debian ``wordnet-base``): the example sentences and the glosses.

Why WordNet: it is the one large, offline, licensed source of plain English about daily life here (~48,000 quoted
examples such as "I can breathe better when the air is clean"). The sentences are English only; the Apertium
teacher (``training.data.teacher``) gives them targets.

A synset line of ``data.<pos>`` ends in ``| gloss; "example"; "example"``. Examples are lower-case fragments without
final punctuation; each is given a capital and a full stop, the shape of what users type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.data.generic import OnBad, _lines, _raise
from training.data.records import DataError

ROOT = Path("/usr/share/wordnet")
PACKAGE = "wordnet-base"
LICENSE = "WordNet 3.0 license (BSD-like, Princeton University)"
PARTS = ("noun", "verb", "adj", "adv")
_QUOTED = re.compile(r'"([^"]+)"')
_SYNSET = re.compile(r"^\d{8} ")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    kind: str  # "example" or "gloss"
    where: str  # file:line, for the manifest's examples and for errors


def sentence_case(text: str) -> str:
    """``the team is a unit`` -> ``The team is a unit.``; a question or exclamation keeps its mark."""
    text = " ".join(text.split()).strip(" ;,")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def read(root: Path = ROOT, *, glosses: bool = True, on_bad: OnBad = _raise) -> Iterator[Sentence]:
    """Examples (and glosses) of every synset, in file order, each once per file line."""
    files = [root / f"data.{pos}" for pos in PARTS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(f"WordNet data files not found: {', '.join(missing)} (apt-get install {PACKAGE})")
    for path in files:
        for number, line in _lines(path, on_bad):
            if line.startswith("  "):  # the licence header
                continue
            if not _SYNSET.match(line) or " | " not in line:
                on_bad(DataError(f"{path}:{number}: not a WordNet synset line (no offset or no '|' gloss)"))
                continue
            gloss_part = line.split(" | ", 1)[1]
            where = f"{path.name}:{number}"
            for quoted in _QUOTED.findall(gloss_part):
                text = sentence_case(quoted)
                if len(text.split()) >= 3:  # "AS IS", "woof!" and the like teach nothing
                    yield Sentence(text, "example", where)
            if glosses:
                gloss = _QUOTED.sub("", gloss_part).split(";")[0]
                text = sentence_case(gloss)
                if len(text.split()) >= 3:
                    yield Sentence(text, "gloss", where)
