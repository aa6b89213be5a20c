"""SQLite conventions shared by the data stores (translation memories, API keys), and how their failures look.

Why one place: both stores are files under ``XLT_DATA_DIR`` opened the same way (WAL, foreign keys, a busy
timeout), every write is one transaction committed before the answer and rolled back whole on any failure, and
their failures reach clients as the same two codes: 503 ``store_unavailable`` (locked, unreadable, read-only:
retry later) and 507 ``store_full`` (the disk or the size limit). Other SQLite errors are bugs and stay 500s.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from service.errors import StoreFull, StoreUnavailable, XltError

log = logging.getLogger(__name__)

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in their low byte.
SQLITE_FULL = 13
_UNAVAILABLE = {
    3: "permission denied",
    5: "the database is locked by another writer",
    6: "a table is locked",
    8: "the database is read-only",
    10: "a disk I/O error",
    11: "the database file is damaged",
    14: "the database file cannot be opened",
    15: "a locking protocol error",
    26: "the file is not a database",
}


def connect(
    path: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", busy_timeout_s: float = 30.0
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on.

    ``synchronous=FULL``: an acknowledged write survives power loss; ``NORMAL`` (WAL) survives a crash of the
    process only, for high-rate counters where losing the last moments is acceptable.
    """
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any failure (in the body or at commit) rolls everything back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLITE_FULL may already have rolled back by itself
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def client_error(store: str, exc: BaseException) -> XltError | None:
    """The client-visible error for a storage failure, or None when it is a bug (left as a 500)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return None
        if code & 0xFF == SQLITE_FULL:
            return StoreFull(f"the {store} is full: nothing was written", store)
        reason = _UNAVAILABLE.get(code & 0xFF)
        if reason is not None:
            return StoreUnavailable(f"the {store} is unavailable ({reason}); retry later", store)
        return None
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StoreFull(f"the {store} is full: nothing was written", store)
        reason = exc.strerror or type(exc).__name__
        return StoreUnavailable(f"the {store} is unavailable ({reason}); retry later", store)
    return None


@contextmanager
def store_errors(store: str) -> Iterator[None]:
    """Turn locked, full and unreadable-store failures into ``store_unavailable`` / ``store_full``."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        error = client_error(store, exc)
        if error is None:
            raise
        log.error("%s failure: %s", store, exc)
        raise error from exc
