"""Fixtures shared by the integration and e2e tiers: the tiny real engine, built once per session.

The model is built from a ``transformers`` config with random weights and converted with the real CTranslate2
converter (see ``tests/tiny_model.py``); it needs torch and transformers, so tests using it skip without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<tmp>/models/tiny``: a servable engine folder with a random-weight int8 Marian."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("xlt")
    build_tiny_model(root / "models" / "tiny", root / "work")
    return root / "models"
