"""Background jobs at rest: the ``JobStore`` protocol, its SQLite implementation, and how the service opens one.

Why a database and not files and a queue in memory: a job is acknowledged (202) only once its row and its upload
are committed, and every chunk of translated segments is committed as it ends, so a restart loses at most the
chunk in flight and the job resumes after the last saved one. A running job is leased to one worker (a replica's
runner) until ``lease_until``; the worker renews the lease while it works. A worker that dies stops renewing,
and once the lease runs out any worker may claim the job and resume it; every write of a worker checks that it
still holds the lease, so a worker that lost its job (taken over, or cancelled) can never write over another's.
One replica keeps jobs in a SQLite file under ``XLT_DATA_DIR``; replicas sharing memories in PostgreSQL share
jobs there too (``store_postgres.py``), with the same semantics. Calls block; the service makes them from threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from service.documents.base import Reviewed
from service.jobs.model import INTERRUPTED, MAX_ERRORS, Job, JobError, JobSpec, JobState, Outcome, new_job_id
from service.storage import connect, store_errors, transaction

STORE = "job store"  # as named in error messages and xlt_store_errors_total
JOBS_DB = "jobs.sqlite3"  # under XLT_DATA_DIR

# Job's stored fields, in order, in both stores (their tables are named differently).
JOB_COLUMNS = (
    "id, state, filename, source, target, model, memory, options, owner, everyone, total, done, "
    "created_at, started_at, finished_at, attempts, error_code, error"
)


def interrupted_error(attempts: int) -> JobError:
    return JobError(INTERRUPTED, f"the job was interrupted {attempts} times (its workers stopped): not retried")


def job_from_row(row: Sequence[Any], errors: Sequence[Sequence[Any]] = (), error_count: int = 0) -> Job:
    """A ``Job`` from a ``JOB_COLUMNS`` row and its segment errors' (idx, code, message) rows."""
    (id_, state, filename, source, target, model, memory, options, owner, everyone, total, done) = row[:12]
    created_at, started_at, finished_at, attempts, error_code, error = row[12:]
    spec = JobSpec(filename, source, target, model, memory, JobSpec.parse_options(options), owner, bool(everyone))
    return Job(
        id=id_,
        spec=spec,
        state=state,
        total=int(total),
        done=int(done),
        created_at=float(created_at),
        started_at=None if started_at is None else float(started_at),
        finished_at=None if finished_at is None else float(finished_at),
        attempts=int(attempts),
        error=None if error_code is None else JobError(error_code, error or ""),
        segment_errors=tuple(JobError(code, message, int(idx)) for idx, code, message in errors),
        more_errors=max(0, error_count - len(errors)),
    )


def outcome_rows(job_id: str, outcomes: Mapping[int, Outcome]) -> list[tuple[Any, ...]]:
    """(job id, index, translation, error code, error message, reviewed) per segment; ``reviewed``: the translation
    is a ``Reviewed`` one (a person's, from a memory), which the catalogs must still know after a resume."""
    rows = []
    for index, outcome in sorted(outcomes.items()):
        error, text = outcome.error, outcome.translation
        plain = None if text is None else str(text)  # drivers bind a plain str
        rows.append((job_id, index, plain, error and error.code, error and error.message, isinstance(text, Reviewed)))
    return rows


def saved_translation(text: str | None, reviewed: Any) -> str | None:
    """A stored translation as the runner saved it (``Reviewed`` again when it was)."""
    return Reviewed(text) if text is not None and reviewed else text


