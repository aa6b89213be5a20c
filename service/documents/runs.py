"""Paragraphs of styled runs: which runs are translated together, and where their translation goes.

Why this rule: a machine-translated sentence cannot be cut back into the source's styled pieces (words move,
merge and split), and a sentence translated piece by piece loses its grammar. So:

- runs with the same formatting next to each other are one piece of text (editors split runs for no visible
  reason: spell checking, revision ids);
- a paragraph whose pieces all have one formatting is one segment, and the runs keep it;
- where the formatting changes only between sentences (a bold lead sentence, then plain ones), each piece is its
  own segment and keeps its formatting;
- where it changes inside a sentence (one bold word), the paragraph is translated whole and the translation takes
  the formatting of the piece holding most of its letters; the other runs are emptied, never removed, so their
  properties (and anything else in them: a picture, a field) stay where they were.

Tabs, line breaks, fields, pictures and notes between runs cut the text there: each side is planned on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.documents.base import Segment

_SENTENCE_END = re.compile(r"[.!?。！？:;…][\"'”’)\]]*\s*$")


@dataclass
class Run:
    """One stretch of text in one formatting: read and written through the library's element."""

    style: str
    get: Callable[[], str]
    set: Callable[[str], None]


BREAK = None  # in a run list: something that is not text (a tab, a break, a field) cuts the text there


@dataclass
class _Group:
    runs: list[Run]
    receiver: Run

    @property
    def text(self) -> str:
        return "".join(run.get() for run in self.runs)


def _letters(text: str) -> int:
    return sum(1 for char in text if char.isalpha())


def _pieces(runs: Sequence[Run]) -> list[list[Run]]:
    """Adjacent runs of the same formatting, together."""
    pieces: list[list[Run]] = []
    for run in runs:
        if pieces and pieces[-1][-1].style == run.style:
            pieces[-1].append(run)
        else:
            pieces.append([run])
    return pieces


def _plan(runs: Sequence[Run]) -> list[_Group]:
    """Groups for one stretch of runs without breaks."""
    pieces = [p for p in _pieces(runs) if "".join(r.get() for r in p)]
    if not pieces:
        return []
    texts = ["".join(r.get() for r in piece) for piece in pieces]
    if len(pieces) > 1 and all(_SENTENCE_END.search(t) for t in texts[:-1]):
        return [_Group(piece, next((r for r in piece if _letters(r.get())), piece[0])) for piece in pieces]
    dominant = max(range(len(pieces)), key=lambda i: _letters(texts[i]))
    receiver = next((r for r in pieces[dominant] if _letters(r.get())), pieces[dominant][0])
    return [_Group([r for piece in pieces for r in piece], receiver)]


@dataclass
class Paragraphs:
    """Every paragraph of a document, planned; ``segments`` in order and ``apply`` to write translations."""

    groups: list[_Group] = field(default_factory=list)

    def add(self, runs: Sequence[Run | None]) -> None:
        stretch: list[Run] = []
        for run in [*runs, BREAK]:
            if run is BREAK:
                self.groups += [g for g in _plan(stretch) if _letters(g.text)]
                stretch = []
            else:
                stretch.append(run)

    @property
    def segments(self) -> list[Segment]:
        return [Segment(group.text) for group in self.groups]

    def apply(self, translations: Sequence[str | None]) -> None:
        if len(translations) != len(self.groups):
            raise ValueError(f"expected {len(self.groups)} translations, got {len(translations)}")
        for group, translation in zip(self.groups, translations, strict=True):
            if translation is None or not translation.strip():
                continue
            for run in group.runs:
                run.set(translation if run is group.receiver else "")
