"""Sentence splitting: long texts become sentence items so they batch well and are never truncated.

Why a regex and not a model: LibreTranslate's splitter downloads a model on first use and fails offline. Ours
is deliberately simple: split after ``. ! ?`` (followed by whitespace), after CJK ``。！？``, and at
newlines. The separators are kept verbatim, so joining translated sentences with them restores paragraphs
exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A separator: whitespace with a newline, whitespace after sentence-final punctuation, or the empty string
# after CJK sentence-final punctuation (which is not followed by a space).
_SEPARATOR = re.compile(r"(\s*\n\s*|(?<=[.!?])\s+|(?<=[。！？])(?![。！？])\s*)")
_SOFT_BREAK = re.compile(r"[,;:、，]?\s+")

MAX_SENTENCE_CHARS = 400  # a "sentence" longer than this (no punctuation) is cut at whitespace.


@dataclass(frozen=True)
class Segments:
    """A text as ``prefix + s0 + seps[0] + s1 + ... + suffix``; sentences are what gets translated."""

    prefix: str
    sentences: list[str]
    separators: list[str]  # len(sentences) - 1 entries (or 0 when there is no sentence)
    suffix: str

    def join(self, translated: list[str]) -> str:
        if len(translated) != len(self.sentences):
            raise ValueError(f"expected {len(self.sentences)} sentences, got {len(translated)}")
        out = [self.prefix]
        for i, sentence in enumerate(translated):
            out.append(sentence)
            if i < len(self.separators):
                out.append(self.separators[i])
        out.append(self.suffix)
        return "".join(out)


def _wrap(sentence: str, limit: int) -> tuple[list[str], list[str]]:
    """Cut an over-long sentence at the last soft break (comma or space) before ``limit`` characters."""
    pieces: list[str] = []
    seps: list[str] = []
    rest = sentence
    while len(rest) > limit:
        cut = None
        for match in _SOFT_BREAK.finditer(rest, 1, limit + 1):
            cut = match
        if cut is None or cut.end() >= len(rest):
            pieces.append(rest[:limit])
            seps.append("")
            rest = rest[limit:]
        else:
            pieces.append(rest[: cut.start()] + cut.group().rstrip())
            seps.append(cut.group()[len(cut.group().rstrip()) :])
            rest = rest[cut.end() :]
    pieces.append(rest)
    return pieces, seps


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> Segments:
    """Split ``text`` into sentences and the exact separators between them."""
    stripped = text.strip()
    if not stripped:
        return Segments(prefix=text, sentences=[], separators=[], suffix="")
    start = text.index(stripped[0])
    prefix, suffix = text[:start], text[start + len(stripped) :]
    parts = _SEPARATOR.split(stripped)
    sentences: list[str] = []
    separators: list[str] = []
    pending = ""  # separators of empty chunks ("。。") are merged into the next separator
    for i in range(0, len(parts), 2):
        chunk = parts[i]
        sep = parts[i + 1] if i + 1 < len(parts) else ""
        if not chunk:
            if sentences:
                separators[-1] += sep
            else:
                pending += sep
            continue
        pieces, inner = _wrap(chunk, max_chars)
        if sentences:
            separators[-1] += pending
        else:
            prefix += pending
        pending = ""
        sentences.extend(pieces)
        separators.extend(inner)
        separators.append(sep)
    separators = separators[: max(0, len(sentences) - 1)]
    return Segments(prefix=prefix, sentences=sentences, separators=separators, suffix=suffix)
