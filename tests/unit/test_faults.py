"""Fault isolation: a failing or hung engine hurts only its own work; a locked, full or missing data store answers
503 ``store_unavailable`` / 507 ``store_full`` and is never left half-written."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.auth.keys import KeyStore
from service.engines.base import DecodeOptions, Hypothesis
from service.errors import StoreFull, StoreUnavailable
from service.fewshot.store import SQLiteMemoryStore
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient, serve_in_process
from tests.unit.test_errors import assert_error


class BombEngine(FakeEngine):
    """Fails any batch holding the word ``boom`` (the whole batch, as a real engine error would)."""

    def translate_batch(
        self, sources: Sequence[list[str]], targets: Sequence[str], options: DecodeOptions, max_batch_tokens: int
    ) -> list[Hypothesis]:
        hyps = super().translate_batch(sources, targets, options, max_batch_tokens)
        if any("boom" in s for s in sources):
            raise RuntimeError("engine exploded on a bad batch")
        return hyps


def body(text: str, model: str | None = None) -> dict[str, str]:
    return {"text": text, "source": "en", "target": "de", **({"model": model} if model else {})}


async def request_counts(client: object) -> dict[tuple[str, str], float]:
    text = (await client.get("/metrics")).text  # type: ignore[attr-defined]
    return {
        (s.labels["status"], s.labels["code"]): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "xlt_requests_total" and s.labels["route"] == "/translate"
    }


async def test_an_engine_error_fails_only_its_batch(app_client: AppClient) -> None:
    engine = BombEngine(gate=threading.Event())
    try:
        # One engine worker: the next batch forms only when the first ends (with a free second worker, the
        # first arrival would start at once, alone).
        async with app_client([engine], max_wait_ms=50, inter_threads=1) as client:
            first = asyncio.create_task(client.post("/translate", json=body("fine first")))
            assert await asyncio.to_thread(engine.started.wait, 30)
            # While batch 1 runs, these two queue up and become batch 2 together.
            bad = asyncio.create_task(client.post("/translate", json=body("boom")))
            neighbour = asyncio.create_task(client.post("/translate", json=body("innocent neighbour")))
            for _ in range(500):
                if 'xlt_queue_depth{model="fake"} 2.0' in (await client.get("/metrics")).text:
                    break
                await asyncio.sleep(0.01)
            assert engine.gate is not None
            engine.gate.set()
            assert (await first).status_code == 200
            assert_error(await bad, 500, "engine_error")
            assert_error(await neighbour, 500, "engine_error")  # same batch, same fate
            assert [len(b) for b in engine.batches()] == [1, 2]
            after = await client.post("/translate", json=body("the service goes on"))
            assert after.status_code == 200
            assert (await client.get("/health/ready")).status_code == 200
            counts = await request_counts(client)
            assert counts[("500", "engine_error")] == 2 and counts[("200", "ok")] == 2
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_a_failing_model_leaves_the_others_serving(app_client: AppClient) -> None:
    engines = [FakeEngine(fail=True), FakeEngine(model_name="healthy")]
    async with app_client(engines, default_model="fake") as client:
        results = await asyncio.gather(
            *(client.post("/translate", json=body(f"t{i}", "fake" if i % 2 else "healthy")) for i in range(10))
        )
        for i, response in enumerate(results):
            if i % 2:
                assert_error(response, 500, "engine_error")
            else:
                assert response.status_code == 200
        engines[0].fail = False  # the engine recovers: nothing was left broken
        assert (await client.post("/translate", json=body("again", "fake"))).status_code == 200


async def test_a_hung_engine_times_out_without_blocking_other_models(app_client: AppClient) -> None:
    hung = FakeEngine(gate=threading.Event())
    try:
        async with app_client([hung, FakeEngine(model_name="fast")], request_timeout_s=0.2, drain_timeout_s=0) as c:
            stuck = asyncio.create_task(c.post("/translate", json=body("never", "fake")))
            assert await asyncio.to_thread(hung.started.wait, 30)
            fast = await c.post("/translate", json=body("quick", "fast"))  # its own executor and batcher
            assert fast.status_code == 200
            assert_error(await stuck, 504, "timeout")
            assert (await c.get("/health/ready")).status_code == 200
            assert hung.gate is not None
            hung.gate.set()  # shutdown waits for a running engine call: release it first
    finally:
        assert hung.gate is not None
        hung.gate.set()


# --- the memory store -------------------------------------------------------------------------------------


def pairs(n: int, width: int = 200) -> dict[str, object]:
    return {
        "source_lang": "en",
        "target_lang": "de",
        "pairs": [{"source": f"sentence {i} " + "x" * width, "target": f"Satz {i}"} for i in range(n)],
    }


def settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path, data_dir=tmp_path / "data", language_detection=False)


async def test_a_locked_database_is_503_and_recovers(tmp_path: Path) -> None:
    store = SQLiteMemoryStore(tmp_path / "mem.sqlite3", busy_timeout_s=0.2)
    async with serve_in_process(
        create_app(settings(tmp_path), extra_engines=[FakeEngine()], memory_store=store)
    ) as client:
        memory_id = (await client.post("/memories", json={"name": "m"})).json()["id"]
        assert (await client.post(f"/memories/{memory_id}/entries", json=pairs(3))).status_code == 200
        other_process = sqlite3.connect(store.path, isolation_level=None)
        other_process.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        try:
            locked = await client.post(f"/memories/{memory_id}/entries", json=pairs(5))
            assert_error(locked, 503, "store_unavailable")
            assert locked.headers["retry-after"] == "1" and "locked" in locked.json()["error"]["message"]
            read = await client.get(f"/memories/{memory_id}")  # WAL: readers are not blocked
            assert read.status_code == 200 and read.json()["revision"] == 1
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        retried = await client.post(f"/memories/{memory_id}/entries", json=pairs(5))
        assert retried.status_code == 200 and retried.json()["revision"] == 2
        assert (await client.get(f"/memories/{memory_id}")).json()["pairs"][0]["entries"] == 5


async def test_a_full_disk_is_507_and_nothing_is_half_written(tmp_path: Path) -> None:
    store = SQLiteMemoryStore(tmp_path / "mem.sqlite3")
    async with serve_in_process(
        create_app(settings(tmp_path), extra_engines=[FakeEngine()], memory_store=store)
    ) as client:
        memory_id = (await client.post("/memories", json={"name": "m"})).json()["id"]
        assert (await client.post(f"/memories/{memory_id}/entries", json=pairs(10))).status_code == 200
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
        store._writer.execute(f"PRAGMA max_page_count = {pages + 2}")  # the "disk" fills up after two pages
        full = await client.post(f"/memories/{memory_id}/entries", json=pairs(2000, width=400))
        assert_error(full, 507, "store_full")
        after = (await client.get(f"/memories/{memory_id}")).json()
        assert after["revision"] == 1 and after["pairs"][0]["entries"] == 10  # the revision bump was rolled back
        store._writer.execute("PRAGMA max_page_count = 1073741823")  # space again
        again = await client.post(f"/memories/{memory_id}/entries", json=pairs(2000, width=400))
        assert again.status_code == 200 and again.json()["revision"] == 2
        hit = await client.post("/translate", json={**body("sentence 5 " + "x" * 400), "memory": memory_id})
        assert hit.json()["translations"][0]["origin"] == "memory"
    raw = sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()
    assert raw == ("ok",)


async def test_an_unusable_data_dir_is_503_for_memories_only(app_client: AppClient, tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    async with app_client(data_dir=blocker) as client:
        assert_error(await client.post("/memories", json={"name": "m"}), 503, "store_unavailable")
        assert_error(await client.get("/memories"), 503, "store_unavailable")
        assert (await client.post("/translate", json=body("translation needs no store"))).status_code == 200
        assert (await client.get("/health/ready")).status_code == 200


def test_a_locked_key_store_is_store_unavailable(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.sqlite3", busy_timeout_s=0.1)
    key, _ = keys.create("ci", chars_per_day=100)
    other = sqlite3.connect(keys.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            keys.charge(key.id, "2030-01-01", 10, 100)
        with pytest.raises(StoreUnavailable):
            keys.create("another")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert keys.charge(key.id, "2030-01-01", 10, 100) == 10
    assert [k.name for k in keys.list_keys()] == ["ci"]  # the failed create left nothing behind
    keys._writer.execute(f"PRAGMA max_page_count = {keys._writer.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreFull):
        for i in range(500):
            keys.create(f"key {i} " + "n" * 500)
    keys.close()


async def test_bad_model_folders_never_stop_the_good_one(tmp_path: Path) -> None:
    from tests.unit.test_reload import Loader, serving, write_model

    models = tmp_path / "models"
    write_model(models, "good")
    (write_model(models, "corrupt") / "broken").touch()  # the engine fails to load
    (models / "bad-manifest").mkdir()
    (models / "bad-manifest" / "manifest.json").write_text("{not json")
    (models / "no-manifest").mkdir()
    async with serving(tmp_path, Loader()) as (client, _):
        assert (await client.get("/health/ready")).json() == {"status": "ready", "models": ["good"]}
        response = await client.post("/translate", json=body("still serving", "good"))
        assert response.status_code == 200
