"""Background jobs shared by two ``xlt serve`` replicas on one PostgreSQL store (the throwaway server): a job made
through one is seen, polled, downloaded and cancelled through the other; both replicas take a share of several jobs;
a replica killed (SIGKILL) while it works on a job loses it to the other, which finishes it. Leases are short here
(``XLT_JOB_LEASE_S``) so the takeover comes within seconds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import SERVER_ENV, Server, start_server, stop_server

PARAGRAPHS = 1000  # with one segment per chunk, the job runs long enough to be caught working
SHARED_JOBS = 4  # each replica runs one job at a time (XLT_MAX_JOBS=1): one replica alone cannot hold them all
SHARED_PARAGRAPHS = 150  # long enough that the other replica's next poll (every 0.2 s) comes before a job ends
WAIT_S = 240.0  # bounds on polls, so that a broken takeover fails the test rather than hangs it


def paragraphs(n: int) -> bytes:
    return "\n\n".join(f"The house number {i} is small." for i in range(n)).encode()


@pytest.fixture
def replicas(tiny_models_dir: Path, postgres_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    env = SERVER_ENV | {
        "XLT_MEMORY_STORE_URL": postgres_url,
        "XLT_JOB_LEASE_S": "2",
        "XLT_JOB_POLL_S": "0.2",
        "XLT_JOB_CHUNK_SIZE": "1",
        "XLT_MAX_JOBS": "1",
        "XLT_LANGUAGE_DETECTION": "false",
    }
    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            log = tmp_path / f"{name}.log"
            servers.append(start_server(tiny_models_dir, log, env | {"XLT_DATA_DIR": str(tmp_path / name)}))
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                stop_server(server)


def create(server: Server, data: bytes, name: str = "notes.txt") -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/jobs", files={"file": (name, data)}, data={"source": "en", "target": "de"}, timeout=60
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def status(server: Server, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/jobs/{job_id}", timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(server: Server, job_id: str, until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        body = status(server, job_id)
        if until(body):
            return body
        assert time.monotonic() < deadline, f"the job never got there: {body}"
        time.sleep(0.05)


def worker_pid(postgres_url: str, job_id: str) -> int:
    """The process holding the job's lease (its worker id is ``host:pid:random``)."""
    import psycopg

    with psycopg.connect(postgres_url) as db:
        row = db.execute("SELECT worker FROM xlt_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None and row[0], "the job has no worker"
    return int(str(row[0]).split(":")[1])


def test_a_job_is_seen_downloaded_and_cancelled_through_either_replica(replicas: list[Server]) -> None:
    a, b = replicas
    job = create(a, paragraphs(3))
    seen = status(b, job["id"])
    assert seen["filename"] == "notes.txt" and seen["progress"]["total"] == 3
    done = poll(b, job["id"], lambda s: s["state"] in ("done", "failed"))
    assert done["state"] == "done", done
    for server in (a, b):
        result = httpx.get(f"{server.url}/jobs/{job['id']}/result", timeout=30)
        assert result.status_code == 200 and len(result.text.split("\n\n")) == 3
    long = create(b, paragraphs(PARAGRAPHS))
    cancelled = httpx.delete(f"{a.url}/jobs/{long['id']}", timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert status(b, long["id"])["state"] == "cancelled"
    assert httpx.get(f"{b.url}/jobs/{long['id']}/result", timeout=30).json()["error"]["code"] == "job_no_result"


def jobs_done(server: Server) -> float:
    """The replica's own count of jobs it finished (``xlt_jobs_total{state="done"}`` on its ``/metrics``)."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    return sum(s.value for s in samples if s.name == "xlt_jobs_total" and s.labels.get("state") == "done")


def test_every_replica_takes_a_share_of_the_jobs(replicas: list[Server]) -> None:
    """All the jobs are created through one replica (which is told at once); the other only learns of them by
    polling the store. Each runs one job at a time, so while the first holds one job the second must claim the
    next: both finish some. A replica that claimed greedily, or a claim that waited on a locked row, would show
    here as one replica finishing every job."""
    a, b = replicas
    jobs = [create(a, paragraphs(SHARED_PARAGRAPHS), name=f"notes-{i}.txt") for i in range(SHARED_JOBS)]
    for job in jobs:
        done = poll(b, job["id"], lambda s: s["state"] in ("done", "failed", "cancelled"))
        assert done["state"] == "done" and done["progress"]["done"] == SHARED_PARAGRAPHS, done
    counts = {"a (where the jobs were created)": int(jobs_done(a)), "b": int(jobs_done(b))}
    assert sum(counts.values()) == SHARED_JOBS, f"each job is finished once, by one replica: {counts}"
    idle = [name for name, count in counts.items() if count == 0]
    assert not idle, f"replica {', '.join(idle)} finished none of the {SHARED_JOBS} jobs (per replica: {counts})"


def test_the_other_replica_finishes_a_job_whose_worker_was_killed(replicas: list[Server], postgres_url: str) -> None:
    a, _ = replicas
    job = create(a, paragraphs(PARAGRAPHS))
    poll(a, job["id"], lambda s: s["state"] == "running" and s["progress"]["done"] >= 1)
    pid = worker_pid(postgres_url, job["id"])
    victim = next(s for s in replicas if s.process.pid == pid)
    survivor = next(s for s in replicas if s is not victim)
    os.kill(victim.process.pid, signal.SIGKILL)  # by its PID: no graceful hand-back
    victim.process.wait(timeout=30)
    caught = status(survivor, job["id"])
    assert caught["progress"]["done"] < PARAGRAPHS, "the job ended before its worker was killed: make it longer"
    done = poll(survivor, job["id"], lambda s: s["state"] in ("done", "failed", "cancelled"))
    assert done["state"] == "done" and done["progress"] == {"done": PARAGRAPHS, "total": PARAGRAPHS}, done
    assert done["attempts"] == 2  # claimed by the victim, then taken over once its lease ran out
    assert worker_pid(postgres_url, job["id"]) == survivor.process.pid
    result = httpx.get(f"{survivor.url}/jobs/{job['id']}/result", timeout=30)
    assert result.status_code == 200
    units = result.text.split("\n\n")
    assert len(units) == PARAGRAPHS and all(u.strip() for u in units)
