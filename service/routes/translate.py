"""``POST /translate``: the native translation endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.auth.deps import require_caller
from service.auth.guard import Caller
from service.errors import error_body
from service.pipeline import TranslationPipeline
from service.schemas import TranslateRequest, TranslateResponse
from service.state import get_pipeline

router = APIRouter(tags=["translate"])

_ERROR = {"content": {"application/json": {"example": error_body("unsupported_language", "...")}}}


@router.post(
    "/translate",
    response_model=TranslateResponse,
    response_model_exclude_none=True,
    responses={s: {"description": d, **_ERROR} for s, d in [
        (400, "invalid_json"), (401, "unauthorized"), (404, "model_not_found, memory_not_found"),
        (413, "payload_too_large, text_too_long, too_many_items, too_many_examples, example_too_long"),
        (422, "invalid_request, empty_text, unsupported_language, unsupported_direction, "
              "detection_unavailable, few_shot_unsupported, invalid_memory_id"),
        (429, "overloaded, rate_limited, quota_exceeded (see Retry-After)"), (500, "engine_error"),
        (503, "not_ready, store_unavailable"), (504, "timeout"),
    ]},
)  # fmt: skip
async def translate(
    request: TranslateRequest,
    caller: Annotated[Caller, Depends(require_caller)],
    pipeline: Annotated[TranslationPipeline, Depends(get_pipeline)],
) -> TranslateResponse:
    """Translate one text or a list of texts; one translation per input, in order."""
    async with caller.charge(sum(len(text) for text in request.texts())):  # the key's daily characters
        return await pipeline.translate(request, caller.memory_scope)
