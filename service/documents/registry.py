"""Extension -> format module, and the one parse / translate / render sequence every caller uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import PurePath

from service.documents.base import (
    DocumentError,
    FileOptions,
    FileTooLarge,
    InvalidFile,
    Limits,
    ParsedDocument,
    TranslateSegments,
    UnsupportedFormat,
)

Parser = Callable[[bytes, FileOptions, str, str, Limits], ParsedDocument]

# extension -> ("module under service.documents[:its parse function, default parse]", media type). Modules are
# imported on first use: the office libraries cost start-up time and memory that a text-only deployment need not pay.
EXTENSIONS: dict[str, tuple[str, str]] = {
    ".po": ("gettext", "text/x-gettext-translation"),
    ".pot": ("gettext", "text/x-gettext-translation"),
    ".xlf": ("xliff", "application/xliff+xml"),
    ".xliff": ("xliff", "application/xliff+xml"),
    ".srt": ("subtitles:parse_srt", "application/x-subrip"),
    ".vtt": ("subtitles:parse_vtt", "text/vtt"),
    ".txt": ("text:parse_txt", "text/plain; charset=utf-8"),
    ".html": ("text:parse_html", "text/html"),
    ".htm": ("text:parse_html", "text/html"),
    ".md": ("markdown", "text/markdown; charset=utf-8"),
    ".markdown": ("markdown", "text/markdown; charset=utf-8"),
    ".docx": ("office:parse_docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".pptx": ("office:parse_pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ".odt": ("office:parse_odf", "application/vnd.oasis.opendocument.text"),
    ".odp": ("office:parse_odf", "application/vnd.oasis.opendocument.presentation"),
}


def _extension(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UnsupportedFormat(f"unsupported file type {suffix or '(none)'!r}; supported: {known}")
    return suffix


def media_type(filename: str) -> str:
    return EXTENSIONS.get(PurePath(filename).suffix.lower(), ("", "application/octet-stream"))[1]


def output_filename(filename: str, target: str) -> str:
    """``guide.de.docx`` for ``guide.docx``; a ``.pot`` template becomes the target's ``.po`` catalog."""
    path = PurePath(PurePath(filename).name or "file")
    suffix = ".po" if path.suffix.lower() == ".pot" else path.suffix
    return f"{path.stem}.{target}{suffix}"


def _parser(extension: str) -> Parser:
    import importlib

    name, _, function = EXTENSIONS[extension][0].partition(":")
    module = importlib.import_module(f"service.documents.{name}")
    parser: Parser = getattr(module, function or "parse")
    return parser


def parse_document(
    data: bytes, filename: str, options: FileOptions, source: str, target: str, limits: Limits | None = None
) -> ParsedDocument:
    """Pick the format from ``filename``'s extension and parse ``data``; raises a ``DocumentError``."""
    limits = limits or Limits()
    extension = _extension(filename)
    if len(data) > limits.max_file_bytes:
        raise FileTooLarge(f"the file has {len(data)} bytes; at most {limits.max_file_bytes}")
    try:
        document = _parser(extension)(data, options, source, target, limits)
    except DocumentError as exc:  # the message names the file, then the line or part where it went wrong
        raise type(exc)(f"{PurePath(filename).name}: {exc.message}") from None
    if len(document.segments) > limits.max_segments:
        raise InvalidFile(f"the file has {len(document.segments)} segments; at most {limits.max_segments}")
    return document


async def translate_document(
    data: bytes,
    filename: str,
    options: FileOptions,
    source: str,
    target: str,
    translate_segments: TranslateSegments,
    limits: Limits | None = None,
) -> bytes:
    """Parse (in a thread: the libraries are synchronous), translate every segment, render (in a thread)."""
    document = await asyncio.to_thread(parse_document, data, filename, options, source, target, limits)
    translations = await translate_segments(list(document.segments)) if document.segments else []
    return await asyncio.to_thread(document.render, translations)
