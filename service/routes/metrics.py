"""``GET /metrics``: Prometheus text exposition of this app's registry, behind ``XLT_METRICS_TOKEN`` when set."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from service.errors import Unauthorized
from service.metrics import CONTENT_TYPE
from service.state import AppState, get_state

router = APIRouter(tags=["metrics"])


async def check_token(request: Request, state: Annotated[AppState, Depends(get_state)]) -> None:
    """With a token set, scrapes must send ``Authorization: Bearer <token>`` (compared in constant time)."""
    token = state.settings.metrics_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode()):
        raise Unauthorized("GET /metrics needs `Authorization: Bearer <XLT_METRICS_TOKEN>`")


@router.get("/metrics", response_class=Response, include_in_schema=False, dependencies=[Depends(check_token)])
async def metrics(state: Annotated[AppState, Depends(get_state)]) -> Response:
    state.publish_ready()
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
