"""Plain text (``.txt``: one segment per paragraph) and HTML pages (``.html``: the existing html mode).

Why paragraphs: the pipeline splits each segment into sentences and keeps every separator, so a paragraph is
the largest unit that keeps a sentence broken across lines together without sending the whole file as one
text. HTML documents are cut by ``service.html_format`` (the same slicer as ``format: "html"``): each text node
outside ``script``/``style`` is a segment, its translation is escaped, and every tag, comment and attribute
stays byte for byte.
"""

from __future__ import annotations

import html
import re

from service.documents.base import FileOptions, Limits, Segment
from service.documents.safety import decode_text
from service.documents.spans import Span, SpanDocument, has_letters
from service.html_format import split_html

_PARAGRAPH = re.compile(r"\S(?:.|\n(?![ \t]*(?:\r?\n|$)))*", re.MULTILINE)  # up to the next blank line
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _keep(text: str, _: int) -> list[str]:
    return [text]


def parse_txt(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> SpanDocument:
    text, encoding, bom = decode_text(data)
    spans = []
    for match in _PARAGRAPH.finditer(text):
        paragraph = match.group().rstrip()
        if has_letters(paragraph):
            spans.append(Span([(match.start(), match.start() + len(paragraph))], Segment(paragraph), _keep))
    return SpanDocument(text, encoding, bom, spans)


def _escaped(translation: str, _: int) -> list[str]:
    return [html.escape(translation, quote=False).replace("\xa0", "&nbsp;")]


def parse_html(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> SpanDocument:
    declared = _META_CHARSET.search(data[:4096])
    text, encoding, bom = decode_text(data, declared.group(1).decode("ascii") if declared else "utf-8")
    document = split_html(text)
    starts, at = [], 0
    for piece in document.pieces:
        starts.append(at)
        at += len(piece)
    spans = []
    for index, segments in document.nodes:
        decoded = segments.join(segments.sentences)
        start = starts[index]
        spans.append(Span([(start, start + len(document.pieces[index]))], Segment(decoded), _escaped))
    return SpanDocument(text, encoding, bom, spans)
