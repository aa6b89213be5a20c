"""Subtitles: ``.srt`` read by ``srt``, ``.vtt`` by ``webvtt-py``; numbering, timings, cue settings, NOTE and
STYLE blocks are never rewritten.

Why those libraries and span rewriting: they parse the cues (and reject what is not a subtitle file), but
writing through them renumbers and reformats; here only each cue's text lines are replaced in the original.
A cue's lines are translated as one sentence (a sentence often breaks across the two lines of a cue) and the
translation is wrapped back onto as many lines, at spaces outside tags. Cues with tags (``<i>``, ``<v Bob>``)
go through the HTML mode, which keeps the tags.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from service.documents.base import FileOptions, InvalidFile, Limits, Segment
from service.documents.safety import decode_text
from service.documents.spans import Span, SpanDocument, has_letters

_TAG = re.compile(r"<[^<>]*>")


def _cue_spans(text: str, cues: Iterable[list[str]]) -> list[Span]:
    """Each cue's lines, found in order after its timing line (``-->``)."""
    spans: list[Span] = []
    at = 0
    for lines in cues:
        arrow = text.find("-->", at)
        if arrow < 0:
            raise InvalidFile("a cue's timing line was not found where the parser saw it")
        at = text.find("\n", arrow) + 1 if "\n" in text[arrow:] else len(text)
        ranges = []
        for line in (line.strip() for line in lines):
            if not line:
                continue
            start = text.find(line, at)
            if start < 0:
                raise InvalidFile("a cue's text was not found where the parser saw it")
            at = start + len(line)
            ranges.append((start, at))
        joined = " ".join(text[start:end] for start, end in ranges)
        if ranges and has_letters(_TAG.sub("", joined)):
            spans.append(Span(ranges, Segment(joined, markup=bool(_TAG.search(joined)))))
    return spans


def parse_srt(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> SpanDocument:
    import srt

    text, encoding, bom = decode_text(data)
    try:
        subtitles = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise InvalidFile(f"not a valid SubRip (.srt) file: {exc}") from None
    return SpanDocument(text, encoding, bom, _cue_spans(text, (s.content.split("\n") for s in subtitles)))


def parse_vtt(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> SpanDocument:
    import webvtt
    from webvtt.errors import MalformedFileError

    text, encoding, bom = decode_text(data)
    try:
        captions = webvtt.from_buffer(io.StringIO(text)).captions
    except (MalformedFileError, ValueError) as exc:
        raise InvalidFile(f"not a valid WebVTT (.vtt) file: {exc}") from None
    return SpanDocument(text, encoding, bom, _cue_spans(text, (list(c.lines) for c in captions)))
