"""No request goes through AnyIO's thread pool: every route and dependency is a coroutine.

Why: FastAPI runs a plain ``def`` dependency or endpoint in AnyIO's worker threads, a thread hop (and a GIL
handover) per request; under 64 clients the profile of ``xlt serve`` showed up to 40 such threads. Blocking work
the app does need (SQLite, language id) goes through ``asyncio.to_thread`` where it is called, on purpose.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from service.app import create_app
from service.settings import Settings
from tests.unit.conftest import AppClient


def _is_coroutine(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, into included routers (FastAPI keeps them as branches) and mounts."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(router.routes)
        else:
            yield from _api_routes(getattr(route, "routes", []))


def test_every_route_and_dependency_is_a_coroutine(tmp_path: Path) -> None:
    app = create_app(Settings(models_dir=tmp_path, data_dir=tmp_path / "data", language_detection=False))
    routes = list(_api_routes(app.routes))
    assert len(routes) > 20  # the whole API, not an empty app
    sync = sorted(
        {f"{r.path}: {getattr(c, '__qualname__', type(c).__name__)}" for r in routes for c in _calls(r.dependant)
         if not _is_coroutine(c)}
    )  # fmt: skip
    assert sync == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/translate", {"text": "hello world", "source": "en", "target": "de"}),
        ("/libretranslate/translate", {"q": "hello world", "source": "en", "target": "de"}),
    ],
)
async def test_translating_uses_no_worker_thread(
    app_client: AppClient, monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, str]
) -> None:
    """Counted where Starlette and FastAPI hand a call to a worker thread (``anyio.to_thread.run_sync``)."""
    handed: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(func, "__qualname__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    async with app_client() as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
        for _ in range(3):
            response = await client.post(path, json=body)
            assert response.status_code == 200, response.text
    assert handed == []
