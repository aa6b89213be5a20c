"""``POST /detect``: the language of texts, among a model's languages (what ``source: "auto"`` would pick)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.auth.deps import require_caller
from service.auth.guard import Caller
from service.errors import error_body
from service.pipeline import TranslationPipeline
from service.schemas import DetectRequest, DetectResponse
from service.state import get_pipeline

router = APIRouter(tags=["translate"])

_ERROR = {"content": {"application/json": {"example": error_body("detection_unavailable", "...")}}}


@router.post(
    "/detect",
    response_model=DetectResponse,
    responses={s: {"description": d, **_ERROR} for s, d in [
        (400, "invalid_json"), (401, "unauthorized"), (404, "model_not_found"),
        (413, "payload_too_large, text_too_long, too_many_items"),
        (422, "invalid_request, empty_text, detection_unavailable"), (429, "rate_limited"), (503, "not_ready"),
    ]},
)  # fmt: skip
async def detect(
    request: DetectRequest,
    caller: Annotated[Caller, Depends(require_caller)],
    pipeline: Annotated[TranslationPipeline, Depends(get_pipeline)],
) -> DetectResponse:
    """Rank the model's languages for each text; confidences are probabilities (0-1) among those languages."""
    return await pipeline.detect(request)
