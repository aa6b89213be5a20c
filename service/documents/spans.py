"""A text file rewritten only inside given character ranges: everything else stays byte for byte.

Why: the subtitle and Markdown libraries parse well but re-serialise in their own style (renumbered cues,
normalised timings, re-wrapped Markdown). They tell us *where* the text is; this writes translations into those
places and leaves the rest of the file as it came, in its own encoding, BOM and line endings. A segment may
cover several ranges (the lines of a cue or of a paragraph): its translation is wrapped back onto as many lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.documents.base import Segment

_SPACE = re.compile(r" +")


def _inside_tag(text: str, at: int) -> bool:
    return text.rfind("<", 0, at) > text.rfind(">", 0, at)


def wrap(text: str, lines: int) -> list[str]:
    """``text`` cut at spaces outside tags into ``lines`` lines of about equal length (the last ones may be
    empty when there are too few spaces)."""
    if lines <= 1:
        return [text]
    spaces = [m for m in _SPACE.finditer(text) if not _inside_tag(text, m.start())]
    out: list[str] = []
    start = 0
    for k in range(1, lines):
        goal = start + (len(text) - start) / (lines - k + 1)
        candidates = [m for m in spaces if m.start() > start]
        if not candidates:
            break
        cut = min(candidates, key=lambda m: abs(m.start() - goal))
        out.append(text[start : cut.start()])
        start = cut.end()
    out.append(text[start:])
    return out + [""] * (lines - len(out))


def _plain(translation: str, ranges: int) -> list[str]:
    return wrap(" ".join(translation.split()), ranges) if ranges > 1 else [translation]


@dataclass
class Span:
    ranges: list[tuple[int, int]]  # [start, end) character ranges of the decoded text, in order
    segment: Segment
    # the translation as one string per range (default: wrapped at spaces onto as many lines)
    write: Callable[[str, int], list[str]] = _plain


@dataclass
class SpanDocument:
    """``text`` decoded from the file; ``spans`` in order, their ranges never overlapping."""

    text: str
    encoding: str
    bom: bytes
    spans: list[Span] = field(default_factory=list)

    @property
    def segments(self) -> list[Segment]:
        return [span.segment for span in self.spans]

    def render(self, translations: Sequence[str | None]) -> bytes:
        if len(translations) != len(self.spans):
            raise ValueError(f"expected {len(self.spans)} translations, got {len(translations)}")
        out, at = [], 0
        for span, translation in zip(self.spans, translations, strict=True):
            if translation is None or not translation.strip():
                continue  # the original text stays
            for (start, end), text in zip(span.ranges, span.write(translation, len(span.ranges)), strict=True):
                out.append(self.text[at:start])
                out.append(text)
                at = end
        out.append(self.text[at:])
        return self.bom + "".join(out).encode(self.encoding)


def has_letters(text: str) -> bool:
    return any(char.isalpha() for char in text)
