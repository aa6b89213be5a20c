"""Translation memories at rest: the ``MemoryStore`` protocol and its SQLite implementation.

Why a protocol: one replica keeps memories in a SQLite file under ``XLT_DATA_DIR``; several replicas sharing
memories need a server database (PostgreSQL) behind the same few calls. Every write commits before it returns,
so what the API acknowledged survives a crash (WAL, ``synchronous=FULL``); a failed write (locked database, full
disk) is rolled back whole and answered 503 ``store_unavailable`` or 507 ``store_full``. Each write bumps the memory's
``revision`` and stamps its entries with it: an index in any replica catches up by reading only newer entries.
Entries written by machine (a background job's ``store: true``) are flagged unreviewed: they serve lookups like any
other, never replace an entry a person wrote, and become reviewed when a person writes the same source.
Calls block; the service makes them from worker threads.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from service.errors import InvalidMemoryId, MemoryNotFound
from service.storage import connect, store_errors, transaction

STORE = "memory store"  # as named in error messages
_MEMORY_ID = re.compile(r"^[0-9a-f]{32}$")
_SPACES = re.compile(r"\s+")


def new_memory_id() -> str:
    return uuid.uuid4().hex


def check_memory_id(value: str) -> str:
    """Only uuid4 hex ids reach storage (no paths, no SQL, no other shapes)."""
    if not _MEMORY_ID.match(value) or uuid.UUID(hex=value).version != 4:
        raise InvalidMemoryId(f"memory id {value[:64]!r} is not a uuid4 hex string")
    return value


def normalize(text: str) -> str:
    """The exact-match key of a segment: surrounding and repeated whitespace do not count."""
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class PairCount:
    source_lang: str
    target_lang: str
    entries: int
    unreviewed: int = 0  # machine-written entries no person has written since


@dataclass(frozen=True)
class MemoryInfo:
    id: str
    name: str
    created_at: float
    revision: int
    owner: str | None = None  # the API key that created it (None: created without a key)
    pairs: tuple[PairCount, ...] = ()


@dataclass(frozen=True)
class Head:
    """What every lookup reads first: whether the cached index is current, and who may see the memory."""

    revision: int
    owner: str | None


@dataclass(frozen=True)
class Entry:
    source: str
    target: str
    revision: int
    reviewed: bool = True  # False: a machine translation no person has written since (``add(reviewed=False)``)


class MemoryStore(Protocol):
    """What the service needs from memory storage; ids are checked before they get here."""

    def create(self, name: str, owner: str | None = None) -> MemoryInfo: ...

    def get(self, memory_id: str) -> MemoryInfo:
        """The memory with its entry counts per language pair; ``MemoryNotFound`` when missing."""
        ...

    def list_memories(self) -> list[MemoryInfo]: ...

    def delete(self, memory_id: str) -> None: ...

    def add(
        self,
        memory_id: str,
        source_lang: str,
        target_lang: str,
        pairs: Sequence[tuple[str, str]],
        reviewed: bool = True,
    ) -> int:
        """Insert or replace entries (keyed by normalized source); returns the new revision, committed.

        ``reviewed=False`` (machine translations): flagged unreviewed, and an existing reviewed entry is kept."""
        ...

    def head(self, memory_id: str) -> Head | None:
        """The memory's revision and owner (cheap: called on every lookup), or None when it does not exist."""
        ...

    def entries_since(self, memory_id: str, source_lang: str, target_lang: str, revision: int) -> list[Entry]:
        """Entries of one language pair written after ``revision``."""
        ...

    def close(self) -> None: ...


