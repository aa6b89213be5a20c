"""The real tiny engine and a fake engine served side by side by one in-process app."""

from __future__ import annotations

from pathlib import Path

from service.app import create_app
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
