"""Garbage collection while serving: what is loaded at start is frozen, and the young generation is larger.

Why (the profile in benchmarks/results/profile.md: the collector took 4.9% of the server's CPU at 64 clients):

- ``gc.freeze()`` once the app has started moves every object alive then (modules, routes, pydantic validators,
  settings, the engines' and language identifier's Python objects) into a permanent generation that no collection
  walks again; a full collection then visits what requests left behind only.
- CPython collects generation 0 every 700 net new containers. With 64 requests in flight, most young containers
  are still in use at each collection: they survive, are promoted, and are found dead only by the rarer and
  larger collections of the older generations. A threshold above what the requests in flight hold (tens of
  thousands of containers) lets them die young; reference counting frees most of them before any collection
  anyway, and each collection visits each young object once either way, so the collector does less work in all.

Both are process-wide: the first app to start changes them and the last one to stop restores Python's own (an
unfrozen heap, the old thresholds), so a process that runs many apps (the tests) never keeps their objects
uncollectable. Called from the app's lifespan, never at import.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

YOUNG_THRESHOLD = 50_000  # generation-0 collections every 50,000 net new containers (CPython's default: 700)

_saved: list[tuple[int, ...]] = []  # the thresholds before the first app started; one entry while any app runs
_running = 0


def settle() -> Callable[[], None]:
    """Freeze what is alive now and raise generation 0's threshold; returns the undo to call at stop."""
    global _running
    if _running == 0:
        _saved.append(gc.get_threshold())
        young, *older = gc.get_threshold()
        gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
    _running += 1
    gc.freeze()
    done = False

    def undo() -> None:
        global _running
        nonlocal done
        if done:
            return
        done = True
        _running -= 1
        if _running == 0:
            gc.set_threshold(*_saved.pop())
            gc.unfreeze()

    return undo
