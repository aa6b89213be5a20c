"""Background jobs in PostgreSQL: the ``JobStore`` that replicas share, with the SQLite store's semantics.

Why PostgreSQL and no broker: the replicas already share this database for their memories. A replica claims the
oldest open job with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two replicas claiming at the same moment take
different jobs, neither waits), holds it under a lease it renews, and every write checks the lease in the same
statement; uploads and results are ``bytea`` in the database, so any replica can serve any job's status and
result. Times come from the database server's clock (``clock_timestamp()``), so replicas whose clocks differ
still agree on when a lease ran out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.fewshot.store_postgres import Database
from service.jobs.model import MAX_ERRORS, Job, JobError, JobSpec, JobState, Outcome, new_job_id
from service.jobs.store import JOB_COLUMNS, STORE, interrupted_error, job_from_row, outcome_rows, saved_translation

if TYPE_CHECKING:
    from service.fewshot.store_postgres import Connection

_NOW = "extract(epoch from clock_timestamp())"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS xlt_jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    filename TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    model TEXT,
    memory TEXT,
    options TEXT NOT NULL,
    owner TEXT,
    everyone BOOLEAN NOT NULL DEFAULT FALSE,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    error_code TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS xlt_jobs_open ON xlt_jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS xlt_jobs_by_finish ON xlt_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS xlt_job_files (
    job_id TEXT NOT NULL REFERENCES xlt_jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS xlt_job_segments (
    job_id TEXT NOT NULL REFERENCES xlt_jobs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    translation TEXT,
    error_code TEXT,
    error TEXT,
    reviewed BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (job_id, idx)
);
ALTER TABLE xlt_job_segments ADD COLUMN IF NOT EXISTS reviewed BOOLEAN NOT NULL DEFAULT FALSE;
"""


def _job(db: Connection, job_id: str) -> Job | None:
    row = db.execute(f"SELECT {JOB_COLUMNS} FROM xlt_jobs WHERE id = %s", (job_id,)).fetchone()
    if row is None:
        return None
    errors = db.execute(
        "SELECT idx, error_code, error FROM xlt_job_segments WHERE job_id = %s AND error_code IS NOT NULL "
        "ORDER BY idx LIMIT %s",
        (job_id, MAX_ERRORS),
    ).fetchall()
    count = len(errors)
    if count == MAX_ERRORS:
        found = db.execute(
            "SELECT COUNT(*) FROM xlt_job_segments WHERE job_id = %s AND error_code IS NOT NULL", (job_id,)
        ).fetchone()
        count = int(found[0]) if found else count
    return job_from_row(row, errors, count)


def _held(db: Connection, job_id: str, worker: str, lease_s: float) -> bool:
    cursor = db.execute(
        f"UPDATE xlt_jobs SET lease_until = {_NOW} + %s WHERE id = %s AND state = 'running' AND worker = %s",
        (lease_s, job_id, worker),
    )
    return cursor.rowcount == 1


def _end(db: Connection, job_id: str, state: JobState, error: JobError | None = None) -> None:
    db.execute(
        f"UPDATE xlt_jobs SET state = %s, finished_at = {_NOW}, lease_until = NULL, error_code = %s, error = %s "
        "WHERE id = %s",
        (state, error and error.code, error and error.message, job_id),
    )
    db.execute("DELETE FROM xlt_job_files WHERE job_id = %s AND kind = 'upload'", (job_id,))
    db.execute("DELETE FROM xlt_job_segments WHERE job_id = %s AND error_code IS NULL", (job_id,))


