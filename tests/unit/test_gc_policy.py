"""The collector while an app serves: start freezes the heap and raises generation 0's threshold; the last app to
stop puts Python's own back."""

from __future__ import annotations

import gc

from service import gc_policy
from tests.unit.conftest import AppClient


async def test_serving_freezes_the_heap_and_stopping_restores_the_collector(app_client: AppClient) -> None:
    before = gc.get_threshold()
    assert before[0] < gc_policy.YOUNG_THRESHOLD and gc.get_freeze_count() == 0
    async with app_client() as outer:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (gc_policy.YOUNG_THRESHOLD, *before[1:])
        async with app_client() as inner:
            assert (await inner.get("/health/live")).status_code == 200
        assert gc.get_threshold()[0] == gc_policy.YOUNG_THRESHOLD  # one app still serves
        assert gc.get_freeze_count() > 0
        assert (await outer.get("/health/live")).status_code == 200
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_undo_twice_counts_once() -> None:
    before = gc.get_threshold()
    first, second = gc_policy.settle(), gc_policy.settle()
    first()
    first()
    assert gc.get_threshold()[0] == gc_policy.YOUNG_THRESHOLD
    second()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
