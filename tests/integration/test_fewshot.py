"""Few-shot, memories, pivot and hot reload on the tiny real model (random weights: behaviour, not quality)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.engines.base import DecodeOptions, Hypothesis
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from service.settings import Settings
from tests.integration.conftest import Server
from tests.unit.conftest import serve_in_process


class RecordingEngine(CTranslate2Engine):
    """The real engine, recording the exact source tokens and targets handed to it."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        super().__init__(folder, manifest, device="cpu", intra_threads=1)
        self.sources: list[list[str]] = []
        self.targets: list[str] = []

    def translate_batch(
        self, sources: Sequence[list[str]], targets: Sequence[str], options: DecodeOptions, max_batch_tokens: int
    ) -> list[Hypothesis]:
        self.sources += [list(s) for s in sources]
        self.targets += list(targets)
        return super().translate_batch(sources, targets, options, max_batch_tokens)


def settings(models_dir: Path, data_dir: Path, **overrides: Any) -> Settings:
    base = {"language_detection": False, "max_decoding_length": 12, "device": "cpu", "data_dir": data_dir}
    return Settings(models_dir=models_dir, **(base | overrides))  # type: ignore[arg-type]


def pieces(folder: Path, text: str) -> list[str]:
    import sentencepiece as spm

    encoded: list[str] = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model")).encode(
        text, out_type=str
    )
    return encoded


async def test_examples_change_exactly_the_engine_input(tiny_models_dir: Path, tmp_path: Path) -> None:
    engines: list[RecordingEngine] = []

    def loader(folder: Path, manifest: Manifest) -> RecordingEngine:
        engines.append(RecordingEngine(folder, manifest))
        return engines[-1]

    folder = tiny_models_dir / "tiny"
    text, ex_src, ex_tgt = "The house is small.", "The dog is near the river.", "Der Hund ist am Fluss."
    app = create_app(settings(tiny_models_dir, tmp_path), engine_loader=loader)
    async with serve_in_process(app) as client:
        plain = await client.post("/translate", json={"text": text, "source": "en", "target": "de"})
        assert plain.status_code == 200, plain.text
        (engine,) = engines
        assert engine.sources == [[*pieces(folder, text), "</s>"]]  # no examples: exactly today's input
        body = {"text": text, "source": "en", "target": "de", "examples": [{"source": ex_src, "target": ex_tgt}]}
        shot = await client.post("/translate", json=body)
        assert shot.status_code == 200, shot.text
        assert engine.sources[1] == [
            "<ex>", *pieces(folder, ex_src), "<to>", *pieces(folder, ex_tgt), "<sep>", *pieces(folder, text), "</s>",
        ]  # fmt: skip
        out = shot.json()["translations"][0]["text"]
        assert not any(symbol in out for symbol in ("<ex>", "<to>", "<sep>", "<2de>"))


async def test_memory_and_pivot_on_the_real_engine(tiny_models_dir: Path, tmp_path: Path) -> None:
    engines: list[RecordingEngine] = []

    def loader(folder: Path, manifest: Manifest) -> RecordingEngine:
        engines.append(RecordingEngine(folder, manifest))
        return engines[-1]

    app = create_app(settings(tiny_models_dir, tmp_path), engine_loader=loader)
    async with serve_in_process(app) as client:
        memory_id = (await client.post("/memories", json={"name": "m"})).json()["id"]
        pairs = [{"source": "The red house is big.", "target": "Das rote Haus ist groß."}]
        await client.post(
            f"/memories/{memory_id}/entries", json={"source_lang": "en", "target_lang": "de", "pairs": pairs}
        )
        body = {"text": ["The red house is big.", "The blue house is big."], "source": "en", "target": "de"}
        out = (await client.post("/translate", json=body | {"memory": memory_id})).json()["translations"]
        assert (out[0]["origin"], out[0]["text"]) == ("memory", "Das rote Haus ist groß.")
        (engine,) = engines
        assert len(engine.sources) == 1 and engine.sources[0][0] == "<ex>" and "<sep>" in engine.sources[0]

        pivot = await client.post(
            "/translate", json={"text": "Das Haus ist klein.", "source": "de", "target": "fr", "strategy": "pivot"}
        )
        (t,) = pivot.json()["translations"]
        assert (t["via"], t["zero_shot"]) == ("en", True) and engine.targets[-2:] == ["en", "fr"]


async def test_reload_under_load_drops_no_request(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir / "tiny", models / "tiny")
    app = create_app(settings(models, tmp_path / "data", max_wait_ms=2))
    statuses: list[int] = []
    warmed, reloaded = asyncio.Event(), asyncio.Event()
    async with serve_in_process(app) as client:

        async def worker(i: int) -> None:
            after = 0
            while after < 3:  # keep sending until three answers arrived after the reload
                body = {"text": [f"The dog {i} is near the house.", "We see a garden."], "source": "en", "target": "fr"}
                response = await client.post("/translate", json=body)
                statuses.append(response.status_code)
                if reloaded.is_set():
                    after += 1
                else:
                    warmed.set()

        async def swap() -> dict[str, Any]:
            await warmed.wait()  # requests are flowing
            manifest = Manifest.load(models / "tiny")
            manifest.model_copy(update={"description": "reloaded"}).save(models / "tiny")
            response = await client.post("/models/reload")
            reloaded.set()
            result: dict[str, Any] = response.json()
            return result

        *_, result = await asyncio.gather(*(worker(i) for i in range(4)), swap())
        assert result["updated"] == ["tiny"], result
        assert statuses and set(statuses) == {200}, statuses
        assert (await client.get("/models")).json()["models"][0]["description"] == "reloaded"
        assert (await client.get("/health/ready")).status_code == 200


@pytest.mark.parametrize("strategy", ["direct", "auto"])
async def test_zero_shot_strategies_answer(tiny_models_dir: Path, tmp_path: Path, strategy: str) -> None:
    pytest.importorskip("langid")
    app = create_app(settings(tiny_models_dir, tmp_path, language_detection=True, off_target_min_chars=1))
    async with serve_in_process(app) as client:
        body = {
            "text": "Das Haus ist klein und der Garten ist grün.",
            "source": "de",
            "target": "fr",
            "strategy": strategy,
        }
        response = await client.post("/translate", json=body)
        assert response.status_code == 200, response.text
        (t,) = response.json()["translations"]
        assert t["zero_shot"] is True and t.get("via") in (None, "en")
        metrics = (await client.get("/metrics")).text
        assert 'xlt_zero_shot_requests_total{model="tiny"} 1.0' in metrics
        if t.get("via") == "en":  # the random model went off-target: the fallback was counted
            assert 'xlt_pivot_fallbacks_total{model="tiny"} 1.0' in metrics


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_a_running_server(server: Server) -> None:
    """Under real uvicorn, SIGHUP reloads (here: nothing changed) instead of ending the process."""

    def reloads() -> float:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
        return sum(s.value for s in samples if s.name == "xlt_model_reloads_total" and s.labels["result"] == "ok")

    before = reloads()
    server.process.send_signal(signal.SIGHUP)
    for _ in range(300):  # bounded wait for the background reload
        if reloads() > before:
            break
        time.sleep(0.05)
    assert reloads() == before + 1
    assert server.process.poll() is None
    assert httpx.get(f"{server.url}/health/ready", timeout=10).json()["models"] == ["tiny"]
