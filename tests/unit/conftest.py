"""App fixtures for unit tests: an in-process app with fake engines, driven by ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings
from tests import system_tools
from tests.fakes import FakeEngine
from tests.postgres_server import PostgresServer, create_schema, drop_schema, find_binaries
from tests.postgres_server import start as start_postgres

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session.

    Without the server binaries (a system tool) the tests that use it skip, or fail in CI; without the driver (dev
    extra) they fail.
    """
    binaries = system_tools.locate("the PostgreSQL server (initdb, postgres)", "postgresql", find_binaries)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("the PostgreSQL memory-store tests need the driver: pip install 'psycopg[binary]>=3.1'")
    server = start_postgres(binaries)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL for new, empty storage on the session's server (a schema of its own), dropped after the test."""
    name, url = create_schema(postgres_server)
    yield url
    drop_schema(postgres_server, name)
