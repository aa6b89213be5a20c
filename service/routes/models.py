"""``POST /models/reload``: pick up new, changed and removed model folders without a restart (also on SIGHUP)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.auth.deps import require_admin
from service.errors import ReloadFailed
from service.reload import ModelReloader
from service.schemas import ReloadFailure, ReloadResponse
from service.state import get_reloader

router = APIRouter(prefix="/models", tags=["models"], dependencies=[Depends(require_admin)])


@router.post("/reload", response_model=ReloadResponse, responses={500: {"description": "reload_failed"}})
async def reload(reloader: Annotated[ModelReloader, Depends(get_reloader)]) -> ReloadResponse:
    """Load new and changed folders beside the running engines, swap them in, retire the old ones once their
    requests are done. A folder that fails to load keeps its previous version serving and is listed in
    ``failed``."""
    try:
        report = await reloader.reload()
    except OSError as exc:
        raise ReloadFailed(f"cannot read the models directory: {exc}") from exc
    return ReloadResponse(
        added=report.added,
        updated=report.updated,
        removed=report.removed,
        unchanged=report.unchanged,
        failed=[ReloadFailure(folder=f, error=e) for f, e in sorted(report.failed.items())],
        models=reloader.names(),
    )
