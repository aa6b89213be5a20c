"""The job stores (SQLite, and PostgreSQL on the throwaway server): jobs and files committed, claims under
leases, takeovers after a lease runs out, writes refused to a worker that lost its job, cancel, release, purge."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.documents.base import FileOptions, Reviewed
from service.jobs.model import INTERRUPTED, JobError, JobSpec, Outcome
from service.jobs.store import JobStore, SQLiteJobStore, job_store_opener
from service.jobs.store_postgres import PostgresJobStore

SPEC = JobSpec("app.po", "en", "de", None, None, FileOptions(mark_fuzzy=False), owner="k1")
LEASE = 30.0


class Clock:
    """SQLite's clock, moved by the tests (PostgreSQL's is the server's: those tests wait instead)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


OpenStore = Callable[[], JobStore]


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[OpenStore]:
    """Opens store objects on one shared storage (several objects: several replicas)."""
    opened: list[JobStore] = []
    url: str | None = request.getfixturevalue("postgres_url") if kind == "postgres" else None

    def make() -> JobStore:
        store: JobStore = PostgresJobStore(url) if url else SQLiteJobStore(tmp_path / "jobs.sqlite3", clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> JobStore:
    return open_store()


def wait(kind: str, clock: Clock, seconds: float) -> None:
    if kind == "sqlite":
        clock.now += seconds
    else:
        time.sleep(seconds)


def expire(kind: str, clock: Clock, lease_s: float) -> None:
    wait(kind, clock, lease_s + 0.2)


def test_a_job_and_its_upload_are_committed_and_read_back(open_store: OpenStore) -> None:
    job = open_store().create(SPEC, 3, b"msgid ...")
    other = open_store()  # another connection, as a restarted process or another replica
    got = other.get(job.id)
    assert got is not None and got.state == "queued" and (got.done, got.total) == (0, 3)
    assert got.spec == SPEC and got.attempts == 0 and got.error is None and not got.finished
    assert other.upload(job.id) == b"msgid ..." and other.result(job.id) is None
    assert other.get("0" * 32) is None


def test_claim_save_finish(store: JobStore) -> None:
    job = store.create(SPEC, 3, b"data")
    claimed = store.claim("w1", LEASE, 5)
    assert claimed is not None and claimed.id == job.id and claimed.state == "running" and claimed.attempts == 1
    assert claimed.started_at is not None
    assert store.claim("w2", LEASE, 5) is None  # leased: nobody else gets it
    assert store.save(job.id, "w1", LEASE, {0: Outcome("eins"), 1: Outcome(None)})
    error = JobError("segment_untranslated", "segment 2 was left untranslated", 2)
    assert store.save(job.id, "w1", LEASE, {2: Outcome(None, error)})
    assert store.save(job.id, "w1", LEASE, {0: Outcome("again")})  # a chunk saved twice counts once
    assert store.translations(job.id) == {0: "eins", 1: None, 2: None}
    running = store.get(job.id)
    assert running is not None and running.done == 3 and running.segment_errors == (error,)
    done = store.finish(job.id, "w1", b"result", None)
    assert done is not None and done.state == "done" and done.finished_at is not None
    assert store.result(job.id) == b"result" and store.upload(job.id) is None  # the upload is dropped
    assert store.translations(job.id) == {2: None}  # only the segment errors stay
    assert store.get(job.id).segment_errors == (error,)  # type: ignore[union-attr]


def test_a_reviewed_translation_is_read_back_reviewed(open_store: OpenStore) -> None:
    """A person's translation (from a reviewed memory entry) keeps its mark in the store: the catalog written after
    a resume must not mark it fuzzy."""
    store = open_store()
    job = store.create(SPEC, 3, b"data")
    assert store.claim("w1", LEASE, 5) is not None
    assert store.save(job.id, "w1", LEASE, {0: Outcome(Reviewed("Ja")), 1: Outcome("de:No"), 2: Outcome(None)})
    saved = open_store().translations(job.id)  # as a resuming replica reads them
    assert saved == {0: "Ja", 1: "de:No", 2: None}
    assert [type(saved[i]) for i in range(3)] == [Reviewed, str, type(None)]


def test_a_worker_that_lost_its_lease_writes_nothing(kind: str, store: JobStore, clock: Clock) -> None:
    job = store.create(SPEC, 2, b"data")
    assert store.claim("w1", 0.5, 5) is not None
    assert store.save(job.id, "w1", 0.5, {0: Outcome("eins")})
    expire(kind, clock, 0.5)  # w1 died: its lease runs out
    taken = store.claim("w2", LEASE, 5)
    assert taken is not None and taken.id == job.id and taken.attempts == 2 and taken.done == 1
    assert not store.renew(job.id, "w1", LEASE)
    assert not store.save(job.id, "w1", LEASE, {1: Outcome("zwei?")})
    assert store.finish(job.id, "w1", b"stale", None) is None
    assert store.save(job.id, "w2", LEASE, {1: Outcome("zwei")})
    assert store.translations(job.id) == {0: "eins", 1: "zwei"}
    assert store.finish(job.id, "w2", b"ok", None) is not None and store.result(job.id) == b"ok"


def test_a_renewed_lease_is_not_taken_over(kind: str, store: JobStore, clock: Clock) -> None:
    job = store.create(SPEC, 1, b"data")
    assert store.claim("w1", 1.0, 5) is not None
    for _ in range(3):
        wait(kind, clock, 0.4)  # three times 0.4 s: past the first lease, within each renewed one
        assert store.renew(job.id, "w1", 1.0)
        assert store.claim("w2", 1.0, 5) is None


def test_a_released_job_is_claimed_again_without_counting_an_attempt(store: JobStore) -> None:
    job = store.create(SPEC, 1, b"data")
    assert store.claim("w1", LEASE, 5) is not None
    store.release(job.id, "w1")
    again = store.get(job.id)
    assert again is not None and again.state == "queued" and again.attempts == 0
    resumed = store.claim("w2", LEASE, 5)
    assert resumed is not None and resumed.attempts == 1


def test_a_job_that_keeps_killing_its_workers_fails(kind: str, store: JobStore, clock: Clock) -> None:
    job = store.create(SPEC, 1, b"data")
    wait(kind, clock, 0.01)
    later = store.create(SPEC, 1, b"data")
    for attempt in range(2):
        claimed = store.claim(f"w{attempt}", 0.5, 2)
        assert claimed is not None and claimed.id == job.id
        expire(kind, clock, 0.5)
    nxt = store.claim("w9", LEASE, 2)  # the first job fails instead; the next one is claimed
    assert nxt is not None and nxt.id == later.id
    failed = store.get(job.id)
    assert failed is not None and failed.state == "failed" and failed.error is not None
    assert failed.error.code == INTERRUPTED and store.upload(job.id) is None


def test_cancel(store: JobStore) -> None:
    queued, running = store.create(SPEC, 1, b"a"), store.create(SPEC, 1, b"b")
    found = store.cancel(queued.id)
    assert found is not None and found[1] and found[0].state == "cancelled"
    assert store.claim("w1", LEASE, 5).id == running.id  # type: ignore[union-attr]
    found = store.cancel(running.id)
    assert found is not None and found[1] and found[0].finished_at is not None
    assert not store.renew(running.id, "w1", LEASE) and not store.save(running.id, "w1", LEASE, {0: Outcome("x")})
    again = store.cancel(running.id)
    assert again is not None and not again[1]  # already ended: nothing changed
    assert store.cancel("0" * 32) is None
    assert store.claim("w1", LEASE, 5) is None


def test_claims_take_the_oldest_and_never_the_same_job_twice(open_store: OpenStore) -> None:
    first = open_store()
    jobs = [first.create(SPEC, 1, b"x").id for _ in range(6)]
    replicas = [open_store() for _ in range(3)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_all(store: JobStore, worker: str) -> None:
        while (job := store.claim(worker, LEASE, 5)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(s, f"w{i}")) for i, s in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(jobs)  # each job once
    assert first.claim("w", LEASE, 5) is None


def test_purge_deletes_finished_jobs_and_their_files(store: JobStore) -> None:
    old, open_job = store.create(SPEC, 1, b"a"), store.create(SPEC, 1, b"b")
    found = store.cancel(old.id)
    assert found is not None and found[0].finished_at is not None
    ended = found[0].finished_at
    assert store.purge(ended - 1) == 0 and store.get(old.id) is not None
    assert store.purge(ended + 1) == 1
    assert store.get(old.id) is None and store.get(open_job.id) is not None


def test_sqlite_jobs_live_under_the_data_dir_and_only_once_there_is_one(tmp_path: Path) -> None:
    opener = job_store_opener(None, tmp_path / "data")
    assert not opener.present()
    store = opener.open()
    try:
        assert opener.present() and (tmp_path / "data" / "jobs.sqlite3").is_file()
    finally:
        store.close()
    assert job_store_opener("postgresql://db/xlt", tmp_path).present()  # not connected: a server may be starting
