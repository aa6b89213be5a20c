"""What every document format offers the rest of the service: segments out, translations in, bytes back.

Why a protocol: the routes (``POST /translate/file``, ``/libretranslate/translate_file``), the background jobs and
the CLI all do the same thing with any format -- parse, send the segments through the one ``TranslationPipeline``
(so they share the dynamic batcher and the memories), render. A format module only knows its library; nothing
here knows about models, HTTP or the batcher.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from service.errors import (
    DocumentError,
    FileTooLarge,
    InvalidEncoding,
    InvalidFile,
    InvalidRequest,
    UnsafeFile,
    UnsupportedFormat,
)

__all__ = [
    "DocumentError",
    "FileOptions",
    "FileTooLarge",
    "InvalidEncoding",
    "InvalidFile",
    "Limits",
    "ParsedDocument",
    "Reviewed",
    "Segment",
    "TranslateSegments",
    "UnsafeFile",
    "UnsupportedFormat",
]


@dataclass(frozen=True)
class Segment:
    """One piece of text to translate. ``markup``: it carries inline tags (an HTML run, an XLIFF ``<g>``), so
    it goes through the pipeline's ``format: "html"`` mode, which translates the text nodes and keeps the tags."""

    text: str
    markup: bool = False


class Reviewed(str):
    """A segment's translation that a person wrote: an exact match on a reviewed memory entry.

    Why a ``str``: every format writes it as the text it is; only the catalogs look at the type, to write the
    unit as translated rather than fuzzy / needs-review (a reviewed entry is a human translation, not machine
    output). Anything made from it (a slice, a join) is a plain ``str`` again, so only a whole, untouched
    memory translation keeps the mark."""

    __slots__ = ()


@dataclass(frozen=True)
class FileOptions:
    """The multipart ``options`` JSON of a file request (and of a job). Model-agnostic on purpose.

    ``overwrite``: catalogs translate already translated units too (default: only the untranslated ones).
    ``mark_fuzzy``: machine output is flagged ``fuzzy`` (gettext) / ``needs-review-translation`` (XLIFF); so is
    a unit filled from a memory entry nobody reviewed (``store``'s), while one from a reviewed entry is not.
    ``store``: with a ``memory``, machine translations are written back as unreviewed entries.
    """

    overwrite: bool = False
    mark_fuzzy: bool = True
    store: bool = False

    @classmethod
    def parse(cls, raw: str | bytes | dict[str, Any] | None) -> FileOptions:
        """From the form field (JSON object text) or an already decoded dict; unknown keys are an error so that
        a typo never silently falls back to a default."""
        if raw is None or raw == "" or raw == b"":
            return cls()
        if isinstance(raw, str | bytes):
            try:
                raw = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidRequest(f"options: not a JSON object ({exc})") from None
        if not isinstance(raw, dict):
            raise InvalidRequest("options: not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidRequest(f"options: unknown key(s) {', '.join(map(repr, unknown))}; known: {sorted(known)}")
        for key, value in raw.items():
            if not isinstance(value, bool):
                raise InvalidRequest(f"options.{key}: must be true or false")
        return cls(**raw)


@dataclass(frozen=True)
class Limits:
    """What a file may cost before any library opens it. ``max_file_bytes`` is ``XLT_MAX_FILE_BYTES``; the zip
    limits refuse bombs by their central directory (entries, declared total size, compression ratio)."""

    max_file_bytes: int = 20 << 20
    max_zip_entries: int = 2000
    max_unzipped_bytes: int = 200 << 20
    max_zip_ratio: float = 200.0
    max_segments: int = 100_000

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """From ``XLT_MAX_FILE_BYTES`` and ``XLT_MAX_FILE_SEGMENTS``; an archive may unpack to 10x the file (and
        at least 200 MiB: a few pictures in a small document compress badly, text compresses ~10x)."""
        size = int(settings.max_file_bytes)
        return cls(
            max_file_bytes=size,
            max_unzipped_bytes=max(cls.max_unzipped_bytes, 10 * size),
            max_segments=int(settings.max_file_segments),
        )


class ParsedDocument(Protocol):
    """A parsed file. ``render`` gets one entry per segment, in order (``None``: leave that one untranslated),
    and does the format's own checks (catalog placeholders, fuzzy flags) before writing the bytes."""

    segments: list[Segment]

    def render(self, translations: Sequence[str | None]) -> bytes: ...


TranslateSegments = Callable[[list[Segment]], Awaitable[list[str | None]]]
