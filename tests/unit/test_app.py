"""The app in-process with fake engines: shapes, order, zero-shot flags, listings, probes, metrics."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient, serve_in_process
from tests.unit.test_errors import assert_error


async def test_translate_one_text(app_client: AppClient) -> None:
    async with app_client() as client:
        response = await client.post("/translate", json={"text": "hello world", "source": "en", "target": "de"})
    assert response.status_code == 200
    assert response.json() == {
        "translations": [
            {
                "text": "de:hello de:world",
                "source": "en",
                "target": "de",
                "model": "fake",
                "zero_shot": False,
                "origin": "model",
            }
        ]
    }


async def test_translate_list_keeps_order_and_splits_sentences(app_client: AppClient) -> None:
    texts = ["First one. Second one!", "solo", "Para one.\n\nPara two?"]
    async with app_client() as client:
        response = await client.post("/translate", json={"text": texts, "source": "en", "target": "fr"})
    out = [t["text"] for t in response.json()["translations"]]
    assert out == ["fr:First fr:one. fr:Second fr:one!", "fr:solo", "fr:Para fr:one.\n\nfr:Para fr:two?"]


async def test_zero_shot_flag_and_scores(app_client: AppClient) -> None:
    async with app_client() as client:
        body = {"text": ["a. b.", "c"], "source": "de", "target": "fr", "options": {"return_scores": True}}
        response = await client.post("/translate", json=body)
    for t in response.json()["translations"]:
        assert t["zero_shot"] is True and t["score"] == pytest.approx(-0.5)


async def test_request_options_reach_the_engine(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine], beam_size=2, max_decoding_length=64) as client:
        await client.post("/translate", json={"text": "a", "source": "en", "target": "de"})
        body = {"text": "a", "source": "en", "target": "de", "options": {"beam_size": 4, "max_length": 10}}
        await client.post("/translate", json=body)
    assert [(c.options.beam_size, c.options.max_length) for c in engine.calls] == [(2, 64), (4, 10)]


async def test_alternatives_come_from_a_widened_beam(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine], beam_size=2) as client:
        body = {"text": ["One. Two.", "en words"], "source": "en", "target": "de", "options": {"alternatives": 2}}
        out = (await client.post("/translate", json=body)).json()["translations"]
        plain = (await client.post("/translate", json={"text": "x", "source": "en", "target": "de"})).json()
        too_many = await client.post("/translate", json={**body, "options": {"alternatives": 11}})
    assert out[0]["text"] == "de:One. de:Two."
    # The k-th alternative of a text joins the k-th alternative of each of its sentences.
    assert out[0]["alternatives"] == ["de#1:One. de#1:Two.", "de#2:One. de#2:Two."]
    assert out[1]["alternatives"] == ["de#1:en de#1:words", "de#2:en de#2:words"]
    assert "alternatives" not in plain["translations"][0]  # only when asked for
    assert [(c.options.beam_size, c.options.num_hypotheses) for c in engine.calls] == [(3, 3), (2, 1)]
    assert_error(too_many, 422, "invalid_request")


async def test_auto_source_detects_among_model_languages(app_client: AppClient) -> None:
    pytest.importorskip("langid")
    async with app_client(language_detection=True) as client:
        body = {
            "text": [
                "Das Haus ist klein und der Garten ist grün.",
                "The house is small and the garden is green.",
            ],
            "target": "fr",
        }
        response = await client.post("/translate", json=body)
        assert [t["source"] for t in response.json()["translations"]] == ["de", "en"]
        assert [t["zero_shot"] for t in response.json()["translations"]] == [True, False]
        # Already in the target language: returned unchanged.
        same = await client.post("/translate", json={"text": "Das Haus ist klein und grün.", "target": "de"})
        assert same.json()["translations"][0]["text"] == "Das Haus ist klein und grün."


async def test_languages_and_models(app_client: AppClient) -> None:
    engines = [FakeEngine(), FakeEngine(model_name="bi", languages=("en", "es"), trained=(("en", "es"),))]
    async with app_client(engines, default_model="fake") as client:
        languages = (await client.get("/languages")).json()["models"]
        models = (await client.get("/models")).json()
    by_model = {m["model"]: m for m in languages}
    fake = {(d["source"], d["target"]): d["zero_shot"] for d in by_model["fake"]["directions"]}
    assert fake[("en", "de")] is False and fake[("de", "fr")] is True and len(fake) == 6
    assert {(d["source"], d["target"]) for d in by_model["bi"]["directions"] if not d["zero_shot"]} == {("en", "es")}
    assert models["default"] == "fake"
    assert [(m["name"], m["default"]) for m in models["models"]] == [("bi", False), ("fake", True)]


async def test_choose_model_by_name(app_client: AppClient) -> None:
    engines = [FakeEngine(), FakeEngine(model_name="other")]
    async with app_client(engines) as client:
        body = {"text": "a", "source": "en", "target": "de", "model": "other"}
        response = await client.post("/translate", json=body)
    assert response.json()["translations"][0]["model"] == "other"
    assert not engines[0].calls and engines[1].calls


async def test_health_probes(app_client: AppClient) -> None:
    async with app_client() as client:
        assert (await client.get("/health/live")).json() == {"status": "ok", "models": []}
        assert (await client.get("/health/ready")).json() == {"status": "ready", "models": ["fake"]}


async def test_ready_is_503_without_models(app_client: AppClient) -> None:
    async with app_client([]) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"


async def test_metrics_exposition(app_client: AppClient) -> None:
    async with app_client() as client:
        await client.post("/translate", json={"text": ["a b", "c"], "source": "en", "target": "de"})
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(response.text)}
    for name in (
        "xlt_requests", "xlt_request_duration_seconds", "xlt_queue_wait_seconds", "xlt_inference_seconds",
        "xlt_batch_size_examples", "xlt_batch_size_tokens", "xlt_queue_depth", "xlt_input_tokens",
        "xlt_output_tokens", "xlt_model_info",
    ):  # fmt: skip
        assert name in names
    assert 'xlt_model_info{languages="en,de,fr",model="fake",quantization="int8"} 1.0' in response.text
    assert 'xlt_input_tokens_total{model="fake"} 5.0' in response.text  # 3 words + 2 </s>


async def test_openapi_and_docs(app_client: AppClient) -> None:
    async with app_client() as client:
        schema = (await client.get("/openapi.json")).json()
        assert "/translate" in schema["paths"] and "/languages" in schema["paths"]
        assert (await client.get("/docs")).status_code == 200


async def test_two_apps_in_one_process(tmp_path: Path) -> None:
    apps = [
        create_app(Settings(models_dir=tmp_path, language_detection=False), extra_engines=[FakeEngine()])
        for _ in range(2)
    ]
    async with serve_in_process(apps[0]) as first, serve_in_process(apps[1]) as second:
        await first.post("/translate", json={"text": "a", "source": "en", "target": "de"})
        for client, expected in ((first, 1), (second, 0)):
            families = text_string_to_metric_families((await client.get("/metrics")).text)
            translated = [
                s for f in families for s in f.samples
                if s.name == "xlt_requests_total" and s.labels["route"] == "/translate"
            ]  # fmt: skip
            assert len(translated) == expected


async def test_shutdown_drains_in_flight_work(tmp_path: Path) -> None:
    engine = FakeEngine(gate=threading.Event())
    app = create_app(Settings(models_dir=tmp_path, language_detection=False), extra_engines=[engine])
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
        body = {"text": "a", "source": "en", "target": "de"}
        pending = asyncio.create_task(client.post("/translate", json=body))
        assert await asyncio.to_thread(engine.started.wait, 30)
        shutdown = asyncio.create_task(lifespan.__aexit__(None, None, None))
        await asyncio.sleep(0)  # shutdown starts: the app is draining
        ready = await client.get("/health/ready")
        assert ready.status_code == 503 and "shutting down" in ready.json()["error"]["message"]
        refused = await client.post("/translate", json=body)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "not_ready"
        assert not shutdown.done()  # waits for the running batch
        assert engine.gate is not None
        engine.gate.set()
        assert (await pending).status_code == 200
        await shutdown
    assert engine.closed


async def test_unbatched_mode_serves_the_same_api(app_client: AppClient) -> None:
    async with app_client(batching=False) as client:
        response = await client.post("/translate", json={"text": ["a", "b c"], "source": "en", "target": "de"})
    assert [t["text"] for t in response.json()["translations"]] == ["de:a", "de:b de:c"]
