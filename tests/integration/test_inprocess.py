"""The real tiny engine and a fake engine served side by side by one in-process app."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app import create_app
from service.client import Translation
from service.local import LocalTranslator
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import serve_in_process


def settings(models_dir: Path, **overrides: object) -> Settings:
    base = {"language_detection": False, "max_decoding_length": 16, "device": "cpu", "default_model": "tiny"}
    return Settings(models_dir=models_dir, **(base | overrides))  # type: ignore[arg-type]


async def test_fake_beside_real(tiny_models_dir: Path) -> None:
    app = create_app(settings(tiny_models_dir), extra_engines=[FakeEngine()])
    async with serve_in_process(app) as client:
        models = (await client.get("/models")).json()
        assert [m["name"] for m in models["models"]] == ["fake", "tiny"] and models["default"] == "tiny"
        real = await client.post("/translate", json={"text": ["One. Two.", "Three"], "source": "en", "target": "de"})
        assert [t["model"] for t in real.json()["translations"]] == ["tiny", "tiny"]
        body = {"text": "a b", "source": "en", "target": "de", "model": "fake"}
        fake = await client.post("/translate", json=body)
        assert fake.json()["translations"][0]["text"] == "de:a de:b"


async def test_unbatched_mode_on_the_real_engine(tiny_models_dir: Path) -> None:
    app = create_app(settings(tiny_models_dir, batching=False))
    async with serve_in_process(app) as client:
        response = await client.post("/translate", json={"text": ["a", "b"], "source": "fr", "target": "en"})
        assert response.status_code == 200 and len(response.json()["translations"]) == 2
        metrics = (await client.get("/metrics")).text
        assert 'xlt_batch_size_examples_count{model="tiny"} 1.0' in metrics  # one call per request


async def test_the_local_translator_answers_with_the_clients_types(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XLT_MAX_DECODING_LENGTH", "16")
    monkeypatch.setenv("XLT_DEVICE", "cpu")
    monkeypatch.setenv("XLT_OFF_TARGET_MIN_CHARS", "1")  # the tiny model's outputs are short
    async with LocalTranslator(tiny_models_dir / "tiny") as xlt:
        [trained] = await xlt.translate("The house is small.", "de", "en")
        [zero_shot] = await xlt.translate("Das Haus ist klein und alt, sehr alt.", "fr", "de")
    assert isinstance(trained, Translation) and trained.alternatives == () and trained.via is None
    assert trained.off_target is None and not trained.zero_shot  # trained directions are not judged
    assert zero_shot.zero_shot and isinstance(zero_shot.off_target, bool)  # auto judged it
