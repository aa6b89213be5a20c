"""``POST /translate/file``: a file in, the same file translated out (catalogs, subtitles, text, office).

Thin on purpose: read the form, parse the options, hand the bytes to ``service.documents`` with a
``translate_segments`` built on the pipeline (the batcher, memories and the caller's quota), answer the bytes.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from starlette.datastructures import UploadFile as Upload

from service.auth.deps import require_caller
from service.auth.guard import Caller
from service.documents import FileOptions, Limits, Segment, media_type, output_filename, translate_document
from service.documents.base import FileTooLarge
from service.documents.bridge import detect_source, memory_pairs, pipeline_segments
from service.errors import error_body
from service.fewshot.memories import Memories
from service.pipeline import TranslationPipeline
from service.schemas import AUTO
from service.settings import Settings
from service.state import AppState, get_pipeline, get_state

router = APIRouter(tags=["files"])

_ERROR = {"content": {"application/json": {"example": error_body("unsupported_format", "...")}}}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 one (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


async def read_upload(file: Upload, settings: Settings) -> bytes:
    """The upload's bytes, refused past ``XLT_MAX_FILE_BYTES`` without reading the rest."""
    data = await file.read(settings.max_file_bytes + 1)
    if len(data) > settings.max_file_bytes:
        raise FileTooLarge(f"the file has more than {settings.max_file_bytes} bytes (XLT_MAX_FILE_BYTES)")
    return data


async def translate_upload(
    data: bytes,
    filename: str,
    *,
    source: str,
    target: str,
    model: str | None,
    memory: str | None,
    options: FileOptions,
    caller: Caller,
    pipeline: TranslationPipeline,
    settings: Settings,
    memories: Memories | None = None,
) -> bytes:
    """The translated file; the caller's quota is charged with the characters actually sent. With ``memory`` and
    ``options.store``, the plain segments' translations are written to the memory flagged unreviewed (an entry a
    person wrote is kept), as jobs do."""
    translate = pipeline_segments(
        pipeline,
        source=source.strip().lower() or AUTO,
        target=target.strip().lower(),
        model=model or None,
        memory=memory or None,
        scope=caller.memory_scope,
        max_text_chars=settings.max_text_chars,
        chunk=min(32, settings.max_items),
    )

    async def charged(segments: list[Segment]) -> list[str | None]:
        async with caller.charge(sum(len(s.text) for s in segments)):
            results = await translate(segments)
        if options.store and memory and memories is not None:
            pairs = memory_pairs(segments, results, settings.max_text_chars)
            if pairs:
                src = source.strip().lower()
                if src == AUTO:
                    src = await detect_source(pipeline, segments, model=model or None)
                store = memories.add
                await asyncio.to_thread(
                    store, memory, src, target.strip().lower(), pairs, caller.memory_scope, reviewed=False
                )
        return results

    return await translate_document(
        data, filename, options, source, target.strip().lower(), charged, Limits.from_settings(settings)
    )


@router.post(
    "/translate/file",
    response_class=Response,
    responses={
        200: {"description": "the translated file", "content": {"application/octet-stream": {"example": "..."}}},
        **{s: {"description": d, **_ERROR} for s, d in [
            (401, "unauthorized"), (404, "model_not_found, memory_not_found"),
            (413, "file_too_large, payload_too_large"), (415, "unsupported_format"),
            (422, "invalid_file, unsafe_file, invalid_encoding, invalid_request, unsupported_language"),
            (429, "overloaded, rate_limited, quota_exceeded"), (503, "not_ready"), (504, "timeout"),
        ]},
    },
)  # fmt: skip
async def translate_file(
    file: Annotated[UploadFile, File(description="the file; its extension picks the format")],
    target: Annotated[str, Form(min_length=1, max_length=16, description="ISO 639-1 code")],
    caller: Annotated[Caller, Depends(require_caller)],
    pipeline: Annotated[TranslationPipeline, Depends(get_pipeline)],
    state: Annotated[AppState, Depends(get_state)],
    source: Annotated[str, Form(max_length=16, description='ISO 639-1 code, or "auto"')] = AUTO,
    model: Annotated[str | None, Form(max_length=64)] = None,
    memory: Annotated[str | None, Form(max_length=64, description="translation memory id")] = None,
    options: Annotated[
        str | None,
        Form(description='JSON: {"overwrite": false, "mark_fuzzy": true, "store": false} (store: with a memory)'),
    ] = None,
) -> Response:
    """Translate a file, keeping its format: .po/.pot, .xlf/.xliff (1.2, 2.0), .srt, .vtt, .txt, .md, .html,
    .docx, .pptx, .odt, .odp. Catalogs: untranslated units only unless ``overwrite``; machine output marked
    fuzzy / needs-review unless ``mark_fuzzy`` is false."""
    parsed = FileOptions.parse(options)
    filename = file.filename or "file"
    data = await read_upload(file, state.settings)
    out = await translate_upload(
        data,
        filename,
        source=source,
        target=target,
        model=model,
        memory=memory,
        options=parsed,
        caller=caller,
        pipeline=pipeline,
        settings=state.settings,
        memories=state.memories,
    )
    name = output_filename(filename, target.strip().lower())
    return Response(out, media_type=media_type(name), headers={"Content-Disposition": content_disposition(name)})
