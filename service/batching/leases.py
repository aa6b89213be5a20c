"""Which schedulers requests are still using, so that a replaced one is stopped only after its last user left.

Why: a hot reload swaps in a new engine and scheduler while requests are between steps (detecting the
language, awaiting a first pivot round). A request holds a lease on the scheduler it started with for its whole
life; the old scheduler is drained and stopped once no lease is left, so no request in flight ever meets a
stopped scheduler. Event-loop only: no locks needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Leases:
    def __init__(self) -> None:
        self._users: dict[int, int] = {}
        self._released: dict[int, asyncio.Event] = {}

    @contextmanager
    def hold(self, target: object) -> Iterator[None]:
        key = id(target)  # ``target`` stays alive while held: the holder references it
        self._users[key] = self._users.get(key, 0) + 1
        try:
            yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                event = self._released.pop(key, None)
                if event is not None:
                    event.set()

    def users(self, target: object) -> int:
        return self._users.get(id(target), 0)

    async def released(self, target: object, timeout_s: float) -> bool:
        """Wait until nobody holds ``target``; False when ``timeout_s`` ran out first."""
        key = id(target)
        if key not in self._users:
            return True
        event = self._released.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
