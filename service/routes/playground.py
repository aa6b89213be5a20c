"""``GET /``: the playground page, and its script and style sheet under ``/static``.

Why plain files served by a router: no build step and no template engine; the page calls the native API like
any client. Only the files listed here are served (no path from the request reaches the file system), and
the page uses no inline script or style, so a strict Content-Security-Policy (``default-src 'self'``) holds.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate, so an upgraded server is never paired with a stale script

router = APIRouter(tags=["playground"])


@router.get(
    "/",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"example": "<!doctype html><html lang=en>...</html>"}}}},
)
async def playground() -> FileResponse:
    """The playground: type a text, pick the languages, see the translation, the detected language and latency."""
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=_NO_CACHE)


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(status_code=404, detail="no such static file")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=_NO_CACHE)
