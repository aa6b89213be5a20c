"""What a background job is at rest: what was asked (``JobSpec``), where it stands (``Job``), what each segment
came to (``Outcome``).

Why plain frozen dataclasses: both stores (SQLite, PostgreSQL) read and write the same records, the runner and
the routes share them, and nothing here knows about HTTP or SQL.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Literal

from service.documents.base import FileOptions
from service.errors import InvalidJobId

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
MAX_ERRORS = 50  # segment errors kept per job (the rest are counted, not stored)
INTERRUPTED = "job_interrupted"  # the error code of a job whose workers kept dying
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return uuid.uuid4().hex


def check_job_id(value: str) -> str:
    """Only uuid4 hex ids reach storage (no paths, no SQL, no other shapes)."""
    if not _JOB_ID.match(value) or uuid.UUID(hex=value).version != 4:
        raise InvalidJobId(f"job id {value[:64]!r} is not a uuid4 hex string")
    return value


@dataclass(frozen=True)
class JobSpec:
    """What the client asked for. ``source`` is never ``auto`` here: it is detected once, when the job is made.
    ``owner``/``everyone``: the creating key and whether it saw every memory (admin); the job runs with that
    scope, and only that key (or an admin) sees the job."""

    filename: str
    source: str
    target: str
    model: str | None = None
    memory: str | None = None
    options: FileOptions = field(default_factory=FileOptions)
    owner: str | None = None
    everyone: bool = False

    def options_json(self) -> str:
        return json.dumps(asdict(self.options), sort_keys=True)

    @staticmethod
    def parse_options(text: str) -> FileOptions:
        return FileOptions(**json.loads(text))


@dataclass(frozen=True)
class JobError:
    """Why a job failed (``segment`` None), or why one segment was left untranslated."""

    code: str
    message: str
    segment: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One segment's result: its translation (None: left as it was) and, when something went wrong, why."""

    translation: str | None
    error: JobError | None = None


@dataclass(frozen=True)
class Job:
    id: str
    spec: JobSpec
    state: JobState
    total: int  # segments in the file
    done: int  # segments with an outcome saved
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0  # times a replica claimed it (a resume after a restart or a takeover adds one)
    error: JobError | None = None
    segment_errors: tuple[JobError, ...] = ()
    more_errors: int = 0  # segment errors past MAX_ERRORS

    @property
    def finished(self) -> bool:
        return self.state in FINISHED
