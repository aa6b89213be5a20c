"""Zero-shot strategies (direct, pivot, auto with the off-target guard) and request examples, on fake engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient, serve_in_process
from tests.unit.test_errors import assert_error


class ScriptedDetector:
    """Answers ``language`` for every text and records what it was asked."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.asked: list[str] = []

    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        self.asked.append(text)
        return self.language if self.language in candidates else None


@asynccontextmanager
async def app_with(tmp_path: Path, engine: FakeEngine, detector: ScriptedDetector) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data", off_target_min_chars=20)
    async with serve_in_process(create_app(settings, extra_engines=[engine], detector=detector)) as client:
        yield client


def body(text: str | list[str], source: str = "de", target: str = "fr", **extra: Any) -> dict[str, Any]:
    return {"text": text, "source": source, "target": target, **extra}


async def test_direct_zero_shot(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine]) as client:
        response = await client.post("/translate", json=body("a b", strategy="direct"))
        (out,) = response.json()["translations"]
        assert out["text"] == "fr:a fr:b" and out["zero_shot"] is True and "via" not in out
        assert [c.targets for c in engine.calls] == [["fr"]]
        assert 'xlt_zero_shot_requests_total{model="fake"} 1.0' in (await client.get("/metrics")).text


async def test_pivot_is_two_rounds_through_english(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine]) as client:
        response = await client.post("/translate", json=body(["a b. c", "d"], strategy="pivot"))
        out = response.json()["translations"]
        assert [(t["text"], t["via"], t["zero_shot"]) for t in out] == [
            ("fr:en:a fr:en:b. fr:en:c", "en", True),
            ("fr:en:d", "en", True),
        ]
        assert [sorted(c.targets) for c in engine.calls] == [["en"] * 3, ["fr"] * 3]
        assert sorted(engine.batches()[1]) == ["en:a en:b.", "en:c", "en:d"]


async def test_pivot_with_english_at_one_end_is_direct(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine]) as client:
        response = await client.post("/translate", json=body("a", source="en", strategy="pivot"))
        assert "via" not in response.json()["translations"][0] and len(engine.calls) == 1


async def test_pivot_needs_the_pivot_language(app_client: AppClient) -> None:
    engine = FakeEngine(languages=("de", "fr"), trained=())
    async with app_client([engine]) as client:
        assert_error(await client.post("/translate", json=body("a", strategy="pivot")), 422, "unsupported_direction")
        assert (await client.post("/translate", json=body("a", strategy="direct"))).status_code == 200


class MarkedDetector(ScriptedDetector):
    """Answers ``language`` for texts containing ``mark``, else ``otherwise``."""

    def __init__(self, mark: str, language: str = "fr", otherwise: str = "de") -> None:
        super().__init__(language)
        self.mark, self.otherwise = mark, otherwise

    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        self.asked.append(text)
        return self.language if self.mark in text else self.otherwise


LONG = "one two three four five six"


async def test_auto_takes_the_next_best_hypothesis_in_the_target_language(tmp_path: Path) -> None:
    engine, detector = FakeEngine(), MarkedDetector("fr#1:")  # only the first alternative "looks French"
    async with app_with(tmp_path, engine, detector) as client:
        response = await client.post("/translate", json=body([LONG, "short"]))
        out = response.json()["translations"]
        assert out[0]["text"] == "fr#1:one fr#1:two fr#1:three fr#1:four fr#1:five fr#1:six" and "via" not in out[0]
        assert out[1]["text"] == "fr:short"  # too short to judge: its best hypothesis stays
        assert out[0]["off_target"] is False and "off_target" not in out[1]  # repaired; not judged
        assert [c.targets for c in engine.calls] == [["fr", "fr"]]  # no pivot pass
        assert engine.calls[0].options.num_hypotheses == 2  # the beam's size (2 by default) bounds the 4 wanted
        metrics = (await client.get("/metrics")).text
        assert 'xlt_off_target_total{model="fake"} 1.0' in metrics
        assert 'xlt_pivot_fallbacks_total{model="fake"}' not in metrics  # never incremented
        assert 'xlt_off_target_served_total{model="fake"}' not in metrics


async def test_auto_retranslates_off_target_outputs_via_the_pivot(tmp_path: Path) -> None:
    engine, detector = FakeEngine(), MarkedDetector("fr:en:")  # only the pivot's output "looks French"
    async with app_with(tmp_path, engine, detector) as client:
        response = await client.post("/translate", json=body([LONG, "short"]))
        out = response.json()["translations"]
        assert out[0]["via"] == "en" and out[0]["text"].startswith("fr:en:one") and out[0]["off_target"] is False
        assert "via" not in out[1] and out[1]["text"] == "fr:short"  # too short to judge
        assert detector.asked[0] == "fr:one fr:two fr:three fr:four fr:five fr:six"
        assert "fr#1:one fr#1:two fr#1:three fr#1:four fr#1:five fr#1:six" in detector.asked  # tried first
        assert [c.targets for c in engine.calls] == [["fr", "fr"], ["en"], ["fr"]]
        assert [c.options.num_hypotheses for c in engine.calls] == [2, 1, 2]
        metrics = (await client.get("/metrics")).text
        assert 'xlt_off_target_total{model="fake"} 1.0' in metrics
        assert 'xlt_pivot_fallbacks_total{model="fake"} 1.0' in metrics


