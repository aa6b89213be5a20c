"""The metrics the alert rules (``docker/prometheus/alerts.yml``) read, each moved by the event it reports.

Why these tests: an alert on a series that never moves is silent forever, and ``promtool test rules`` only proves
the rules against series written by hand. Here the app itself must produce them: readiness as a gauge, the request
deadline, reloads with a failed folder, the store that failed, and the base of the off-target rate.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.metrics import Metrics
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient, serve_in_process
from tests.unit.test_errors import assert_error
from tests.unit.test_reload import Loader, reload, serving, write_model
from tests.unit.test_strategies import LONG, ScriptedDetector, app_with, body

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    families = text_string_to_metric_families(response.text)
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_ready_follows_the_readiness_probe(tmp_path: Path) -> None:
    assert Metrics().ready._value.get() == 0  # not ready until the app says so
    settings = Settings(
        models_dir=tmp_path, data_dir=tmp_path / "data", language_detection=False, request_timeout_s=7.5
    )
    app = create_app(settings, extra_engines=[FakeEngine()])
    async with serve_in_process(app) as client:
        state = app.state.xlt
        assert (await client.get("/health/ready")).status_code == 200
        samples = await scrape(client)
        assert samples[key("xlt_ready")] == 1.0
        assert samples[key("xlt_request_timeout_seconds")] == 7.5
        state.draining = True  # as after SIGTERM: the probe fails, and the scrape (still answered) says so
        assert (await client.get("/health/ready")).status_code == 503
        assert (await scrape(client))[key("xlt_ready")] == 0.0
        state.draining = False
        await state.schedulers["fake"].stop()  # a batcher that died: seen at the next scrape
        assert (await client.get("/health/ready")).status_code == 503
        assert (await scrape(client))[key("xlt_ready")] == 0.0


async def test_a_folder_that_fails_to_load_counts_the_reload_as_an_error(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "models", "a")
    async with serving(tmp_path, Loader()) as (client, _):
        before = await scrape(client)
        assert before[key("xlt_model_reloads_total", result="error")] == 0.0  # there before the first error
        assert (await reload(client))["failed"] == []
        (folder / "broken").touch()
        assert (await reload(client))["failed"][0]["folder"] == "a"
        after = await scrape(client)
        assert after[key("xlt_model_reloads_total", result="ok")] == 1.0
        assert after[key("xlt_model_reloads_total", result="error")] == 1.0


async def test_store_failures_are_counted_by_store(app_client: AppClient, tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    async with app_client(data_dir=blocker) as client:
        before = await scrape(client)
        for store in ("memory store", "key store"):
            for code in ("store_unavailable", "store_full"):
                assert before[key("xlt_store_errors_total", store=store, code=code)] == 0.0
        assert_error(await client.post("/memories", json={"name": "m"}), 503, "store_unavailable")
        assert_error(await client.get("/memories"), 503, "store_unavailable")
        assert (await client.post("/translate", json=body("no store", source="en", target="de"))).status_code == 200
        after = await scrape(client)
    assert after[key("xlt_store_errors_total", store="memory store", code="store_unavailable")] == 2.0
    assert after[key("xlt_store_errors_total", store="key store", code="store_unavailable")] == 0.0
    assert after[key("xlt_requests_total", route="/memories", status="503", code="store_unavailable")] == 2.0


async def test_off_target_checks_count_the_judged_zero_shot_texts(tmp_path: Path) -> None:
    """The rate's base: texts the identifier judged (long enough, zero-shot), whatever its verdict."""
    async with app_with(tmp_path, FakeEngine(), ScriptedDetector("de")) as client:  # every output "looks German"
        assert (await client.post("/translate", json=body([LONG, LONG, "short"]))).status_code == 200
        assert (await client.post("/translate", json=body(LONG, source="en", target="de"))).status_code == 200
        samples = await scrape(client)
    assert samples[key("xlt_off_target_checks_total", model="fake")] == 2.0  # not the short one, nor en->de
    assert samples[key("xlt_off_target_total", model="fake")] == 2.0
