"""The engines the repository ships are served under the names the README and clients use.

Why: a model's name comes from its manifest, not its folder. A candidate converted in a folder of its own
(``runs/cand-g4``) and copied to ``models/xlt-base`` kept the candidate's name, and ``"model": "xlt-base"``
would have been refused as an unknown model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engines.manifest import Manifest
from service.engines.registry import scan

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(p for p in MODELS.iterdir() if (p / "manifest.json").is_file())


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_each_shipped_model_is_named_after_its_folder(folder: Path) -> None:
    manifest = Manifest.load(folder)
    assert manifest.name == folder.name
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8").splitlines()[0]
    assert card == f"# {folder.name}"


def test_the_default_model_is_served_as_xlt_base() -> None:
    assert [manifest.name for _, manifest in scan(MODELS)] == ["xlt-base"]
