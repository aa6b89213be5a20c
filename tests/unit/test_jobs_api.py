"""Background jobs through the API with the fake engine: accepted (202) only once parsed and stored, polled,
downloaded, cancelled; bad files get the documents' 4xx; memories fill and learn; a job survives a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.engines.base import DecodeOptions, Hypothesis
from service.jobs.runner import lookahead
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient
from tests.unit.test_errors import assert_error

LINES = ["Hello world.", "Good morning.", "See you soon.", "Thank you."]
TEXT = "\n\n".join(LINES).encode()  # a .txt file: one segment per paragraph


def form(target: str = "de", **fields: str) -> dict[str, str]:
    return {"target": target, "source": "en", **fields}


async def create(
    client: httpx.AsyncClient, data: bytes = TEXT, name: str = "notes.txt", **fields: str
) -> dict[str, Any]:
    response = await client.post("/jobs", files={"file": (name, data)}, data=form(**fields))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/jobs/{body['id']}"
    return body


WAIT_S = 60.0  # a generous bound on polls, so that a broken runner fails the test rather than hangs it


async def wait_for(client: httpx.AsyncClient, job_id: str, *states: str, done: int | None = None) -> dict[str, Any]:
    """Poll until the job is in one of ``states`` (or has ``done`` segments)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        body: dict[str, Any] = (await client.get(f"/jobs/{job_id}")).json()
        if body["state"] in states or (done is not None and body["progress"]["done"] >= done):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"job never got there: {body}"
        await asyncio.sleep(0.02)


async def test_a_job_is_accepted_polled_and_downloaded(app_client: AppClient) -> None:
    async with app_client(job_chunk_size=2) as client:
        job = await create(client)
        assert job["state"] in ("queued", "running") and job["progress"] == {"done": 0, "total": 4}
        assert job["filename"] == "notes.txt" and job["result"] is None
        done = await wait_for(client, job["id"], "done", "failed")
        assert done["state"] == "done" and done["progress"] == {"done": 4, "total": 4} and done["errors"] == []
        assert done["result"] == f"/jobs/{job['id']}/result" and done["attempts"] == 1
        assert done["finished_at"] >= done["started_at"] >= done["created_at"] and done["duration_s"] >= 0
        result = await client.get(done["result"])
        assert result.status_code == 200
        assert result.text.split("\n\n") == [" ".join(f"de:{w}" for w in line.split()) for line in LINES]
        assert 'filename="notes.de.txt"' in result.headers["content-disposition"]
        metrics = (await client.get("/metrics")).text
        assert 'xlt_jobs_total{state="done"} 1.0' in metrics
        assert 'xlt_job_duration_seconds_count{state="done"} 1.0' in metrics


@pytest.mark.parametrize(
    ("name", "data", "fields", "status", "code"),
    [
        ("notes.exe", b"MZ", {}, 415, "unsupported_format"),
        ("app.po", b'msgid "a"\nmsgstr "b"\nmsgid ', {}, 422, "invalid_file"),
        ("notes.txt", b"\xc3\x28 broken", {}, 422, "invalid_encoding"),
        ("notes.txt", TEXT, {"target": "xx"}, 422, "unsupported_language"),
        ("notes.txt", TEXT, {"model": "nope"}, 404, "model_not_found"),
        ("notes.txt", TEXT, {"target": "en"}, 422, "unsupported_direction"),
        ("notes.txt", TEXT, {"memory": "not-an-id"}, 422, "invalid_memory_id"),
        ("notes.txt", TEXT, {"memory": "3f2b9c0e8d7a4c1b9e6f5a4d3c2b1a09"}, 404, "memory_not_found"),
        ("notes.txt", TEXT, {"options": '{"overwrite": 1}'}, 422, "invalid_request"),
        ("notes.txt", b"x" * 5000, {}, 413, "file_too_large"),
    ],
)
async def test_bad_jobs_are_refused_before_anything_is_stored(
    app_client: AppClient, tmp_path: Path, name: str, data: bytes, fields: dict[str, str], status: int, code: str
) -> None:
    async with app_client(max_file_bytes=4096) as client:
        response = await client.post("/jobs", files={"file": (name, data)}, data=form(**fields))
        assert_error(response, status, code)
        assert (await client.post("/jobs", files={"file": ("ok.txt", b"Hi.")}, data=form())).status_code == 202
    db = sqlite3.connect(tmp_path / "data" / "jobs.sqlite3")
    assert db.execute("SELECT filename FROM jobs").fetchall() == [("ok.txt",)]  # only the good one