async def test_auto_keeps_the_direct_output_when_the_pivot_is_off_target_too(tmp_path: Path) -> None:
    engine, detector = FakeEngine(), ScriptedDetector("de")  # every output "looks German"
    async with app_with(tmp_path, engine, detector) as client:
        (out,) = (await client.post("/translate", json=body(LONG))).json()["translations"]
        assert out["text"] == "fr:one fr:two fr:three fr:four fr:five fr:six" and "via" not in out
        assert out["off_target"] is True  # said, not hidden: nothing on target was found
        assert [c.targets for c in engine.calls] == [["fr"], ["en"], ["fr"]]  # the pivot was tried
        metrics = (await client.get("/metrics")).text
        assert 'xlt_off_target_total{model="fake"} 1.0' in metrics
        assert 'xlt_pivot_fallbacks_total{model="fake"}' not in metrics  # never incremented
        assert 'xlt_off_target_served_total{model="fake"} 1.0' in metrics
        asked = body(LONG, options={"alternatives": 1})
        (again,) = (await client.post("/translate", json=asked)).json()["translations"]
        assert again["alternatives"] == ["fr#1:one fr#1:two fr#1:three fr#1:four fr#1:five fr#1:six"]  # not the pivot's


async def test_auto_keeps_on_target_and_trained_outputs(tmp_path: Path) -> None:
    engine, detector = FakeEngine(), ScriptedDetector("fr")
    async with app_with(tmp_path, engine, detector) as client:
        zero_shot = await client.post("/translate", json=body(LONG))
        assert "via" not in zero_shot.json()["translations"][0]
        assert zero_shot.json()["translations"][0]["off_target"] is False
        trained = await client.post("/translate", json=body(LONG, source="en"))
        assert {"via", "off_target"}.isdisjoint(trained.json()["translations"][0])
        assert len(detector.asked) == 1  # trained directions are not checked
        direct = await client.post("/translate", json=body(LONG, strategy="direct"))
        assert {"via", "off_target"}.isdisjoint(direct.json()["translations"][0]) and len(detector.asked) == 1
        assert len(engine.calls) == 3
        # Only auto's zero-shot sentences ask for alternatives; the others batch as usual.
        assert [c.options.num_hypotheses for c in engine.calls] == [2, 1, 1]


async def test_examples_reach_the_engine_in_the_few_shot_format(app_client: AppClient) -> None:
    engine = FakeEngine(few_shot=True)
    async with app_client([engine]) as client:
        examples = [{"source": "x y", "target": "X Y"}]
        response = await client.post(
            "/translate", json=body(["a b. c", "d"], source="en", target="de", examples=examples)
        )
        assert [t["text"] for t in response.json()["translations"]] == ["de:a de:b. de:c", "de:d"]
        for source in engine.calls[0].sources:
            assert source[:7] == ["<ex>", "x", "y", "<to>", "X", "Y", "<sep>"] and source[-1] == "</s>"
        await client.post("/translate", json=body("a b", source="en", target="de"))
        assert engine.calls[1].sources == [["a", "b", "</s>"]]  # no examples: exactly today's input


async def test_examples_are_not_used_on_pivot_legs(app_client: AppClient) -> None:
    engine = FakeEngine(few_shot=True)
    async with app_client([engine]) as client:
        examples = [{"source": "x", "target": "X"}]
        await client.post("/translate", json=body("a", strategy="pivot", examples=examples))
        assert [c.sources for c in engine.calls] == [[["a", "</s>"]], [["en:a", "</s>"]]]


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"examples": [{"source": "a", "target": "b"}] * 3}, 413, "too_many_examples"),
        ({"examples": [{"source": "a" * 21, "target": "b"}]}, 413, "example_too_long"),
        ({"examples": [{"source": "a", "target": " "}]}, 422, "empty_text"),
        ({"examples": [{"source": "a"}]}, 422, "invalid_request"),
        ({"examples": [{"source": "a", "target": "b", "note": "c"}]}, 422, "invalid_request"),
        ({"strategy": "sideways"}, 422, "invalid_request"),
    ],
)
async def test_example_errors(app_client: AppClient, extra: dict[str, Any], status: int, code: str) -> None:
    async with app_client([FakeEngine(few_shot=True)], max_examples=2, max_example_chars=20) as client:
        assert_error(await client.post("/translate", json=body("a", **extra)), status, code)


async def test_examples_need_a_few_shot_model(app_client: AppClient) -> None:
    async with app_client([FakeEngine()]) as client:
        response = await client.post("/translate", json=body("a", examples=[{"source": "a", "target": "b"}]))
        assert_error(response, 422, "few_shot_unsupported")
        assert (await client.post("/translate", json=body("a", examples=[]))).status_code == 200
