"""App fixtures for unit tests: an in-process app with fake engines, driven by ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEngine

AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (ASGITransport does not) and hand out a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
            yield client


@pytest.fixture
def app_client(tmp_path: Path) -> AppClient:
    """``async with app_client(engines=[...], **settings) as client``: an app with only fake engines."""

    @asynccontextmanager
    async def make(engines: list[FakeEngine] | None = None, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        overrides.setdefault("language_detection", False)
        overrides.setdefault("data_dir", tmp_path / "data")
        settings = Settings(models_dir=tmp_path, **overrides)
        app = create_app(settings, extra_engines=engines if engines is not None else [FakeEngine()])
        async with serve_in_process(app) as client:
            yield client

    return make
