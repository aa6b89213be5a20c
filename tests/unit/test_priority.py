"""Engine threads are started at a lower priority than the event loop (Linux: nice per thread)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from service.engines.priority import lower_new_threads

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is read from /proc on Linux")


def nice_of(thread: threading.Thread) -> int:
    assert thread.native_id is not None
    return os.getpriority(os.PRIO_PROCESS, thread.native_id)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def parked(stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    return thread


def test_threads_started_inside_are_lowered_and_others_are_not(stop: threading.Event) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = parked(stop)
    with lower_new_threads(5):
        inside = parked(stop)
    after = parked(stop)
    assert nice_of(inside) == min(19, base + 5)
    assert nice_of(before) == base and nice_of(after) == base
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller keeps its own


def test_zero_changes_nothing(stop: threading.Event) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with lower_new_threads(0):
        inside = parked(stop)
    assert nice_of(inside) == base
