"""Office documents: ``.docx`` (python-docx), ``.pptx`` (python-pptx), ``.odt``/``.odp`` (odfdo).

Why these libraries: each opens and saves its format's package (relationships, content types, manifests) the
way the format requires, and hands out its XML as lxml elements; we only read and set the text of the runs
(``w:t``, ``a:t``, ODF text and spans) through them, so every property, picture and part we do not touch is
written back as it came. ``service.documents.runs`` decides which runs are translated together. Before a
library sees the file, ``safety.check_zip`` has refused corrupt archives, zip bombs and XML with DTDs.

What is translated: .docx the body (tables and text boxes included), headers and footers; .pptx every slide's
shapes (tables and groups included) and its notes; .odt/.odp the document body (text, tables, frames, notes).
Not translated: .docx footnotes and comments (python-docx does not reach them), masters and layouts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from service.documents.base import FileOptions, InvalidFile, Limits, Segment
from service.documents.runs import BREAK, Paragraphs, Run
from service.documents.safety import check_zip

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


@dataclass
class OfficeDocument:
    paragraphs: Paragraphs
    save: Callable[[], bytes]

    @property
    def segments(self) -> list[Segment]:
        return self.paragraphs.segments

    def render(self, translations: Sequence[str | None]) -> bytes:
        self.paragraphs.apply(translations)
        return self.save()


def _open(data: bytes, limits: Limits, opener: Callable[[io.BytesIO], Any], kind: str) -> Any:
    check_zip(data, limits)
    try:
        return opener(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, etree.XMLSyntaxError) as exc:
        raise InvalidFile(f"not a valid {kind} file: {exc}") from None
    except Exception as exc:  # each library has its own "not my format" errors (PackageNotFoundError...)
        if type(exc).__module__.split(".")[0] in ("docx", "pptx", "odfdo"):
            raise InvalidFile(f"not a valid {kind} file: {exc}") from None
        raise


def _saver(document: Any) -> Callable[[], bytes]:
    def save() -> bytes:
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()

    return save


def _element_text(element: Any) -> Run:
    """A run whose text is an element's text (``w:t``, ``a:t``); leading/trailing spaces kept in Word."""

    def set_text(text: str) -> None:
        element.text = text
        if element.tag == f"{{{W}}}t" and text != text.strip():
            element.set(XML_SPACE, "preserve")

    style = element.getparent()
    props = style.find(f"{{{W}}}rPr") if style is not None else None
    if props is None and style is not None:
        props = style.find(f"{{{A}}}rPr")
    key = etree.tostring(props) if props is not None else b""
    link = next((a for a in element.iterancestors(f"{{{W}}}hyperlink")), None)
    if link is not None:
        key += b"|link:" + str(id(link)).encode()
    return Run(key.decode("utf-8", "replace"), lambda: element.text or "", set_text)


def _openxml_runs(paragraph: Any, namespace: str, breaks: frozenset[str]) -> list[Run | None]:
    """The text elements of one ``w:p``/``a:p`` in order, with a BREAK where something else sits between."""
    runs: list[Run | None] = []
    p_tag = f"{{{namespace}}}p"
    t_tag = f"{{{namespace}}}t"
    for element in paragraph.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        if next(element.iterancestors(p_tag), None) is not paragraph:
            continue  # inside a nested paragraph (a text box): planned as its own paragraph
        local = etree.QName(element).localname
        if element.tag == t_tag:
            runs.append(_element_text(element))
        elif local in breaks:
            runs.append(BREAK)
    return runs


_WORD_BREAKS = frozenset({"tab", "br", "cr", "drawing", "pict", "object", "fldChar", "sym", "footnoteReference",
                          "endnoteReference", "commentReference", "ptab", "txbxContent"})  # fmt: skip
_SLIDE_BREAKS = frozenset({"br", "fld"})


def _paragraphs(roots: Iterator[Any], namespace: str, breaks: frozenset[str]) -> Paragraphs:
    paragraphs = Paragraphs()
    for root in roots:
        for paragraph in root.iter(f"{{{namespace}}}p"):
            paragraphs.add(_openxml_runs(paragraph, namespace, breaks))
    return paragraphs


