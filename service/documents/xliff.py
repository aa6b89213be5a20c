"""XLIFF 1.2 and 2.0, read by translate-toolkit (``xliff.xlifffile``, ``xliff2.Xliff2File``).

Why translate-toolkit: the same library as the gettext catalogs, with one unit model for both XLIFF versions
(a 2.0 ``<segment>`` is a unit), the files' languages, ``translate="no"`` and notes. Inline codes (``<g>``,
``<x/>``, ``<pc>``, ``<ph/>``...) are kept as they are: a source with inline elements goes through the
pipeline's HTML mode, which translates only the text between them, and the result is parsed back into the
``<target>`` with lxml (translate-toolkit's safe parser settings; no DTD got this far). The tree is written back
with lxml around the file's own XML declaration, not re-indented.

Machine output is ``state="needs-review-translation"`` (1.2) or ``state="translated"`` with
``subState="xlt:needs-review"`` (2.0), unless ``mark_fuzzy`` is false (``translated``). A unit filled from a
reviewed memory entry is a person's translation: plain ``translated``, and a 1.2 ``approved="yes"`` stays. One
from an unreviewed entry needs review like machine output, and loses the approval when ``overwrite`` replaces it.
A unit whose placeholders or tags did not survive is written needing review anyway, with an ``xlt`` note saying
why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from translate.storage import xliff, xliff2

from service.documents.base import FileOptions, InvalidFile, Limits, Reviewed, Segment
from service.documents.placeholders import placeholder_problems
from service.documents.safety import check_xml

XLIFF2_NS = "urn:oasis:names:tc:xliff:document:2.0"
_ROOT_START = re.compile(rb"<(?![?!])")
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _child(element: Any, name: str) -> Any | None:
    for child in element:
        if isinstance(child.tag, str) and _local(child) == name:
            return child
    return None


def _insert_after(ref: Any, new: Any) -> None:
    """Insert ``new`` after ``ref`` with the same indentation as ``ref``."""
    before = ref.getprevious()
    indent = before.tail if before is not None else ref.getparent().text
    new.tail = ref.tail
    if indent is not None and not indent.strip():
        ref.tail = indent
    ref.addnext(new)


def _inner(element: Any) -> str:
    """The element's content as XML text, without its own tag (and so without namespace declarations)."""
    whole = etree.tostring(element, encoding="unicode", with_tail=False)
    if whole.endswith("/>"):
        return ""
    return whole[whole.index(">") + 1 : whole.rindex("</")]


@dataclass
class _Plan:
    unit: Any  # a translate-toolkit xliff unit; ``xmlelement`` is the 1.2 trans-unit or the 2.0 segment
    source: str
    markup: bool


@dataclass
class XliffDocument:
    store: Any
    version2: bool
    original: bytes
    options: FileOptions
    plans: list[_Plan] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def render(self, translations: Sequence[str | None]) -> bytes:
        if len(translations) != len(self.segments):
            raise ValueError(f"expected {len(self.segments)} translations, got {len(translations)}")
        for plan, text in zip(self.plans, translations, strict=True):
            if text is not None and text.strip():
                self._fill(plan, text)
        root = self.store.document.getroot()
        encoding = self.store.document.docinfo.encoding or "UTF-8"
        start = _ROOT_START.search(self.original)
        prolog = self.original[: start.start()] if start else b""
        body = etree.tostring(root, encoding=encoding, xml_declaration=False)
        return prolog + body + (b"\n" if self.original.endswith(b"\n") else b"")

    def _fill(self, plan: _Plan, text: str) -> None:
        element = plan.unit.xmlelement
        source = _child(element, "source")
        assert source is not None  # a plan is made only for units with a source
        namespace = etree.QName(source).namespace
        problems = placeholder_problems(plan.source, text)
        content: Any = None
        if plan.markup:
            try:
                content = etree.fromstring(f'<target xmlns="{namespace}">{text}</target>'.encode(), _SAFE)
            except etree.XMLSyntaxError as exc:
                self._note(plan, f"xlt: machine translation not written: its inline tags are broken ({exc})")
                return
        target = _child(element, "target")
        if target is None:
            target = etree.Element(etree.QName(namespace, "target"))
            _insert_after(source, target)
        for child in list(target):
            target.remove(child)
        if content is not None:
            target.text = content.text
            target.extend(list(content))
        else:
            target.text = text
        review = (self.options.mark_fuzzy and not isinstance(text, Reviewed)) or bool(problems)
        if self.version2:
            element.set("state", "translated")
            if review:
                element.set("subState", "xlt:needs-review")
            elif "subState" in element.attrib:
                del element.attrib["subState"]
        else:
            target.set("state", "needs-review-translation" if review else "translated")
            if review and element.get("approved") == "yes":  # a person's approval never covers machine output
                element.set("approved", "no")
        if problems:
            self._note(plan, "xlt: check the placeholders: " + "; ".join(problems))

    def _note(self, plan: _Plan, text: str) -> None:
        if not self.version2:  # 1.2: <note from="xlt"> last in the <trans-unit>
            unit = plan.unit.xmlelement
            note = etree.Element(etree.QName(etree.QName(unit).namespace, "note"), {"from": "xlt"})
            note.text = text
            _insert_after(unit[-1], note)
            return
        unit = plan.unit.xmlelement.getparent()  # 2.0: notes belong to the <unit>, before its segments
        namespace = etree.QName(unit).namespace
        notes = _child(unit, "notes")
        if notes is None:
            notes = etree.Element(etree.QName(namespace, "notes"))
            notes.tail = unit.text
            unit.insert(0, notes)
        note = etree.SubElement(notes, etree.QName(namespace, "note"), category="xlt")
        note.text = text


def _untranslated(element: Any) -> bool:
    target = _child(element, "target")
    return target is None or not "".join(target.itertext()).strip()


def parse(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> XliffDocument:
    check_xml(data)
    version2 = XLIFF2_NS.encode() in data[:4096]
    kind: Any = xliff2.Xliff2File if version2 else xliff.xlifffile
    try:
        store = kind.parsestring(data)
    except (etree.XMLSyntaxError, AssertionError, ValueError, KeyError, UnicodeError) as exc:
        raise InvalidFile(f"not a valid XLIFF {'2.0' if version2 else '1.2'} file: {exc}") from None
    store.settargetlanguage(target)
    document = XliffDocument(store, version2, data, options)
    for unit in store.units:
        element = unit.xmlelement
        src = _child(element, "source")
        if src is None or not unit.istranslatable() or not (options.overwrite or _untranslated(element)):
            continue
        if version2 and element.getparent().get("translate", "yes") == "no":
            continue
        markup = len(src) > 0
        text = _inner(src) if markup else (src.text or "")
        if not text.strip():
            continue
        document.plans.append(_Plan(unit, text, markup))
        document.segments.append(Segment(text, markup=markup))
    return document