async def test_unknown_and_malformed_job_ids(app_client: AppClient) -> None:
    unknown = uuid.uuid4().hex
    async with app_client() as client:
        for path in ("/jobs/{}", "/jobs/{}/result"):
            assert_error(await client.get(path.format(unknown)), 404, "job_not_found")
            assert_error(await client.get(path.format("../../etc")), 404, "not_found")
            assert_error(await client.get(path.format("x" * 32)), 422, "invalid_job_id")
        assert_error(await client.delete(f"/jobs/{unknown}"), 404, "job_not_found")


async def test_cancel_a_running_job(app_client: AppClient) -> None:
    engine = FakeEngine(gate=threading.Event())
    async with app_client(engines=[engine]) as client:
        job = await create(client)
        await wait_for(client, job["id"], "running")
        assert await asyncio.to_thread(engine.started.wait, 30)  # its first batch is at the engine
        early = await client.get(f"/jobs/{job['id']}/result")
        assert_error(early, 409, "job_not_done")
        assert early.headers["retry-after"]
        cancelled = await client.delete(f"/jobs/{job['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert engine.gate is not None
        engine.gate.set()
        assert_error(await client.get(f"/jobs/{job['id']}/result"), 409, "job_no_result")
        assert_error(await client.delete(f"/jobs/{job['id']}"), 409, "job_finished")
        assert (await client.get(f"/jobs/{job['id']}")).json()["state"] == "cancelled"
        assert 'xlt_jobs_total{state="cancelled"} 1.0' in (await client.get("/metrics")).text


async def test_memories_fill_units_and_learn_the_machine_translations(app_client: AppClient) -> None:
    async with app_client(job_chunk_size=1) as client:
        memory = (await client.post("/memories", json={"name": "m"})).json()["id"]
        pairs = [{"source": "Good morning.", "target": "Guten Morgen."}]
        body = {"source_lang": "en", "target_lang": "de", "pairs": pairs}
        assert (await client.post(f"/memories/{memory}/entries", json=body)).status_code == 200
        job = await create(client, memory=memory, options='{"store": true}')
        assert (await wait_for(client, job["id"], "done", "failed"))["state"] == "done"
        result = (await client.get(f"/jobs/{job['id']}/result")).text.split("\n\n")
        assert result[1] == "Guten Morgen." and result[0] == "de:Hello de:world."
        stats = (await client.get(f"/memories/{memory}")).json()["pairs"]
        assert stats == [{"source_lang": "en", "target_lang": "de", "entries": 4, "unreviewed": 3}]
        again = await create(client, memory=memory)  # the stored machine translations now fill every unit
        assert (await wait_for(client, again["id"], "done", "failed"))["state"] == "done"
        assert (await client.get(f"/jobs/{again['id']}/result")).text == "\n\n".join(result)


@pytest.mark.parametrize("workers", [1, 2])
async def test_the_next_chunks_are_translated_while_one_is_saved(
    app_client: AppClient, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The engine does not wait on the store: while a chunk is being saved, the next chunk for each engine worker is
    already in the batcher (one worker: the next chunk; two: the next two)."""
    from service.jobs.store import SQLiteJobStore

    engine = FakeEngine()
    sent_when_saved: list[int] = []  # how many sentences the engine had got when each chunk's save ended
    save = SQLiteJobStore.save

    def sent() -> int:
        return sum(len(call.sources) for call in engine.calls)

    def slow_save(self: SQLiteJobStore, *args: Any) -> bool:
        wanted = min(len(sent_when_saved) + 1 + workers, len(LINES))
        deadline = time.monotonic() + 1
        while sent() < wanted and time.monotonic() < deadline:
            time.sleep(0.01)  # hold the save until the engine gets the chunks ahead (or give up: the test fails)
        sent_when_saved.append(sent())
        return save(self, *args)

    monkeypatch.setattr(SQLiteJobStore, "save", slow_save)
    async with app_client(engines=[engine], job_chunk_size=1, inter_threads=workers) as client:
        job = await create(client)
        done = await wait_for(client, job["id"], "done", "failed")
        assert done["state"] == "done" and done["progress"] == {"done": 4, "total": 4}
    expected = [min(chunk + workers, len(LINES)) for chunk in range(1, len(LINES) + 1)]
    assert sent_when_saved == expected


async def test_another_keys_job_is_not_found(app_client: AppClient, tmp_path: Path) -> None:
    from service.auth.keys import KEYS_DB, KeyStore

    keys = KeyStore(tmp_path / "data" / KEYS_DB)
    (_, mine), (_, theirs) = keys.create("a"), keys.create("b")
    keys.close()
    async with app_client(api_keys_required=True) as client:
        created = await client.post("/jobs", files={"file": ("n.txt", TEXT)}, data=form(), headers={"X-API-Key": mine})
        job_id = created.json()["id"]
        assert (await client.get(f"/jobs/{job_id}", headers={"X-API-Key": mine})).status_code == 200
        for method in ("GET", "DELETE"):
            response = await client.request(method, f"/jobs/{job_id}", headers={"X-API-Key": theirs})
            assert_error(response, 404, "job_not_found")
        assert_error(await client.get(f"/jobs/{job_id}"), 401, "unauthorized")


class StallingEngine(FakeEngine):
    """Translates ``free`` batches, then holds every later one until ``release`` is set."""

    def __init__(self, free: int) -> None:
        super().__init__()
        self.free = free
        self.release = threading.Event()

    def translate_batch(
        self, sources: Sequence[list[str]], targets: Sequence[str], options: DecodeOptions, max_batch_tokens: int
    ) -> list[Hypothesis]:
        if len(self.calls) >= self.free:
            self.started.set()
            assert self.release.wait(timeout=30), "the test never released the engine"
        return super().translate_batch(sources, targets, options, max_batch_tokens)


def job_row(tmp_path: Path, job_id: str) -> tuple[str, int, int]:
    with sqlite3.connect(tmp_path / "data" / "jobs.sqlite3") as db:
        row = db.execute("SELECT state, done, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
    db.close()
    return row[0], row[1], row[2]


async def test_a_job_stopped_mid_way_resumes_after_a_restart(app_client: AppClient, tmp_path: Path) -> None:
    engine = StallingEngine(free=1)
    first = app_client(engines=[engine], job_chunk_size=1, max_batch_size=1)  # a batch per chunk
    client = await first.__aenter__()
    job = await create(client)
    await wait_for(client, job["id"], done=1)  # one chunk saved; the batches of the chunks ahead are held
    assert await asyncio.to_thread(engine.started.wait, 30)
    stopping = asyncio.create_task(first.__aexit__(None, None, None))
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while job_row(tmp_path, job["id"])[0] != "queued":  # the stopping app hands the job back...
        assert asyncio.get_running_loop().time() < deadline, "the job was never handed back"
        await asyncio.sleep(0.02)
    engine.release.set()  # ...then its engine may finish the batch it holds (nothing of it is saved)
    await stopping
    assert job_row(tmp_path, job["id"]) == ("queued", 1, 0)
    async with app_client(job_chunk_size=1) as client:  # a new app on the same data dir
        done = await wait_for(client, job["id"], "done", "failed")
        assert done["state"] == "done" and done["progress"] == {"done": 4, "total": 4} and done["attempts"] == 1
        result = (await client.get(f"/jobs/{job['id']}/result")).text
        assert result.split("\n\n") == [" ".join(f"de:{w}" for w in line.split()) for line in LINES]


async def test_a_job_accepted_by_a_replica_that_runs_none_runs_after_the_restart(
    app_client: AppClient, tmp_path: Path
) -> None:
    async with app_client(max_jobs=0) as client:
        job = await create(client)
        await asyncio.sleep(0.1)
        assert (await client.get(f"/jobs/{job['id']}")).json()["state"] == "queued"
    async with app_client() as client:
        assert (await wait_for(client, job["id"], "done", "failed"))["state"] == "done"


@pytest.mark.parametrize(
    ("workers", "chunk", "jobs", "expected"),
    [(1, 64, 2, 2), (2, 64, 2, 3), (16, 64, 2, 9), (16, 64, 0, 17), (4, 1024, 2, 2)],
)
def test_a_job_keeps_a_chunk_ahead_per_engine_worker_within_the_queue(
    workers: int, chunk: int, jobs: int, expected: int
) -> None:
    # model_construct: a many-core machine's thread counts, which this machine's check would refuse
    settings = Settings.model_construct(inter_threads=workers, job_chunk_size=chunk, max_jobs=jobs, max_queue=1024)
    assert lookahead(settings) == expected