INFO_COLUMNS = "id, name, created_at, revision, owner"  # MemoryInfo's stored fields, in order
_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    revision INTEGER NOT NULL,
    reviewed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (memory_id, source_lang, target_lang, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_revision ON entries (memory_id, source_lang, target_lang, revision);
"""


class SQLiteMemoryStore:
    """One SQLite file in WAL mode: a writer connection and a reader connection, each behind its own lock.

    Readers never wait for a long import (WAL lets them read the last committed state meanwhile).
    """

    def __init__(self, path: Path, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        with store_errors(STORE):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = connect(path, busy_timeout_s=busy_timeout_s)
            self._writer.executescript(_SCHEMA)  # IF NOT EXISTS: idempotent
            columns = {row[1] for row in self._writer.execute("PRAGMA table_info(memories)")}
            if "owner" not in columns:  # a store written before memories had owners: theirs stay unowned
                self._writer.execute("ALTER TABLE memories ADD COLUMN owner TEXT")
            columns = {row[1] for row in self._writer.execute("PRAGMA table_info(entries)")}
            if "reviewed" not in columns:  # written before the flag: every entry came from a person
                self._writer.execute("ALTER TABLE entries ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 1")
            self._reader = connect(path, busy_timeout_s=busy_timeout_s)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, store_errors(STORE), transaction(self._writer) as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock, store_errors(STORE):
            yield self._reader

    def create(self, name: str, owner: str | None = None) -> MemoryInfo:
        info = MemoryInfo(id=new_memory_id(), name=name, created_at=time.time(), revision=0, owner=owner)
        with self._write() as db:
            db.execute(
                "INSERT INTO memories (id, name, created_at, revision, owner) VALUES (?, ?, ?, 0, ?)",
                (info.id, info.name, info.created_at, owner),
            )
        return info

    def get(self, memory_id: str) -> MemoryInfo:
        with self._read() as db:
            row = db.execute(f"SELECT {INFO_COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
            if row is None:
                raise MemoryNotFound(f"memory {memory_id} not found")
            counts = db.execute(
                "SELECT source_lang, target_lang, COUNT(*), SUM(1 - reviewed) FROM entries WHERE memory_id = ? "
                "GROUP BY source_lang, target_lang ORDER BY source_lang, target_lang",
                (memory_id,),
            ).fetchall()
        return MemoryInfo(row[0], row[1], row[2], row[3], row[4], tuple(PairCount(*c) for c in counts))

    def list_memories(self) -> list[MemoryInfo]:
        with self._read() as db:
            rows = db.execute(f"SELECT {INFO_COLUMNS} FROM memories ORDER BY created_at, id").fetchall()
        return [MemoryInfo(*row) for row in rows]

    def delete(self, memory_id: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM memories WHERE id = ?", (memory_id,)).rowcount == 0:
                raise MemoryNotFound(f"memory {memory_id} not found")

    def add(
        self,
        memory_id: str,
        source_lang: str,
        target_lang: str,
        pairs: Sequence[tuple[str, str]],
        reviewed: bool = True,
    ) -> int:
        keep_reviewed = "" if reviewed else " WHERE entries.reviewed = 0"  # a person's entry is never replaced
        with self._write() as db:
            row = db.execute(
                "UPDATE memories SET revision = revision + 1 WHERE id = ? RETURNING revision", (memory_id,)
            ).fetchone()
            if row is None:
                raise MemoryNotFound(f"memory {memory_id} not found")
            revision: int = row[0]
            db.executemany(
                "INSERT INTO entries (memory_id, source_lang, target_lang, source, target, revision, reviewed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (memory_id, source_lang, target_lang, source) "
                "DO UPDATE SET target = excluded.target, revision = excluded.revision, reviewed = excluded.reviewed"
                + keep_reviewed,
                ((memory_id, source_lang, target_lang, normalize(s), t, revision, int(reviewed)) for s, t in pairs),
            )
        return revision

    def head(self, memory_id: str) -> Head | None:
        with self._read() as db:
            row = db.execute("SELECT revision, owner FROM memories WHERE id = ?", (memory_id,)).fetchone()
        return None if row is None else Head(int(row[0]), row[1])

    def entries_since(self, memory_id: str, source_lang: str, target_lang: str, revision: int) -> list[Entry]:
        with self._read() as db:
            rows = db.execute(
                "SELECT source, target, revision, reviewed FROM entries WHERE memory_id = ? AND source_lang = ? "
                "AND target_lang = ? AND revision > ? ORDER BY revision",
                (memory_id, source_lang, target_lang, revision),
            ).fetchall()
        return [Entry(source, target, rev, bool(reviewed)) for source, target, rev, reviewed in rows]

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()
