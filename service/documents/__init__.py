"""Files translated with their format kept: localization catalogs, subtitles, text and markup, office documents.

``parse_document`` picks the format from the file name's extension; ``translate_document`` parses, sends the
segments through the caller's ``translate_segments`` (built on the ``TranslationPipeline``) and renders.
"""

from service.documents.base import (
    DocumentError,
    FileOptions,
    Limits,
    ParsedDocument,
    Reviewed,
    Segment,
    TranslateSegments,
)
from service.documents.registry import (
    EXTENSIONS,
    media_type,
    output_filename,
    parse_document,
    translate_document,
)

__all__ = [
    "EXTENSIONS",
    "DocumentError",
    "FileOptions",
    "Limits",
    "ParsedDocument",
    "Reviewed",
    "Segment",
    "TranslateSegments",
    "media_type",
    "output_filename",
    "parse_document",
    "translate_document",
]