class JobStore(Protocol):
    """What the jobs API and the runners need from job storage; ids are checked before they get here."""

    def create(self, spec: JobSpec, total: int, upload: bytes) -> Job:
        """A queued job with its upload, committed before this returns."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def upload(self, job_id: str) -> bytes | None:
        """The file as sent (None once the job finished: it is dropped then)."""
        ...

    def result(self, job_id: str) -> bytes | None: ...

    def claim(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        """The oldest queued job, or the oldest running one whose lease ran out, now running and leased to
        ``worker`` for ``lease_s``. A job claimed ``max_attempts`` times already fails (``job_interrupted``)
        instead: a file that kills its workers must not kill every replica in turn."""
        ...

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when ``worker`` no longer holds it (cancelled, or taken over)."""
        ...

    def translations(self, job_id: str) -> dict[int, str | None]:
        """The saved outcome of every segment done so far (None: left untranslated)."""
        ...

    def save(self, job_id: str, worker: str, lease_s: float, outcomes: Mapping[int, Outcome]) -> bool:
        """Commit one chunk's outcomes and renew the lease, if ``worker`` still holds it (else write nothing)."""
        ...

    def finish(self, job_id: str, worker: str, result: bytes | None, error: JobError | None) -> Job | None:
        """``done`` with ``result``, or ``failed`` with ``error``; None when ``worker`` no longer holds the job.
        The upload and the saved translations are dropped (the result holds them); segment errors stay."""
        ...

    def release(self, job_id: str, worker: str) -> None:
        """Back to ``queued`` at once (a graceful stop: another worker or the next start resumes it; the claim
        does not count as an attempt)."""
        ...

    def cancel(self, job_id: str) -> tuple[Job, bool] | None:
        """Cancel a queued or running job: the job after it, and whether this call cancelled it (False: it had
        already finished); None when there is no such job."""
        ...

    def purge(self, finished_before: float) -> int:
        """Delete the jobs (and their files) that finished before this Unix time; how many."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    filename TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    model TEXT,
    memory TEXT,
    options TEXT NOT NULL,
    owner TEXT,
    everyone INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until REAL,
    error_code TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS job_files (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS job_segments (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    translation TEXT,
    error_code TEXT,
    error TEXT,
    reviewed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
"""

_OPEN = "state = 'queued' OR (state = 'running' AND lease_until < ?)"


