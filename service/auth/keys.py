"""The API key store: SQLite under ``XLT_DATA_DIR``, holding a salted hash of each key, never the key itself.

Why this shape: a key reads ``xlt_<id>_<secret>``. The 12-hex ``id`` is public (listings, logs, revocation);
the secret is 32 random bytes, shown once by ``xlt keys create``. Only ``sha256(salt + secret)`` with a per-key
salt is stored: a copied database yields no usable key. A fast hash is enough because the secret is random (slow
hashes protect guessable passwords) and keeps checking a key on every request cheap. Key changes commit with
``synchronous=FULL`` before ``xlt keys`` returns; usage counters commit with ``NORMAL`` (they change on every
request, and a power cut may forget the last moments of usage, in the client's favour).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from service.storage import connect, store_errors, transaction

KEYS_DB = "keys.sqlite3"  # under XLT_DATA_DIR
STORE = "key store"  # as named in error messages
_KEY = re.compile(r"^xlt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_ID = re.compile(r"^[0-9a-f]{12}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    rate_per_minute INTEGER,
    chars_per_day INTEGER,
    admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS key_usage (
    key_id TEXT NOT NULL REFERENCES api_keys(id),
    day TEXT NOT NULL,
    chars INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_rates (
    key_id TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated REAL NOT NULL
) WITHOUT ROWID;
"""
_COLUMNS = "id, name, hint, created_at, revoked_at, rate_per_minute, chars_per_day, admin"


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: everything but the secret."""

    id: str
    name: str
    hint: str  # "xlt_<id>_abcd...": enough to recognise a key, useless to an attacker
    created_at: float
    revoked_at: float | None = None
    rate_per_minute: int | None = None  # None: no rate limit
    chars_per_day: int | None = None  # None: no quota
    admin: bool = False  # may call admin routes (POST /models/reload) when keys are required

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _row(row: tuple[object, ...]) -> ApiKey:
    id_, name, hint, created, revoked, rate, chars, admin = row
    return ApiKey(
        id=str(id_),
        name=str(name),
        hint=str(hint),
        created_at=float(created),  # type: ignore[arg-type]
        revoked_at=None if revoked is None else float(revoked),  # type: ignore[arg-type]
        rate_per_minute=None if rate is None else int(rate),  # type: ignore[call-overload]
        chars_per_day=None if chars is None else int(chars),  # type: ignore[call-overload]
        admin=bool(admin),
    )


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


def parse_key(presented: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None (checked before any database access)."""
    match = _KEY.match(presented)
    return (match.group(1), match.group(2)) if match else None


def check_key_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value[:40]!r} is not a key id (12 hex digits, as `xlt keys list` shows)")
    return value


