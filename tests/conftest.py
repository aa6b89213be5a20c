"""Fixtures shared by the tiers: the tiny real engine and a throwaway PostgreSQL server, each started once per
session; and the end of every run: the tests a missing system tool skipped (``tests/system_tools.py``).

The model is built from a ``transformers`` config with random weights and converted with the real CTranslate2
converter (see ``tests/tiny_model.py``); it needs torch and transformers, so tests using it skip without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import system_tools
from tests.postgres_server import PostgresServer, create_schema, drop_schema, find_binaries
from tests.postgres_server import start as start_postgres


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """End the run with the tests a missing system tool skipped, and the package to install for each."""
    title, lines = system_tools.summary(terminalreporter.stats.get("skipped", []))
    if lines:
        terminalreporter.write_sep("=", title, yellow=True)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<tmp>/models/tiny``: a servable engine folder with a random-weight int8 Marian."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("xlt")
    build_tiny_model(root / "models" / "tiny", root / "work")
    return root / "models"


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
