"""Checks a file passes before any format library opens it: its text encoding, its XML, its zip container.

Why before: the libraries (lxml under translate-toolkit, python-docx, python-pptx, odfdo) trust their input.
A zip bomb is refused from the central directory alone (entry count, declared total size, per-entry ratio), and
Python's ``zipfile`` never inflates an entry past its declared size, so the libraries that read the archive
afterwards are bounded by what was checked here. XML with a DTD is refused outright by ``defusedxml``: no
localization or office format needs one, and a DTD is where billion-laughs and external entities live.
"""

from __future__ import annotations

import codecs
import io
import zipfile
import zlib
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException

from service.documents.base import InvalidEncoding, InvalidFile, Limits, UnsafeFile

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_XML_SUFFIXES = (".xml", ".rels", ".xliff", ".xlf")
_RATIO_FROM_BYTES = 1 << 20  # below this, a high ratio (a page of spaces) costs nothing


def decode_text(data: bytes, encoding: str = "utf-8") -> tuple[str, str, bytes]:
    """``(text, encoding, bom)``: a BOM wins over ``encoding``; undecodable bytes are ``invalid_encoding``."""
    bom = b""
    for mark, name in _BOMS:
        if data.startswith(mark):
            bom, encoding = mark, name
            break
    try:
        return data[len(bom) :].decode(encoding), encoding, bom
    except LookupError:
        raise InvalidEncoding(f"unknown text encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = data[: len(bom) + exc.start].count(b"\n") + 1
        raise InvalidEncoding(
            f"the file is not valid {encoding} (line {line}, byte {len(bom) + exc.start}); save it as UTF-8"
        ) from None


def check_xml(data: bytes, name: str = "the file") -> None:
    """Refuse XML with a DTD (entities: billion laughs, external files and URLs); malformed XML is invalid."""
    try:
        defusedxml.ElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeFile(f"{name}: XML with a DTD or entities is refused ({type(exc).__name__})") from None
    except ParseError as exc:
        raise InvalidFile(f"{name} is not well-formed XML: {exc}") from None


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a corrupt archive or a bomb, then check each XML part inside as ``check_xml`` does."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidFile(f"not a valid zip archive (office documents are zips): {exc}") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_zip_entries:
            raise UnsafeFile(f"the archive has {len(entries)} entries; at most {limits.max_zip_entries}")
        total = sum(e.file_size for e in entries)
        if total > limits.max_unzipped_bytes:
            raise UnsafeFile(f"the archive unpacks to {total} bytes; at most {limits.max_unzipped_bytes}")
        for entry in entries:
            ratio = entry.file_size / max(1, entry.compress_size)
            if entry.file_size > _RATIO_FROM_BYTES and ratio > limits.max_zip_ratio:
                raise UnsafeFile(
                    f"{entry.filename!r} is compressed {ratio:.0f}:1; at most {limits.max_zip_ratio:.0f}:1"
                )
        for entry in entries:
            if entry.filename.lower().endswith(_XML_SUFFIXES):
                try:
                    part = archive.read(entry)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError) as exc:
                    raise InvalidFile(f"cannot read {entry.filename!r} in the archive: {exc}") from None
                if part.strip():  # some writers leave empty placeholder parts
                    check_xml(part, repr(entry.filename))
