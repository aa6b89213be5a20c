"""Real uvicorn on 127.0.0.1 serving the tiny real model: behaviour, codes and batching, not quality."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Server


def post(server: Server, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/translate", json=body, timeout=60, **kwargs)


def metric_samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ready_and_listings(server: Server) -> None:
    assert httpx.get(f"{server.url}/health/live").status_code == 200
    assert httpx.get(f"{server.url}/health/ready").json() == {"status": "ready", "models": ["tiny"]}
    models = httpx.get(f"{server.url}/models").json()
    assert models["default"] == "tiny" and models["models"][0]["quantization"] == "int8"
    (tiny,) = httpx.get(f"{server.url}/languages").json()["models"]
    flags = {(d["source"], d["target"]): d["zero_shot"] for d in tiny["directions"]}
    assert flags[("en", "de")] is False and flags[("fr", "en")] is False
    assert flags[("de", "fr")] is True and flags[("fr", "de")] is True


def test_translate_shapes_and_order(server: Server) -> None:
    texts = ["The house is small.", "We see a dog. The garden is green!", "Der Hund\n\nist klein."]
    response = post(server, {"text": texts, "source": "en", "target": "de", "options": {"return_scores": True}})
    assert response.status_code == 200, response.text
    out = response.json()["translations"]
    assert len(out) == 3
    for t in out:
        assert set(t) == {"text", "source", "target", "model", "zero_shot", "origin", "score"}
        assert (t["source"], t["target"], t["model"], t["zero_shot"]) == ("en", "de", "tiny", False)
        assert isinstance(t["text"], str) and isinstance(t["score"], float)
        assert "<2de>" not in t["text"]  # the target prefix is stripped
    assert "\n\n" in out[2]["text"]  # paragraph breaks are kept


def test_zero_shot_direction_is_flagged(server: Server) -> None:
    response = post(server, {"text": "Das Haus ist klein.", "source": "de", "target": "fr"})
    assert response.status_code == 200 and response.json()["translations"][0]["zero_shot"] is True


def test_auto_source(server: Server) -> None:
    pytest.importorskip("langid")
    response = post(server, {"text": "La maison est petite et le jardin est vert.", "target": "en"})
    assert response.status_code == 200, response.text
    assert response.json()["translations"][0]["source"] == "fr"


def test_long_text_is_translated_whole(server: Server) -> None:
    text = " ".join(f"The dog number {i} is near the river." for i in range(30))
    (out,) = post(server, {"text": text, "source": "en", "target": "fr"}).json()["translations"]
    assert out["text"].count(" ") >= 29  # thirty sentences joined back, none dropped


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "hi", "source": "en", "target": "xx"}, 422, "unsupported_language"),
        ({"text": "hi", "source": "en", "target": "en"}, 422, "unsupported_direction"),
        ({"text": "hi", "source": "en", "target": "de", "model": "huge"}, 404, "model_not_found"),
        ({"text": "", "source": "en", "target": "de"}, 422, "empty_text"),
        ({"text": ["a"] * 17, "source": "en", "target": "de"}, 413, "too_many_items"),
        ({"text": "a" * 2001, "source": "en", "target": "de"}, 413, "text_too_long"),
        ({"text": "a " * 40000, "source": "en", "target": "de"}, 413, "payload_too_large"),
        ({"txt": "hi", "target": "de"}, 422, "invalid_request"),
    ],
)
def test_errors_carry_their_codes(server: Server, body: Any, status: int, code: str) -> None:
    response = post(server, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (
        metric_samples(server)[
            (
                "xlt_requests_total",
                frozenset({("route", "/translate"), ("status", str(status)), ("code", code)}),
            )
        ]
        >= 1
    )


def test_malformed_json(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/translate",
        content=b'{"text": ',
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_concurrent_requests_share_batches(server: Server) -> None:
    def batches() -> tuple[float, float]:
        samples = metric_samples(server)
        labels = frozenset({("model", "tiny")})
        return samples[("xlt_batch_size_examples_sum", labels)], samples[("xlt_batch_size_examples_count", labels)]

    sum_before, count_before = batches()

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            bodies = [{"text": f"The dog {i} is near the house.", "source": "en", "target": "de"} for i in range(16)]
            return await asyncio.gather(*(client.post("/translate", json=b) for b in bodies))

    responses = asyncio.run(fire())
    assert all(r.status_code == 200 for r in responses)
    sentences, engine_batches = batches()[0] - sum_before, batches()[1] - count_before
    assert sentences == 16
    assert sentences / engine_batches > 1, f"{engine_batches} batches for 16 concurrent requests"