class KeyStore:
    """Create, list, revoke and verify keys; count characters per key and UTC day. Calls block."""

    def __init__(self, path: Path, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        with store_errors(STORE):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = connect(path, busy_timeout_s=busy_timeout_s)
            self._writer.executescript(_SCHEMA)  # IF NOT EXISTS: idempotent
            self._usage = connect(path, synchronous="NORMAL", busy_timeout_s=busy_timeout_s)
            self._reader = connect(path, busy_timeout_s=busy_timeout_s)
        self._write_lock = threading.Lock()
        self._usage_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def create(
        self,
        name: str,
        *,
        rate_per_minute: int | None = None,
        chars_per_day: int | None = None,
        admin: bool = False,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret: the only time the full key exists outside the client."""
        for label, limit in (("rate_per_minute", rate_per_minute), ("chars_per_day", chars_per_day)):
            if limit is not None and limit < 1:
                raise ValueError(f"{label} must be >= 1 (omit it for no limit)")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)  # 43 characters
        full = f"xlt_{key_id}_{secret}"
        salt = secrets.token_bytes(16)
        key = ApiKey(
            id=key_id,
            name=name,
            hint=f"xlt_{key_id}_{secret[:4]}...",
            created_at=time.time(),
            rate_per_minute=rate_per_minute,
            chars_per_day=chars_per_day,
            admin=admin,
        )
        with self._write_lock, store_errors(STORE), transaction(self._writer) as db:
            db.execute(
                "INSERT INTO api_keys (id, name, hint, salt, hash, created_at, rate_per_minute, chars_per_day, admin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key.id, name, key.hint, salt, _digest(salt, secret), key.created_at, rate_per_minute, chars_per_day,
                 int(admin)),
            )  # fmt: skip
        return key, full

    def list_keys(self) -> list[ApiKey]:
        with self._read_lock, store_errors(STORE):
            rows = self._reader.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id").fetchall()
        return [_row(r) for r in rows]

    def get(self, key_id: str) -> ApiKey | None:
        with self._read_lock, store_errors(STORE):
            row = self._reader.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else _row(row)

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke the key (kept for the record); None when there is no such key. Revoking twice is harmless."""
        with self._write_lock, store_errors(STORE), transaction(self._writer) as db:
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (time.time(), key_id))
        return self.get(key_id)

    def verify(self, presented: str) -> ApiKey | None:
        """The key ``presented`` names when its secret matches (revoked ones included), else None."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._read_lock, store_errors(STORE):
            row = self._reader.execute(
                f"SELECT {_COLUMNS}, salt, hash FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None or not hmac.compare_digest(_digest(row[-2], secret), row[-1]):
            return None
        return _row(row[:-2])

    def charge(self, key_id: str, day: str, chars: int, limit: int) -> int | None:
        """Add ``chars`` to the key's count for ``day`` unless that passes ``limit``: the new count, or None.

        One statement, so the check and the charge are atomic across threads and processes sharing the file.
        """
        if chars > limit:
            return None
        with self._usage_lock, store_errors(STORE):
            rows = self._usage.execute(
                "INSERT INTO key_usage (key_id, day, chars) VALUES (?, ?, ?) "
                "ON CONFLICT (key_id, day) DO UPDATE SET chars = chars + excluded.chars "
                "WHERE chars + excluded.chars <= ? RETURNING chars",
                (key_id, day, chars, limit),
            ).fetchall()  # fetching every row ends the statement, which commits it
        return int(rows[0][0]) if rows else None

    def take_token(self, key_id: str, capacity: float, per_second: float, now: float) -> float:
        """Take one request from the key's token bucket: 0.0 when allowed, else the seconds until one refills.

        The bucket lives in this file, not in process memory, so that ``xlt serve --workers N`` (or several
        processes sharing ``XLT_DATA_DIR``) hold a key to its rate together; check-and-take is one statement,
        atomic across them. ``now`` is wall-clock time, the one clock the processes share.
        """
        refill = "min(:capacity, tokens + max(0.0, :now - updated) * :rate)"
        params = {"key": key_id, "capacity": capacity, "rate": per_second, "now": now}
        with self._usage_lock, store_errors(STORE):
            taken = self._usage.execute(
                "INSERT INTO key_rates (key_id, tokens, updated) VALUES (:key, :capacity - 1, :now) "
                f"ON CONFLICT (key_id) DO UPDATE SET tokens = {refill} - 1, updated = :now WHERE {refill} >= 1 "
                "RETURNING tokens",
                params,
            ).fetchall()  # fetching every row ends the statement, which commits it
            if taken:
                return 0.0
            row = self._usage.execute(f"SELECT {refill} FROM key_rates WHERE key_id = :key", params).fetchone()
        tokens = float(row[0]) if row is not None else 0.0
        return max(0.0, (1 - tokens) / per_second)

    def refund(self, key_id: str, day: str, chars: int) -> None:
        """Give back characters charged for a request that then failed."""
        with self._usage_lock, store_errors(STORE):
            self._usage.execute(
                "UPDATE key_usage SET chars = max(0, chars - ?) WHERE key_id = ? AND day = ?", (chars, key_id, day)
            )

    def usage(self, key_id: str, day: str) -> int:
        with self._read_lock, store_errors(STORE):
            row = self._reader.execute(
                "SELECT chars FROM key_usage WHERE key_id = ? AND day = ?", (key_id, day)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        with self._write_lock, self._usage_lock, self._read_lock:
            for conn in (self._reader, self._usage, self._writer):
                conn.close()
