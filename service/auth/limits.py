"""Per-key request rates (token buckets, in memory) and the UTC days of character quotas.

Why a token bucket per process: a rate limit must answer in microseconds on every request, so it lives in
memory; with ``xlt serve --workers N`` each worker keeps its own buckets (a key gets up to N times its rate on
one machine). A bucket holds ten seconds' worth of requests (at least one) and refills at the key's rate, so
short bursts pass and a sustained rate above the limit gets 429 ``rate_limited`` with the wait in Retry-After.
Character quotas are counted per UTC day in the key store, shared by every worker.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import RateLimited

BURST_SECONDS = 10  # a bucket holds this many seconds of the key's rate


@dataclass
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


class RateLimiter:
    """One bucket per (key id, rate); thread-safe, bounded by the number of keys."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, int], TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str, per_minute: int) -> None:
        """Raise ``RateLimited`` (with Retry-After) when ``key_id`` is over ``per_minute`` requests."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((key_id, per_minute))
            if bucket is None:
                capacity = max(1.0, per_minute * BURST_SECONDS / 60)
                bucket = TokenBucket(capacity, per_minute / 60, capacity, now)
                self._buckets[(key_id, per_minute)] = bucket
            wait = bucket.take(now)
        if wait > 0:
            raise RateLimited(
                f"key {key_id} is over its rate of {per_minute} requests per minute", retry_after_s=math.ceil(wait)
            )


def utc_day(now: float) -> str:
    """The quota day of a Unix time: its UTC date, ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def seconds_to_utc_midnight(now: float) -> int:
    """Whole seconds until the next quota day begins (at least 1)."""
    return max(1, math.ceil(86400 - now % 86400))
