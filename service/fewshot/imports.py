"""Translation-memory files into entry pairs: TSV (``source<TAB>target`` per line) and TMX 1.4.

Why strict: an import is all or nothing, and a bad line is reported with its number (``invalid_import``)
instead of being skipped silently. TMX inline codes (``<bpt>``, ``<ept>``, ``<ph>``, ``<it>``) are markup of
the original document, not text to translate: their content is left out. ElementTree resolves no external
entities and expat >= 2.4.1 refuses entity expansion bombs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from service.errors import InvalidImport

Pairs = dict[tuple[str, str], list[tuple[str, str]]]

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_INLINE_CODES = {"bpt", "ept", "ph", "it"}
_LANG = re.compile(r"^[a-z]{2}$")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidImport(f"the file is not UTF-8 (byte {exc.start})") from exc


def _check(where: str, source: str, target: str, max_chars: int) -> None:
    if not source.strip() or not target.strip():
        raise InvalidImport(f"{where}: empty source or target")
    if len(source) > max_chars or len(target) > max_chars:
        raise InvalidImport(f"{where}: longer than {max_chars} characters")


def parse_tsv(data: bytes, source_lang: str, target_lang: str, max_chars: int) -> Pairs:
    """One pair per non-blank line, exactly two tab-separated fields."""
    pairs: list[tuple[str, str]] = []
    for n, line in enumerate(_decode(data).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise InvalidImport(f"line {n}: expected 2 tab-separated fields, found {len(fields)}")
        _check(f"line {n}", fields[0], fields[1], max_chars)
        pairs.append((fields[0].strip(), fields[1].strip()))
    return {(source_lang, target_lang): pairs} if pairs else {}


def _code(value: str) -> str | None:
    """A language tag reduced to an ISO 639-1 code: ``en-US`` -> ``en``; None when it has none."""
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if _LANG.match(code) else None


def _lang(tuv: ET.Element) -> str | None:
    return _code(tuv.get(_XML_LANG) or tuv.get("lang") or "")  # xml:lang, or TMX 1.1's lang


def _text(seg: ET.Element) -> str:
    parts = [seg.text or ""]
    for child in seg:
        if child.tag not in _INLINE_CODES:
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return "".join(parts).strip()


def parse_tmx(data: bytes, source_lang: str | None, target_lang: str | None, max_chars: int) -> Pairs:
    """Pairs from each ``<tu>``: its ``source_lang`` variant (default: the header's ``srclang``) to every other
    variant, or only to ``target_lang`` when given."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidImport(f"not a valid TMX file: {exc}") from exc
    if root.tag != "tmx":
        raise InvalidImport(f"not a TMX file: the root element is <{root.tag}>")
    header = root.find("header")
    if source_lang is None and header is not None:
        source_lang = _code(header.get("srclang", ""))
    if source_lang is None:
        raise InvalidImport("the TMX header has no usable srclang: give source_lang")
    out: Pairs = defaultdict(list)
    for n, tu in enumerate(root.iter("tu"), 1):
        variants: dict[str, str] = {}
        for tuv in tu.findall("tuv"):
            lang, seg = _lang(tuv), tuv.find("seg")
            if lang is not None and seg is not None:
                variants.setdefault(lang, _text(seg))
        source = variants.get(source_lang)
        if not source:
            continue
        for lang, target in variants.items():
            if lang == source_lang or (target_lang is not None and lang != target_lang) or not target:
                continue
            _check(f"tu {n}", source, target, max_chars)
            out[(source_lang, lang)].append((source, target))
    return dict(out)
