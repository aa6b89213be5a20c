"""Translation memories in PostgreSQL: the ``MemoryStore`` that several replicas share.

Why: with one SQLite file per replica, a memory written through one replica is invisible to the others. Here
every replica reads and writes the same tables, with the SQLite store's semantics: each write is one
transaction committed before the call returns, bumps the memory's ``revision`` (the row lock on the memory
serializes writers, so revisions commit in order) and stamps its entries with it, which is all another
replica's index cache needs to catch up. ``psycopg`` (v3) is imported only when this store is configured, so
the serving install without it keeps working with SQLite. Calls block; the service makes them from worker
threads, each borrowing one connection of a small pool.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from service.errors import InvalidRequest, MemoryNotFound, StoreFull, StoreUnavailable, XltError
from service.fewshot.store import INFO_COLUMNS, STORE, Entry, Head, MemoryInfo, PairCount, new_memory_id, normalize

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    Connection = psycopg.Connection[TupleRow]

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTALL_HINT = (
    "XLT_MEMORY_STORE_URL names PostgreSQL, which needs the psycopg driver: "
    "pip install 'psycopg[binary]>=3.1' (or leave XLT_MEMORY_STORE_URL unset for SQLite under XLT_DATA_DIR)"
)
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")  # SQLAlchemy style: postgresql+psycopg://

# Prefixed names: the database may be shared with other applications. Entries are keyed by the SHA-256 of the
# normalized source, not the source itself: a btree key is limited to about 2.7 kB and segments may be longer.
# The advisory lock serializes replicas creating the schema at the same moment (concurrent CREATE TABLE IF
# NOT EXISTS can fail on the catalog's unique index).
_SCHEMA_LOCK = 0x786C74  # "xlt"
_CHUNK = 10_000  # entries per INSERT: one round trip each, a bounded message
_SCHEMA = """
CREATE TABLE IF NOT EXISTS xlt_memories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revision BIGINT NOT NULL DEFAULT 0,
    owner TEXT
);
ALTER TABLE xlt_memories ADD COLUMN IF NOT EXISTS owner TEXT;
CREATE TABLE IF NOT EXISTS xlt_memory_entries (
    memory_id TEXT NOT NULL REFERENCES xlt_memories(id) ON DELETE CASCADE,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source_key BYTEA NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    revision BIGINT NOT NULL,
    reviewed BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (memory_id, source_lang, target_lang, source_key)
);
ALTER TABLE xlt_memory_entries ADD COLUMN IF NOT EXISTS reviewed BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX IF NOT EXISTS xlt_memory_entries_by_revision
    ON xlt_memory_entries (memory_id, source_lang, target_lang, revision);
"""

# SQLSTATE -> why the store is unavailable, as clients read it (the server's own message, which may name hosts
# and addresses, goes to the log only).
_UNAVAILABLE = {
    "08": "the database server is unreachable",
    "25006": "the database is read-only",
    "40": "a conflicting transaction",
    "42501": "permission denied",
    "53300": "too many connections to the database",
    "55P03": "a lock wait timed out",
    "57014": "a statement timed out",
    "57P": "the database server is restarting",
}


def conninfo(url: str) -> str:
    """The libpq connection string for ``url``, checked without connecting (so a malformed URL fails at start).

    The URL is never echoed: it may carry a password.
    """
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo
    except ImportError as exc:
        raise ValueError(INSTALL_HINT) from exc

    try:
        params = conninfo_to_dict(_DRIVER_SUFFIX.sub(r"\1://", url))
    except psycopg.ProgrammingError:
        raise ValueError(
            "XLT_MEMORY_STORE_URL is not a valid PostgreSQL URL (postgresql://user:pw@host:port/db)"
        ) from None
    params.setdefault("connect_timeout", 10)  # an unreachable server answers 503 in seconds, not hangs
    params.setdefault("application_name", "xlt")
    return make_conninfo("", **params)


def _reason(sqlstate: str | None) -> str | None:
    if not sqlstate:
        return None
    return _UNAVAILABLE.get(sqlstate) or _UNAVAILABLE.get(sqlstate[:3]) or _UNAVAILABLE.get(sqlstate[:2])


def client_error(exc: BaseException, store: str = STORE) -> XltError | None:
    """The client-visible error for a PostgreSQL failure, or None when it is a bug (left as a 500)."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    if exc.sqlstate == "53100":  # disk_full
        return StoreFull(f"the {store} is full: nothing was written", store)
    reason = _reason(exc.sqlstate)
    if reason is None and exc.sqlstate is None and isinstance(exc, psycopg.OperationalError):
        reason = "the database server is unreachable"  # refused, reset, closed: libpq errors have no SQLSTATE
    if reason is None:
        return None
    return StoreUnavailable(f"the {store} is unavailable ({reason}); retry later", store)