class SQLiteJobStore:
    """One SQLite file in WAL mode, one connection behind a lock (calls are short; files are read whole)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._clock = clock
        with store_errors(STORE):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(path, busy_timeout_s=busy_timeout_s)
            self._db.executescript(_SCHEMA)  # IF NOT EXISTS: idempotent
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(job_segments)")}
            if "reviewed" not in columns:  # a store from before the flag: its saved segments were machine output
                self._db.execute("ALTER TABLE job_segments ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0")
        self._lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, store_errors(STORE), transaction(self._db) as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, store_errors(STORE):
            yield self._db

    def create(self, spec: JobSpec, total: int, upload: bytes) -> Job:
        job = Job(id=new_job_id(), spec=spec, state="queued", total=total, done=0, created_at=self._clock())
        with self._write() as db:
            db.execute(
                f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                (job.id, job.state, spec.filename, spec.source, spec.target, spec.model, spec.memory,
                 spec.options_json(), spec.owner, int(spec.everyone), total, 0, job.created_at, None, None, 0,
                 None, None),
            )  # fmt: skip
            db.execute("INSERT INTO job_files (job_id, kind, data) VALUES (?, 'upload', ?)", (job.id, upload))
        return job

    def _job(self, db: sqlite3.Connection, job_id: str) -> Job | None:
        row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        errors = db.execute(
            "SELECT idx, error_code, error FROM job_segments WHERE job_id = ? AND error_code IS NOT NULL "
            "ORDER BY idx LIMIT ?",
            (job_id, MAX_ERRORS),
        ).fetchall()
        count = len(errors)
        if count == MAX_ERRORS:
            count = db.execute(
                "SELECT COUNT(*) FROM job_segments WHERE job_id = ? AND error_code IS NOT NULL", (job_id,)
            ).fetchone()[0]
        return job_from_row(row, errors, count)

    def get(self, job_id: str) -> Job | None:
        with self._read() as db:
            return self._job(db, job_id)

    def _file(self, job_id: str, kind: str) -> bytes | None:
        with self._read() as db:
            row = db.execute("SELECT data FROM job_files WHERE job_id = ? AND kind = ?", (job_id, kind)).fetchone()
        return None if row is None else bytes(row[0])

    def upload(self, job_id: str) -> bytes | None:
        return self._file(job_id, "upload")

    def result(self, job_id: str) -> bytes | None:
        return self._file(job_id, "result")

    def claim(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        with self._write() as db:
            while True:
                now = self._clock()
                row = db.execute(
                    f"SELECT id, attempts FROM jobs WHERE {_OPEN} ORDER BY created_at, id LIMIT 1", (now,)
                ).fetchone()
                if row is None:
                    return None
                job_id, attempts = row
                if attempts >= max_attempts:
                    error = interrupted_error(attempts)
                    self._end(db, job_id, "failed", now, error)
                    continue
                db.execute(
                    "UPDATE jobs SET state = 'running', worker = ?, lease_until = ?, attempts = attempts + 1, "
                    "started_at = COALESCE(started_at, ?) WHERE id = ?",
                    (worker, now + lease_s, now, job_id),
                )
                return self._job(db, job_id)

    def _held(self, db: sqlite3.Connection, job_id: str, worker: str, lease_until: float) -> bool:
        return (
            db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND worker = ?",
                (lease_until, job_id, worker),
            ).rowcount
            == 1
        )

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool:
        with self._write() as db:
            return self._held(db, job_id, worker, self._clock() + lease_s)

    def translations(self, job_id: str) -> dict[int, str | None]:
        with self._read() as db:
            rows = db.execute(
                "SELECT idx, translation, reviewed FROM job_segments WHERE job_id = ?", (job_id,)
            ).fetchall()
        return {int(idx): saved_translation(text, reviewed) for idx, text, reviewed in rows}

    def save(self, job_id: str, worker: str, lease_s: float, outcomes: Mapping[int, Outcome]) -> bool:
        with self._write() as db:
            if not self._held(db, job_id, worker, self._clock() + lease_s):
                return False
            added = db.executemany(
                "INSERT OR IGNORE INTO job_segments (job_id, idx, translation, error_code, error, reviewed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                outcome_rows(job_id, outcomes),
            ).rowcount
            db.execute("UPDATE jobs SET done = done + ? WHERE id = ?", (max(0, added), job_id))
        return True

    def _end(
        self, db: sqlite3.Connection, job_id: str, state: JobState, now: float, error: JobError | None = None
    ) -> None:
        db.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, lease_until = NULL, error_code = ?, error = ? WHERE id = ?",
            (state, now, error and error.code, error and error.message, job_id),
        )
        db.execute("DELETE FROM job_files WHERE job_id = ? AND kind = 'upload'", (job_id,))
        db.execute("DELETE FROM job_segments WHERE job_id = ? AND error_code IS NULL", (job_id,))

    def finish(self, job_id: str, worker: str, result: bytes | None, error: JobError | None) -> Job | None:
        with self._write() as db:
            now = self._clock()
            if not self._held(db, job_id, worker, now):
                return None
            self._end(db, job_id, "done" if error is None else "failed", now, error)
            if error is None and result is not None:
                db.execute("INSERT INTO job_files (job_id, kind, data) VALUES (?, 'result', ?)", (job_id, result))
            return self._job(db, job_id)

    def release(self, job_id: str, worker: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, attempts = attempts - 1 "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (job_id, worker),
            )

    def cancel(self, job_id: str) -> tuple[Job, bool] | None:
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            cancelled = row[0] in ("queued", "running")
            if cancelled:
                self._end(db, job_id, "cancelled", self._clock())
            job = self._job(db, job_id)
        assert job is not None
        return job, cancelled

    def purge(self, finished_before: float) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM jobs WHERE finished_at < ?", (finished_before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class JobStoreOpener:
    """How this service opens its job store, and whether there can be jobs at all yet (no SQLite file: none,
    so a service that never had a job never creates one)."""

    open: Callable[[], JobStore]
    present: Callable[[], bool]


def job_store_opener(url: str | None, data_dir: Path) -> JobStoreOpener:
    """Jobs live where the memories do: PostgreSQL when ``XLT_MEMORY_STORE_URL`` names it (shared by the
    replicas), else a SQLite file under ``XLT_DATA_DIR`` (beside a ``sqlite:///`` memory store's own path)."""
    if url is not None and url.startswith("postgres"):
        from service.jobs.store_postgres import PostgresJobStore

        return JobStoreOpener(lambda: PostgresJobStore(url), lambda: True)
    path = data_dir / JOBS_DB
    return JobStoreOpener(lambda: SQLiteJobStore(path), path.exists)
