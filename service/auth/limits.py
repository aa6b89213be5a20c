"""Per-key request rates (token buckets) and the UTC days of character quotas.

A bucket holds ten seconds' worth of requests (at least one) and refills at the key's rate, so short bursts pass
and a sustained rate above the limit gets 429 ``rate_limited`` with the wait in Retry-After. Buckets and
character quotas (per UTC day) are both kept in the key store, so every worker of ``xlt serve --workers N``
counts against the same limits.
"""

from __future__ import annotations

import math
import time

from service.errors import RateLimited

BURST_SECONDS = 10  # a bucket holds this many seconds of the key's rate


def bucket(per_minute: int) -> tuple[float, float]:
    """(capacity, tokens per second) of the bucket for a rate of ``per_minute`` requests."""
    return max(1.0, per_minute * BURST_SECONDS / 60), per_minute / 60


def rate_limited(key_id: str, per_minute: int, wait_s: float) -> RateLimited:
    return RateLimited(
        f"key {key_id} is over its rate of {per_minute} requests per minute", retry_after_s=max(1, math.ceil(wait_s))
    )


def utc_day(now: float) -> str:
    """The quota day of a Unix time: its UTC date, ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def seconds_to_utc_midnight(now: float) -> int:
    """Whole seconds until the next quota day begins (at least 1)."""
    return max(1, math.ceil(86400 - now % 86400))
