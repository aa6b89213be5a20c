"""Liveness and readiness probes (Kubernetes style)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.errors import NotReady
from service.schemas import Health
from service.state import AppState, get_state

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Health)
async def live() -> Health:
    """200 while the process serves HTTP at all."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"description": "not_ready"}})
async def ready(state: Annotated[AppState, Depends(get_state)]) -> Health:
    """200 once engines are loaded and their batchers run; 503 ``not_ready`` before and while draining."""
    reason = state.ready_reason()
    if reason is not None:
        raise NotReady(f"not ready: {reason}")
    return Health(status="ready", models=state.registry.names())
