"""The error taxonomy end to end: each bad input gets its status and stable code, in one JSON shape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.errors import XltError
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": 1, "target": "de"}, 422, "invalid_request"),
        ({"text": "hi"}, 422, "invalid_request"),
        ({"text": "hi", "target": "de", "colour": "blue"}, 422, "invalid_request"),
        ({"text": "hi", "target": "de", "options": {"beam_size": 0}}, 422, "invalid_request"),
        (
            {"text": "hi", "target": "de", "source": "en", "options": {"max_length": 100000}},
            422,
            "invalid_request",
        ),
        ({"text": "", "target": "de", "source": "en"}, 422, "empty_text"),
        ({"text": "   \n", "target": "de", "source": "en"}, 422, "empty_text"),
        ({"text": [], "target": "de", "source": "en"}, 422, "empty_text"),
        ({"text": ["ok", ""], "target": "de", "source": "en"}, 422, "empty_text"),
        ({"text": "hi", "source": "en", "target": "xx"}, 422, "unsupported_language"),
        ({"text": "hi", "source": "english", "target": "de"}, 422, "unsupported_language"),
        ({"text": "hi", "source": "en", "target": "en"}, 422, "unsupported_direction"),
        ({"text": "hi", "source": "en", "target": "de", "model": "nope"}, 404, "model_not_found"),
        ({"text": "x" * 101, "source": "en", "target": "de"}, 413, "text_too_long"),
        ({"text": ["a"] * 4, "source": "en", "target": "de"}, 413, "too_many_items"),
        ({"text": "hi", "source": "auto", "target": "de"}, 422, "detection_unavailable"),
    ],
)
async def test_bad_requests_get_their_code(app_client: AppClient, body: dict[str, Any], status: int, code: str) -> None:
    async with app_client(max_text_chars=100, max_items=3, language_detection=False) as client:
        assert_error(await client.post("/translate", json=body), status, code)


async def test_malformed_json_is_invalid_json_not_500(app_client: AppClient) -> None:
    async with app_client() as client:
        for raw in (b"{", b'{"text": "a",}', b"\xff\xfe"):
            response = await client.post("/translate", content=raw, headers={"content-type": "application/json"})
            assert_error(response, 400, "invalid_json")


async def test_body_over_the_limit_is_payload_too_large(app_client: AppClient) -> None:
    async with app_client(max_body_bytes=1024) as client:
        big = {"text": "word " * 400, "source": "en", "target": "de"}
        assert_error(await client.post("/translate", json=big), 413, "payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:  # streamed: no Content-Length to trust
            for _ in range(10):
                yield b" " * 200

        response = await client.post("/translate", content=chunks(), headers={"content-type": "application/json"})
        assert_error(response, 413, "payload_too_large")


async def test_unknown_route_and_method(app_client: AppClient) -> None:
    async with app_client() as client:
        assert_error(await client.get("/nowhere"), 404, "not_found")
        assert_error(await client.get("/translate"), 405, "method_not_allowed")


async def test_engine_failure_is_engine_error(app_client: AppClient) -> None:
    async with app_client([FakeEngine(fail=True)]) as client:
        response = await client.post("/translate", json={"text": "a", "source": "en", "target": "de"})
        assert_error(response, 500, "engine_error")


async def test_slow_engine_is_timeout(app_client: AppClient) -> None:
    engine = FakeEngine(gate=threading.Event())
    try:
        async with app_client([engine], request_timeout_s=0.05, drain_timeout_s=0) as client:
            response = await client.post("/translate", json={"text": "a", "source": "en", "target": "de"})
            assert_error(response, 504, "timeout")
            assert engine.gate is not None
            engine.gate.set()
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_full_queue_is_overloaded_with_retry_after(app_client: AppClient) -> None:
    engine = FakeEngine(gate=threading.Event())
    body = {"text": "a", "source": "en", "target": "de"}
    try:
        async with app_client([engine], max_queue=1, max_batch_size=1, inter_threads=1) as client:
            running = asyncio.create_task(client.post("/translate", json=body))
            assert await asyncio.to_thread(engine.started.wait, 30)
            queued = asyncio.create_task(client.post("/translate", json=body))
            for _ in range(200):  # until the second request is queued
                metrics = (await client.get("/metrics")).text
                if 'xlt_queue_depth{model="fake"} 1.0' in metrics:
                    break
                await asyncio.sleep(0.01)
            response = await client.post("/translate", json=body)
            assert_error(response, 429, "overloaded")
            assert int(response.headers["retry-after"]) >= 1
            assert engine.gate is not None
            engine.gate.set()
            assert (await running).status_code == 200 and (await queued).status_code == 200
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_not_started_app_is_not_ready(tmp_path: Any) -> None:
    app = create_app(Settings(models_dir=tmp_path, language_detection=False), extra_engines=[FakeEngine()])
    transport = httpx.ASGITransport(app=app)  # no lifespan: engines never started
    async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
        assert_error(await client.get("/health/ready"), 503, "not_ready")
        response = await client.post("/translate", json={"text": "a", "source": "en", "target": "de"})
        assert_error(response, 503, "not_ready")
        assert (await client.get("/health/live")).status_code == 200


async def test_failures_are_counted_by_code(app_client: AppClient) -> None:
    async with app_client() as client:
        await client.post("/translate", json={"text": "a", "source": "en", "target": "xx"})
        await client.post("/translate", json={"text": "a", "source": "en", "target": "de"})
        await client.get("/nowhere")
        families = {f.name: f for f in text_string_to_metric_families((await client.get("/metrics")).text)}
        counts = {
            (s.labels["route"], s.labels["status"], s.labels["code"]): s.value
            for s in families["xlt_requests"].samples
            if s.name == "xlt_requests_total"
        }
        assert counts[("/translate", "422", "unsupported_language")] == 1
        assert counts[("/translate", "200", "ok")] == 1
        assert counts[("unmatched", "404", "not_found")] == 1


def test_every_code_is_unique_and_stable() -> None:
    def subclasses(cls: type[XltError]) -> list[type[XltError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    codes = {c.code: c.status for c in subclasses(XltError)}
    assert len(codes) == len(subclasses(XltError))
    assert codes["overloaded"] == 429 and codes["not_ready"] == 503 and codes["timeout"] == 504
    assert codes["model_not_found"] == 404 and codes["payload_too_large"] == 413