@contextmanager
def _store_errors(store: str = STORE) -> Iterator[None]:
    """As ``service.storage.store_errors`` for SQLite: outages -> 503 ``store_unavailable``, a full disk -> 507."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        error = client_error(exc, store)
        if error is None:
            raise
        log.error("%s failure: %s", store, exc)
        raise error from exc


def _check_text(*texts: str) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can): refuse it with a clear 422 rather than a 500."""
    if any("\x00" in text for text in texts):
        raise InvalidRequest("the memory store (PostgreSQL) cannot store the NUL character U+0000")


class _Pool:
    """At most ``size`` connections, each lent to one thread at a time.

    A broken connection is closed, not returned; so are the idle ones, which a server restart broke as well.
    """

    def __init__(self, connect: Callable[[], Connection], size: int, wait_s: float, store: str = STORE) -> None:
        self._connect = connect
        self._store = store
        self._size = size
        self._wait_s = wait_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[tuple[Connection, bool]]:
        """A connection and whether it was reused (an idle one may have died since its last use)."""
        if not self._slots.acquire(timeout=self._wait_s):
            busy = f"all {self._size} connections busy"
            raise StoreUnavailable(f"the {self._store} is unavailable ({busy}); retry later", self._store)
        try:
            with self._lock:
                if self._closed:
                    raise StoreUnavailable(f"the {self._store} is closed", self._store)
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._connect()
            try:
                yield conn, reused
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _give_back(self, conn: Connection) -> None:
        from psycopg.pq import TransactionStatus

        healthy = not conn.broken and not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        stale: list[Connection] = []
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(conn)
                return
            if not healthy:
                stale, self._idle = self._idle, []
        for other in [conn, *stale]:
            other.close()

    def close(self) -> None:
        """Close the idle connections now; those lent out are closed when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Database:
    """A small pool of connections to one PostgreSQL database, and calls on it whose failures read as ``store``'s
    (503 ``store_unavailable``, 507 ``store_full``). Shared by the stores that live in PostgreSQL (memories, jobs).

    ``pool_size`` bounds the connections of this process (the default worker pool runs a few dozen threads;
    the server's ``max_connections`` is shared by all replicas); a call waits up to ``wait_s`` for one, and a
    write waits up to ``wait_s`` for another replica's row lock, like SQLite's busy timeout.
    """

    def __init__(self, url: str, store: str, pool_size: int = 8, wait_s: float = 30.0) -> None:
        self._conninfo = conninfo(url)
        self._wait_s = wait_s
        self.store = store
        self.pool = _Pool(self._connect, pool_size, wait_s, store)

    def create_schema(self, schema: str) -> None:
        """Run ``schema`` (``IF NOT EXISTS`` statements) under an advisory lock: replicas starting at the same
        moment would otherwise race on the catalog's unique index."""

        def create(db: Connection) -> None:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute(schema)  # our own constant text, never client input

        self.call(create, write=True)

    def _connect(self) -> Connection:
        import psycopg

        conn = psycopg.connect(self._conninfo, autocommit=True)  # transactions are explicit
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(self._wait_s * 1000)}ms",))
        return conn

    def call(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` on a pooled connection: a write in one transaction, committed before this returns.

        A read that fails on a reused connection which turns out broken (the server restarted since) is retried
        once on a fresh one; a write is not (its commit may have happened before the connection dropped). Broken
        means libpq marked it so, or the error came from the connection rather than from the server (no SQLSTATE:
        psycopg can see the socket closed before libpq marks the connection).
        """
        import psycopg

        with _store_errors(self.store):
            for attempt in (1, 2):
                with self.pool.connection() as (db, reused):
                    try:
                        if not write:
                            return work(db)
                        with db.transaction():
                            return work(db)
                    except psycopg.OperationalError as exc:
                        broken = db.broken or exc.sqlstate is None
                        if write or not reused or not broken or attempt == 2:
                            raise
                        db.close()  # not given back to the pool, so the retry takes a fresh connection
                        log.warning("%s: a pooled connection was broken; retrying the read on a new one", self.store)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.pool.close()


class PostgresMemoryStore:
    """Memories in PostgreSQL, shared by every replica given the same URL; the schema is created on first use.

    ``pool_size`` and ``wait_s``: as for ``Database``.
    """

    def __init__(self, url: str, pool_size: int = 8, wait_s: float = 30.0) -> None:
        self._db = Database(url, STORE, pool_size, wait_s)
        self._pool = self._db.pool
        self._call = self._db.call
        self._db.create_schema(_SCHEMA)

    def create(self, name: str, owner: str | None = None) -> MemoryInfo:
        _check_text(name)
        info = MemoryInfo(id=new_memory_id(), name=name, created_at=time.time(), revision=0, owner=owner)

        def insert(db: Connection) -> None:
            db.execute(
                "INSERT INTO xlt_memories (id, name, created_at, revision, owner) VALUES (%s, %s, %s, 0, %s)",
                (info.id, info.name, info.created_at, owner),
            )

        self._call(insert, write=True)
        return info

    def get(self, memory_id: str) -> MemoryInfo:
        def read(db: Connection) -> MemoryInfo:
            with db.transaction():  # one snapshot for the memory and its counts
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = db.execute(f"SELECT {INFO_COLUMNS} FROM xlt_memories WHERE id = %s", (memory_id,)).fetchone()
                if row is None:
                    raise MemoryNotFound(f"memory {memory_id} not found")
                counts = db.execute(
                    "SELECT source_lang, target_lang, COUNT(*), COUNT(*) FILTER (WHERE NOT reviewed) "
                    "FROM xlt_memory_entries WHERE memory_id = %s "
                    "GROUP BY source_lang, target_lang ORDER BY source_lang, target_lang",
                    (memory_id,),
                ).fetchall()
            return MemoryInfo(row[0], row[1], row[2], row[3], row[4], tuple(PairCount(*c) for c in counts))

        return self._call(read, write=False)

    def list_memories(self) -> list[MemoryInfo]:
        def read(db: Connection) -> list[Any]:
            query = f"SELECT {INFO_COLUMNS} FROM xlt_memories ORDER BY created_at, id"
            return db.execute(query).fetchall()

        return [MemoryInfo(*row) for row in self._call(read, write=False)]

    def delete(self, memory_id: str) -> None:
        def remove(db: Connection) -> None:
            if db.execute("DELETE FROM xlt_memories WHERE id = %s", (memory_id,)).rowcount == 0:
                raise MemoryNotFound(f"memory {memory_id} not found")

        self._call(remove, write=True)

    def add(
        self,
        memory_id: str,
        source_lang: str,
        target_lang: str,
        pairs: Sequence[tuple[str, str]],
        reviewed: bool = True,
    ) -> int:
        keep_reviewed = "" if reviewed else " WHERE NOT xlt_memory_entries.reviewed"  # a person's entry stays
        latest: dict[str, str] = {}  # one row per normalized source, the last one winning as in SQLite
        for source, target in pairs:
            key = normalize(source)
            _check_text(key, target)
            latest[key] = target
        sources = list(latest)
        rows = [
            (sources[i : i + _CHUNK], [latest[k] for k in sources[i : i + _CHUNK]])
            for i in range(0, len(sources), _CHUNK)
        ]

        def upsert(db: Connection) -> int:
            row = db.execute(
                "UPDATE xlt_memories SET revision = revision + 1 WHERE id = %s RETURNING revision", (memory_id,)
            ).fetchone()
            if row is None:
                raise MemoryNotFound(f"memory {memory_id} not found")
            revision: int = row[0]
            for chunk_sources, chunk_targets in rows:  # one statement per chunk, not one round trip per entry
                db.execute(
                    "INSERT INTO xlt_memory_entries "
                    "(memory_id, source_lang, target_lang, source_key, source, target, revision, reviewed) "
                    "SELECT %s, %s, %s, sha256(convert_to(s, 'UTF8')), s, t, %s, %s "
                    "FROM unnest(%s::text[], %s::text[]) AS batch(s, t) "
                    "ON CONFLICT (memory_id, source_lang, target_lang, source_key) "
                    "DO UPDATE SET source = excluded.source, target = excluded.target, revision = excluded.revision, "
                    "reviewed = excluded.reviewed" + keep_reviewed,
                    (memory_id, source_lang, target_lang, revision, reviewed, chunk_sources, chunk_targets),
                )
            return revision

        return self._call(upsert, write=True)

    def head(self, memory_id: str) -> Head | None:
        def read(db: Connection) -> Any:
            return db.execute("SELECT revision, owner FROM xlt_memories WHERE id = %s", (memory_id,)).fetchone()

        row = self._call(read, write=False)
        return None if row is None else Head(int(row[0]), row[1])

    def entries_since(self, memory_id: str, source_lang: str, target_lang: str, revision: int) -> list[Entry]:
        def read(db: Connection) -> list[Any]:
            return db.execute(
                "SELECT source, target, revision, reviewed FROM xlt_memory_entries WHERE memory_id = %s "
                "AND source_lang = %s AND target_lang = %s AND revision > %s ORDER BY revision",
                (memory_id, source_lang, target_lang, revision),
            ).fetchall()

        return [Entry(*row) for row in self._call(read, write=False)]

    def close(self) -> None:
        self._db.close()
