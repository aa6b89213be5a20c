"""Markdown (``.md``): markdown-it-py finds the text; only those characters of the file are rewritten.

Why markdown-it-py and ranges: it is the CommonMark reference parser in Python (tables enabled), and it says
which lines hold each paragraph, heading and table cell (its ``inline`` tokens) and, inside them, where code
spans, emphasis, links, images and inline HTML are. Fenced and indented code blocks, HTML blocks, front matter,
list markers, quote markers and indentation are never part of a range, so they stay byte for byte.

Inside a paragraph, the parts that are not prose -- code spans, emphasis delimiters, ``[``, ``](url "title")``,
images, autolinks, inline HTML -- become placeholder tags and the paragraph goes through the HTML mode, which
translates only the text between them; the placeholders are then put back as they were. A paragraph's
translation is wrapped back onto as many lines as it had, so quote and list prefixes stay where they were.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from service.documents.base import FileOptions, Limits, Segment
from service.documents.safety import decode_text
from service.documents.spans import Span, SpanDocument, has_letters, wrap

_LINE_END = re.compile(r"\r\n|\r|\n")
_MARKER = re.compile(r'<xlt-k n="(\d+)"/>')
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*$", re.MULTILINE | re.DOTALL)


class _NotFound(Exception):
    """A part the parser saw could not be found in the raw text: the paragraph is left as it is."""


def _find(raw: str, needle: str, at: int) -> int:
    """``needle`` in ``raw`` from ``at``, not escaped with a backslash."""
    while True:
        found = raw.find(needle, at)
        if found < 0:
            raise _NotFound(needle)
        if found == 0 or raw[found - 1] != "\\":
            return found
        at = found + 1


def _after_destination(raw: str, at: int) -> int:
    """The index after a link's or image's destination at ``at``: ``(url "title")``, ``[ref]``, or none."""
    if raw.startswith("(", at):
        return _closing_paren(raw, at)
    if raw.startswith("[", at):
        return raw.index("]", at) + 1
    return at


def _closing_paren(raw: str, at: int) -> int:
    """The index after the ``)`` closing the ``(`` at ``at`` (balanced, backslash escapes skipped)."""
    depth, i = 0, at
    while i < len(raw):
        char = raw[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _NotFound(")")


def _protected(raw: str, children: list[Token]) -> list[tuple[int, int]]:
    """The [start, end) parts of an inline token's raw text that are syntax or code, not prose."""
    parts: list[tuple[int, int]] = []
    at = 0
    skip_link_close = 0
    for token in children:
        kind = token.type
        if kind == "code_inline":
            start = _find(raw, token.markup, at)
            end = raw.index(token.markup, start + len(token.markup) + len(token.content.strip()) - 1)
            at = end + len(token.markup)
            parts.append((start, at))
        elif kind in ("em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"):
            start = _find(raw, token.markup, at)
            at = start + len(token.markup)
            parts.append((start, at))
        elif kind == "link_open" and token.markup == "autolink":
            start = _find(raw, "<", at)
            at = raw.index(">", start) + 1
            parts.append((start, at))
            skip_link_close += 1
        elif kind == "link_open":
            start = _find(raw, "[", at)
            at = start + 1
            parts.append((start, at))
        elif kind == "link_close":
            if skip_link_close:
                skip_link_close -= 1
                continue
            start = _find(raw, "]", at)
            at = start + 1
            at = _after_destination(raw, at)
            parts.append((start, at))
        elif kind == "image":
            start = _find(raw, "![", at)
            close = _find(raw, "]", start + 2)
            at = close + 1
            at = _after_destination(raw, at)
            parts.append((start, at))
        elif kind == "html_inline":
            start = raw.index(token.content, at)
            at = start + len(token.content)
            parts.append((start, at))
        elif kind == "text" and skip_link_close:
            continue  # an autolink's text is inside its <...>
    return parts


@dataclass
class _Inline:
    """One paragraph, heading or table cell: its placeholder-tagged text and how to write a translation back."""

    kept: list[str]  # the raw text of each placeholder

    def write(self, translation: str, lines: int) -> list[str]:
        out = []
        for line in wrap(" ".join(translation.split(" ")).replace("\n", " "), lines):
            pieces, at = [], 0
            for match in _MARKER.finditer(line):
                pieces.append(html.unescape(line[at : match.start()]))
                pieces.append(self.kept[int(match.group(1))].replace("\r\n", " ").replace("\n", " "))
                at = match.end()
            pieces.append(html.unescape(line[at:]))
            out.append("".join(pieces))
        return out


def _segment(raw: str, children: list[Token]) -> tuple[Segment, _Inline] | None:
    try:
        parts = _protected(raw, children)
    except (_NotFound, ValueError):
        return None
    flat = raw.replace("\n", " ")
    if not parts:
        return Segment(flat), _Inline([])
    out: list[str] = []
    kept: list[str] = []
    at = 0
    for start, end in parts:
        out.append(html.escape(flat[at:start], quote=False))
        out.append(f'<xlt-k n="{len(kept)}"/>')
        kept.append(raw[start:end])
        at = end
    out.append(html.escape(flat[at:], quote=False))
    tagged = "".join(out)
    if not has_letters(html.unescape(_MARKER.sub("", tagged))):
        return None
    return Segment(tagged, markup=True), _Inline(kept)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _LINE_END.finditer(text))]


def parse(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> SpanDocument:
    text, encoding, bom = decode_text(data)
    front = _FRONT_MATTER.match(text)
    skip_lines = len(_LINE_END.findall(front.group())) + 1 if front else 0
    tokens = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(text)
    starts = _line_starts(text)
    cursor: dict[int, int] = {}  # per line: where the next cell's search starts
    spans = []
    for token in tokens:
        if token.type != "inline" or token.map is None or token.map[0] < skip_lines or not has_letters(token.content):
            continue
        found = _segment(token.content, token.children or [])
        if found is None:
            continue
        segment, inline = found
        ranges: list[tuple[int, int]] = []
        for offset, content_line in enumerate(token.content.split("\n")):
            number = token.map[0] + offset
            if number + 1 >= len(starts) + 1 or not content_line:
                ranges = []
                break
            line_start = starts[number]
            line_end = starts[number + 1] if number + 1 < len(starts) else len(text)
            at = text.find(content_line, cursor.get(number, line_start), line_end)
            if at < 0:
                ranges = []
                break
            cursor[number] = at + len(content_line)
            ranges.append((at, at + len(content_line)))
        if ranges:
            spans.append(Span(ranges, segment, inline.write))
    return SpanDocument(text, encoding, bom, spans)
