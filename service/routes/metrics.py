"""``GET /metrics``: Prometheus text exposition of this app's registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from service.metrics import CONTENT_TYPE
from service.state import AppState, get_state

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(state: Annotated[AppState, Depends(get_state)]) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
