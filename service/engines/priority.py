"""Engine threads run at a lower CPU priority than the HTTP event loop.

Why: on a machine whose cores the engine keeps busy, the event loop's short jobs (parse a request, answer a
429, hand out a finished translation) waited behind decoding threads for the scheduler's time slices. Measured on
two cores at four times capacity: refusals took p99 3.8 s at equal priority and 0.2 s with the engine at nice
10, and throughput did not drop (the loop uses little CPU, it just needs it at once). Linux sets nice per
thread, and threads inherit their creator's, so lowering the threads a model load starts also covers the
threads those start later. Elsewhere (no ``/proc/self/task``) this does nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

TASKS = Path("/proc/self/task")


def _threads() -> set[int]:
    try:
        return {int(name) for name in os.listdir(TASKS)}
    except OSError:
        return set()


@contextmanager
def lower_new_threads(nice: int) -> Iterator[None]:
    """Threads started inside the block get ``nice`` added to their niceness (capped at 19) when it ends.

    A thread another task happens to start meanwhile is lowered too: harmless, as only engine loads use this.
    """
    before = _threads() if nice > 0 else set()
    try:
        yield
    finally:
        if before:
            for tid in _threads() - before:
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
                except OSError as exc:  # the thread ended meanwhile, or the system refuses: keep its priority
                    log.debug("could not lower thread %d: %s", tid, exc)
