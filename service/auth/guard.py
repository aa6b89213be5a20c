"""Who is calling and whether they may: a presented key becomes a ``Caller``, or 401/403/429.

Why one object per app: it owns the key store (opened on first use, or at start when keys are required, so a
missing or unwritable data dir fails loudly there), the rate buckets, and the refunds still in flight. Routes
never see keys: they get a ``Caller`` and wrap their work in ``caller.charge(chars)``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from service.auth.keys import ApiKey, KeyStore
from service.auth.limits import bucket, rate_limited, seconds_to_utc_midnight, utc_day
from service.errors import Forbidden, QuotaExceeded, Unauthorized
from service.fewshot.memories import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The authenticated key of a request, or ``key=None`` (anonymous, when keys are not required)."""

    guard: Guard
    key: ApiKey | None = None

    @property
    def key_id(self) -> str | None:
        return None if self.key is None else self.key.id

    @property
    def memory_scope(self) -> Scope:
        """The translation memories this caller may use: its key's own; an admin key's, every one."""
        return Scope(self.key_id, everyone=self.key is not None and self.key.admin)

    def charge(self, chars: int) -> AbstractAsyncContextManager[None]:
        """``async with caller.charge(n):`` around the work that uses ``n`` characters of the quota."""
        return self.guard.charge(self, chars)


class Guard:
    def __init__(
        self, required: bool, open_store: Callable[[], KeyStore], clock: Callable[[], float] = time.time
    ) -> None:
        self.required = required
        self._open_store = open_store
        self._store: KeyStore | None = None
        self._lock = threading.Lock()
        self._clock = clock
        self._refunds: set[asyncio.Task[None]] = set()

    @property
    def store(self) -> KeyStore:
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    async def authenticate(self, presented: str | None) -> Caller:
        """No key: anonymous unless keys are required (401). A key: it must be valid and active (else 401,
        even when keys are optional: a client sending a wrong key should learn it), then within its rate."""
        if not presented:
            if self.required:
                raise Unauthorized("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")
            return Caller(self)
        key = await asyncio.to_thread(self.store.verify, presented)
        if key is None:
            raise Unauthorized("invalid API key")
        if not key.active:
            raise Unauthorized(f"API key {key.id} was revoked")
        if key.rate_per_minute is not None:
            capacity, per_second = bucket(key.rate_per_minute)
            wait = await asyncio.to_thread(self.store.take_token, key.id, capacity, per_second, self._clock())
            if wait > 0:
                raise rate_limited(key.id, key.rate_per_minute, wait)
        return Caller(self, key)

    def require_admin(self, caller: Caller) -> Caller:
        """Admin routes: any caller while keys are optional; an admin key once they are required."""
        if self.required and (caller.key is None or not caller.key.admin):
            raise Forbidden("this route needs an admin key (xlt keys create --admin)")
        return caller

    @asynccontextmanager
    async def charge(self, caller: Caller, chars: int) -> AsyncIterator[None]:
        """Charge ``chars`` to the caller's daily quota before the work (429 ``quota_exceeded`` when it would
        pass it); give them back when the work fails, so clients pay only for answers they got."""
        key = caller.key
        if key is None or key.chars_per_day is None or chars <= 0:
            yield
            return
        now = self._clock()
        day = utc_day(now)
        total = await asyncio.to_thread(self.store.charge, key.id, day, chars, key.chars_per_day)
        if total is None:
            raise QuotaExceeded(
                f"key {key.id}: {chars} more characters would pass its {key.chars_per_day} for {day} (UTC)",
                retry_after_s=seconds_to_utc_midnight(now),
            )
        try:
            yield
        except BaseException:
            # Not awaited: the request may be cancelled; the refund still runs to completion.
            task = asyncio.create_task(asyncio.to_thread(self.store.refund, key.id, day, chars))
            self._refunds.add(task)
            task.add_done_callback(self._refund_done)
            raise

    def _refund_done(self, task: asyncio.Task[None]) -> None:
        self._refunds.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("quota refund failed: %s", task.exception())

    async def close(self) -> None:
        if self._refunds:
            await asyncio.wait(list(self._refunds), timeout=5)
        with self._lock:
            if self._store is not None:
                await asyncio.to_thread(self._store.close)
                self._store = None
