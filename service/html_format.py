"""``format: "html"``: translate the text nodes of an HTML fragment and keep its markup byte for byte.

Why the stdlib parser and positions: ``html.parser`` tolerates broken markup and reports where each event
starts, so the document is cut into raw slices (tags, comments, text) without re-serialising anything. Only
text slices outside ``script``/``style`` holding letters are translated: their entities are decoded
for the model and the translation is escaped again (``& < >`` and no-break spaces), while their leading and
trailing whitespace, and every untranslated slice, stay exactly as sent. Each text node is split into
sentences like plain text, so an ``HtmlSegments`` serves the pipeline wherever a ``Segments`` does.
Inline markup cuts a sentence into nodes (``<b>``), which are translated separately, as LibreTranslate does.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser

from service.text import Segments, split_sentences

RAW_TEXT_TAGS = frozenset({"script", "style"})  # their content is code, never prose


@dataclass(frozen=True)
class _Event:
    start: int
    kind: str  # "text" or "markup"
    tag: str = ""  # start or end tag name, for script/style tracking
    closing: bool = False


class _Slicer(HTMLParser):
    """Records where each parser event starts; slices between starts are the raw pieces of the document."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[_Event] = []
        self._line_starts = [0]
        for i, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(i + 1)

    def _here(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_data(self, data: str) -> None:
        if not (self.events and self.events[-1].kind == "text"):  # one piece per run of text
            self.events.append(_Event(self._here(), "text"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(_Event(self._here(), "markup", tag))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._markup()

    def handle_endtag(self, tag: str) -> None:
        self.events.append(_Event(self._here(), "markup", tag, closing=True))

    def _markup(self) -> None:
        self.events.append(_Event(self._here(), "markup"))

    def handle_comment(self, data: str) -> None:
        self._markup()

    def handle_decl(self, decl: str) -> None:
        self._markup()

    def handle_pi(self, data: str) -> None:
        self._markup()

    def unknown_decl(self, data: str) -> None:
        self._markup()


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


@dataclass(frozen=True)
class HtmlSegments:
    """An HTML fragment as raw pieces; ``nodes`` maps translated pieces to the sentences they hold."""

    pieces: list[str]  # raw slices of the source, in order; translated ones are replaced by ``join``
    nodes: list[tuple[int, Segments]] = field(default_factory=list)  # (index in pieces, decoded text split)
    prefix: str = ""  # the pipeline's plain-text fields: an HTML fragment keeps its edges in ``pieces``
    suffix: str = ""

    @property
    def sentences(self) -> list[str]:
        return [s for _, segments in self.nodes for s in segments.sentences]

    def visible_text(self) -> str:
        """The translatable text, one node per line: what language detection should look at."""
        return "\n".join(" ".join(segments.sentences) for _, segments in self.nodes)

    def join(self, translated: list[str]) -> str:
        """The source with each translated node's text replaced, escaped; the markup untouched."""
        if len(translated) != len(self.sentences):
            raise ValueError(f"expected {len(self.sentences)} sentences, got {len(translated)}")
        pieces = list(self.pieces)
        at = 0
        for index, segments in self.nodes:
            count = len(segments.sentences)
            pieces[index] = _escape(segments.join(translated[at : at + count]))
            at += count
        return "".join(pieces)


def split_html(source: str) -> HtmlSegments:
    """Cut ``source`` into markup and text pieces and split the translatable text into sentences."""
    parser = _Slicer(source)
    parser.feed(source)
    parser.close()
    events = parser.events
    pieces: list[str] = []
    nodes: list[tuple[int, Segments]] = []
    first = events[0].start if events else len(source)
    if first > 0:  # nothing the parser reported (cannot happen with html.parser, kept verbatim if it does)
        pieces.append(source[:first])
    raw_text: str | None = None  # inside script/style: the name of the open tag
    for i, event in enumerate(events):
        end = events[i + 1].start if i + 1 < len(events) else len(source)
        raw = source[event.start : end]
        if event.kind == "markup" and event.tag in RAW_TEXT_TAGS:
            raw_text = None if event.closing else event.tag
        elif event.kind == "text" and raw_text is None and raw.strip():
            decoded = html.unescape(raw)
            if any(char.isalpha() for char in decoded):  # "2024", " | ", "•" stay as they are
                nodes.append((len(pieces), split_sentences(decoded)))
        pieces.append(raw)
    return HtmlSegments(pieces=pieces, nodes=nodes)


def visible_text(source: str) -> str:
    """The text an HTML fragment shows (script and style left out), for language detection."""
    return split_html(source).visible_text()