def parse_docx(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> OfficeDocument:
    import docx

    document = _open(data, limits, docx.Document, "Word (.docx)")

    def stories() -> Iterator[Any]:
        yield document.element.body
        for section in document.sections:
            for part in (section.header, section.footer, section.first_page_header, section.first_page_footer,
                         section.even_page_header, section.even_page_footer):  # fmt: skip
                if not part.is_linked_to_previous:
                    yield part._element

    return OfficeDocument(_paragraphs(stories(), W, _WORD_BREAKS), _saver(document))


def parse_pptx(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> OfficeDocument:
    import pptx

    presentation = _open(data, limits, pptx.Presentation, "PowerPoint (.pptx)")

    def trees() -> Iterator[Any]:
        for slide in presentation.slides:
            yield slide.shapes._spTree
            if slide.has_notes_slide:
                yield slide.notes_slide.shapes._spTree

    return OfficeDocument(_paragraphs(trees(), A, _SLIDE_BREAKS), _saver(presentation))


# ODF: text lives in the .text and .tail of a paragraph and its spans, so a run reads and writes one of those.
_ODF_BREAKS = frozenset({"tab", "line-break", "note", "bookmark-ref", "reference-ref", "frame", "soft-page-break",
                         "annotation", "sequence", "page-number", "date", "time"})  # fmt: skip
_ODF_INLINE = frozenset({"span", "a", "bookmark", "bookmark-start", "bookmark-end", "reference-mark",
                         "reference-mark-start", "reference-mark-end", "change-start", "change-end"})  # fmt: skip
STYLE_NAME = f"{{{TEXT}}}style-name"


def _odf_text(element: Any, attribute: str, style: str) -> Run:
    def get() -> str:
        return getattr(element, attribute) or ""

    def set_text(text: str) -> None:
        setattr(element, attribute, text)

    return Run(style, get, set_text)


def _odf_space(element: Any, style: str) -> Run:
    """``<text:s text:c="n"/>`` is n spaces of text (LibreOffice and odfdo write edge and repeated spaces so);
    emptied, it becomes an empty ``<text:span/>`` (its tail, the text after it, stays attached)."""

    def get() -> str:
        return " " * int(element.get(f"{{{TEXT}}}c", "1")) if element.tag == f"{{{TEXT}}}s" else ""

    def set_text(text: str) -> None:
        if not text:
            element.tag = f"{{{TEXT}}}span"
            element.attrib.clear()
        elif text != get():
            raise ValueError("a translation is never written into a space element")

    return Run(style, get, set_text)


def _odf_runs(element: Any, style: str, runs: list[Run | None]) -> None:
    """``element``'s text and its children's, in order (spans and links recursed into)."""
    if element.text:
        runs.append(_odf_text(element, "text", style))
    for child in element:
        if not isinstance(child.tag, str):
            if child.tail:
                runs.append(_odf_text(child, "tail", style))
            continue
        local = etree.QName(child).localname
        if etree.QName(child).namespace == TEXT and local == "s":
            runs.append(_odf_space(child, style))
        elif etree.QName(child).namespace == TEXT and local in _ODF_INLINE:
            inner = style
            if local == "span":
                inner = f"{style}>{child.get(STYLE_NAME, '')}"
            elif local == "a":
                inner = f"{style}>a:{id(child)}"
            _odf_runs(child, inner, runs)
        else:
            runs.append(BREAK)  # a tab, a break, a note, a frame: its own paragraphs are found by the walk
        if child.tail:
            runs.append(_odf_text(child, "tail", style))


def parse_odf(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> OfficeDocument:
    import odfdo

    document = _open(data, limits, odfdo.Document, "OpenDocument (.odt/.odp)")
    body = document.body._xml_element
    paragraphs = Paragraphs()
    for element in body.iter(f"{{{TEXT}}}p", f"{{{TEXT}}}h"):
        runs: list[Run | None] = []
        _odf_runs(element, "", runs)
        paragraphs.add(runs)
    return OfficeDocument(paragraphs, _saver(document))