class PostgresJobStore:
    """Jobs in PostgreSQL, shared by every replica given the same URL; the schema is created on first use."""

    def __init__(self, url: str, pool_size: int = 4, wait_s: float = 30.0) -> None:
        self._db = Database(url, STORE, pool_size, wait_s)
        self._db.create_schema(_SCHEMA)

    def create(self, spec: JobSpec, total: int, upload: bytes) -> Job:
        job_id = new_job_id()

        def insert(db: Connection) -> Job | None:
            db.execute(
                f"INSERT INTO xlt_jobs ({JOB_COLUMNS}) VALUES (%s, 'queued', %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, "
                f"{_NOW}, NULL, NULL, 0, NULL, NULL)",
                (job_id, spec.filename, spec.source, spec.target, spec.model, spec.memory, spec.options_json(),
                 spec.owner, spec.everyone, total),
            )  # fmt: skip
            db.execute("INSERT INTO xlt_job_files (job_id, kind, data) VALUES (%s, 'upload', %s)", (job_id, upload))
            return _job(db, job_id)

        job = self._db.call(insert, write=True)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        def read(db: Connection) -> Job | None:
            with db.transaction():  # one snapshot for the job and its errors
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return _job(db, job_id)

        return self._db.call(read, write=False)

    def _file(self, job_id: str, kind: str) -> bytes | None:
        def read(db: Connection) -> Any:
            return db.execute(
                "SELECT data FROM xlt_job_files WHERE job_id = %s AND kind = %s", (job_id, kind)
            ).fetchone()

        row = self._db.call(read, write=False)
        return None if row is None else bytes(row[0])

    def upload(self, job_id: str) -> bytes | None:
        return self._file(job_id, "upload")

    def result(self, job_id: str) -> bytes | None:
        return self._file(job_id, "result")

    def claim(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        def take(db: Connection) -> Job | None:
            while True:
                row = db.execute(
                    "SELECT id, attempts FROM xlt_jobs WHERE state = 'queued' "
                    f"OR (state = 'running' AND lease_until < {_NOW}) "
                    "ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ).fetchone()
                if row is None:
                    return None
                job_id, attempts = row
                if attempts >= max_attempts:
                    _end(db, job_id, "failed", interrupted_error(attempts))
                    continue
                db.execute(
                    f"UPDATE xlt_jobs SET state = 'running', worker = %s, lease_until = {_NOW} + %s, "
                    f"attempts = attempts + 1, started_at = COALESCE(started_at, {_NOW}) WHERE id = %s",
                    (worker, lease_s, job_id),
                )
                return _job(db, job_id)

        return self._db.call(take, write=True)

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool:
        return self._db.call(lambda db: _held(db, job_id, worker, lease_s), write=True)

    def translations(self, job_id: str) -> dict[int, str | None]:
        def read(db: Connection) -> list[Any]:
            return db.execute(
                "SELECT idx, translation, reviewed FROM xlt_job_segments WHERE job_id = %s", (job_id,)
            ).fetchall()

        return {int(idx): saved_translation(text, reviewed) for idx, text, reviewed in self._db.call(read, write=False)}

    def save(self, job_id: str, worker: str, lease_s: float, outcomes: Mapping[int, Outcome]) -> bool:
        rows = outcome_rows(job_id, outcomes)
        columns = [[row[i] for row in rows] for i in range(6)]

        def write(db: Connection) -> bool:
            if not _held(db, job_id, worker, lease_s):
                return False
            added = db.execute(
                "INSERT INTO xlt_job_segments (job_id, idx, translation, error_code, error, reviewed) "
                "SELECT %s, * FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::boolean[]) "
                "ON CONFLICT DO NOTHING",
                (job_id, *columns[1:]),
            ).rowcount
            db.execute("UPDATE xlt_jobs SET done = done + %s WHERE id = %s", (max(0, added), job_id))
            return True

        return self._db.call(write, write=True)

    def finish(self, job_id: str, worker: str, result: bytes | None, error: JobError | None) -> Job | None:
        def write(db: Connection) -> Job | None:
            if not _held(db, job_id, worker, 0.0):
                return None
            _end(db, job_id, "done" if error is None else "failed", error)
            if error is None and result is not None:
                db.execute("INSERT INTO xlt_job_files (job_id, kind, data) VALUES (%s, 'result', %s)", (job_id, result))
            return _job(db, job_id)

        return self._db.call(write, write=True)

    def release(self, job_id: str, worker: str) -> None:
        def write(db: Connection) -> None:
            db.execute(
                "UPDATE xlt_jobs SET state = 'queued', worker = NULL, lease_until = NULL, attempts = attempts - 1 "
                "WHERE id = %s AND state = 'running' AND worker = %s",
                (job_id, worker),
            )

        self._db.call(write, write=True)

    def cancel(self, job_id: str) -> tuple[Job, bool] | None:
        def write(db: Connection) -> tuple[Job, bool] | None:
            row = db.execute("SELECT state FROM xlt_jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
            if row is None:
                return None
            cancelled = row[0] in ("queued", "running")
            if cancelled:
                _end(db, job_id, "cancelled")
            job = _job(db, job_id)
            assert job is not None
            return job, cancelled

        return self._db.call(write, write=True)

    def purge(self, finished_before: float) -> int:
        def write(db: Connection) -> int:
            return db.execute("DELETE FROM xlt_jobs WHERE finished_at < %s", (finished_before,)).rowcount

        return self._db.call(write, write=True)

    def close(self) -> None:
        self._db.close()
