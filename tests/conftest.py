"""Fixtures shared by the integration and e2e tiers: the tiny real engine, built once per session; and the end of
every run: the tests a missing system tool skipped (``tests/system_tools.py``).

The model is built from a ``transformers`` config with random weights and converted with the real CTranslate2
converter (see ``tests/tiny_model.py``); it needs torch and transformers, so tests using it skip without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import system_tools


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
