"""The batcher with a fake engine: merging, budgets, ordering, cancellation, failures, backpressure,
timeouts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from service.batching.batcher import Batcher, BatchPolicy
from service.batching.direct import DirectScheduler
from service.batching.executor import EngineExecutor
from service.batching.queue import BatchQueue, WorkItem
from service.engines.base import DecodeOptions
from service.errors import EngineError, NotReady, Overloaded, Timeout
from service.metrics import Metrics
from service.pipeline import gather_results
from tests.fakes import FakeEngine

OPTS = DecodeOptions(beam_size=1, max_length=16)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(gate=threading.Event())


Factory = Callable[..., Batcher | DirectScheduler]


@pytest.fixture
async def batcher_factory(engine: FakeEngine) -> AsyncIterator[Factory]:
    """``make(**policy)`` -> a started batcher; ``make(DirectScheduler, **policy)`` -> the unbatched one."""
    made: list[tuple[Batcher | DirectScheduler, EngineExecutor]] = []

    def make(scheduler: type[Batcher] | type[DirectScheduler] = Batcher, **policy: Any) -> Batcher | DirectScheduler:
        executor = EngineExecutor("fake", workers=int(policy.get("concurrency", 1)))
        batcher = scheduler(engine, executor, BatchPolicy(**policy), Metrics())
        batcher.start()
        made.append((batcher, executor))
        return batcher

    yield make
    assert engine.gate is not None
    engine.gate.set()
    for batcher, executor in made:
        await batcher.stop()
        executor.shutdown()


def submit(batcher: Batcher | DirectScheduler, texts: Sequence[str], target: str = "de") -> list[WorkItem]:
    items = [WorkItem.create([*t.split(), "</s>"], target, OPTS) for t in texts]
    batcher.submit(items)
    return items


async def results(items: list[WorkItem]) -> list[str]:
    hyps = await gather_results([i.future for i in items], timeout_s=30)
    return [" ".join(h.tokens) for h in hyps]


async def wait_started(engine: FakeEngine) -> None:
    """Wait until the fake engine holds a batch at its gate."""
    assert await asyncio.to_thread(engine.started.wait, 30)
    engine.started.clear()


async def test_concurrent_requests_share_a_batch(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory(max_wait_s=0.005)
    first = submit(batcher, ["a"])
    await wait_started(engine)  # the engine is busy: the next arrivals accumulate
    later = [submit(batcher, [t]) for t in ("b", "c d", "e")]
    assert engine.gate is not None
    engine.gate.set()
    assert await results(first) == ["de:a"]
    assert [await results(r) for r in later] == [["de:b"], ["de:c de:d"], ["de:e"]]
    assert engine.batches()[0] == ["a"]
    assert sorted(engine.batches()[1]) == ["b", "c d", "e"]
    assert len(engine.calls) == 2


async def test_lone_request_on_idle_engine_does_not_wait(engine: FakeEngine, batcher_factory: Factory) -> None:
    assert engine.gate is not None
    engine.gate.set()
    batcher = batcher_factory(max_wait_s=3600)  # an hour of waiting would time the test out
    assert await results(submit(batcher, ["hello world"])) == ["de:hello de:world"]


async def test_partial_batch_waits_for_company(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory(max_wait_s=3600, max_batch_size=3)
    first = submit(batcher, ["a"])
    await wait_started(engine)
    two = [submit(batcher, ["b"]), submit(batcher, ["c"])]
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    await asyncio.sleep(0.05)
    assert len(engine.calls) == 1  # two requests from different clients wait for a third
    three = submit(batcher, ["d"])
    await results(three)
    for r in two:
        await results(r)
    assert sorted(engine.batches()[1]) == ["b", "c", "d"]


async def test_second_worker_holds_a_partial_batch_while_the_first_runs(
    engine: FakeEngine, batcher_factory: Factory
) -> None:
    """Two engine workers: arrivals during a running batch of four gather into one batch instead of taking the
    free worker one by one after ``max_wait_s``."""
    batcher = batcher_factory(max_wait_s=0.001, concurrency=2)
    first = submit(batcher, ["a", "a", "a", "a"])
    await wait_started(engine)
    later = []
    for text in ("b", "c", "d"):
        later.append(submit(batcher, [text]))
        await asyncio.sleep(0.01)  # ten times max_wait_s apart: without holding each would run alone
    assert len(engine.calls) == 1  # held: fewer wait than the running batch holds, and its time has not passed
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert [await results(r) for r in later] == [["de:b"], ["de:c"], ["de:d"]]
    assert sorted(engine.batches()[1]) == ["b", "c", "d"]


async def test_second_worker_starts_when_as_many_wait_as_the_running_batch_holds(
    engine: FakeEngine, batcher_factory: Factory
) -> None:
    """That many waiting is this load's batch size: holding longer would leave a core idle (eight clients on
    two workers: four and four), so the free worker takes them at once."""
    batcher = batcher_factory(max_wait_s=3600, concurrency=2)
    first = submit(batcher, ["a", "a"])
    await wait_started(engine)
    later = [submit(batcher, ["b"]), submit(batcher, ["c"])]
    await wait_started(engine)  # while the first batch is still held at the gate
    assert sorted(engine.batches()[1]) == ["b", "c"]
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert [await results(r) for r in later] == [["de:b"], ["de:c"]]


async def test_second_worker_starts_at_once_with_its_share_of_a_full_batch(
    engine: FakeEngine, batcher_factory: Factory
) -> None:
    """When the engine is the bottleneck every worker should decode: half a full batch (two workers) goes now."""
    batcher = batcher_factory(max_wait_s=3600, concurrency=2, max_batch_size=4)
    first = submit(batcher, ["a"])
    await wait_started(engine)
    later = [submit(batcher, ["b"]), submit(batcher, ["c"])]
    await wait_started(engine)  # the second worker took b and c without waiting for a batch time
    assert sorted(engine.batches()[1]) == ["b", "c"]
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert [await results(r) for r in later] == [["de:b"], ["de:c"]]


async def test_token_budget_is_respected(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory(max_batch_tokens=12, max_batch_size=64)
    first = submit(batcher, ["x"])
    await wait_started(engine)
    requests = [submit(batcher, ["w w w"]) for _ in range(7)]  # 4 tokens each with </s>
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    for r in requests:
        assert await results(r) == ["de:w de:w de:w"]
    for call in engine.calls[1:]:
        assert len(call.sources) * max(len(s) for s in call.sources) <= 12
        assert call.max_batch_tokens == 12
    assert [len(c.sources) for c in engine.calls[1:]] == [3, 3, 1]


async def test_single_item_over_budget_still_runs(engine: FakeEngine, batcher_factory: Factory) -> None:
    assert engine.gate is not None
    engine.gate.set()
    batcher = batcher_factory(max_batch_tokens=16)
    long = " ".join(["w"] * 40)
    assert await results(submit(batcher, [long])) == [" ".join(["de:w"] * 40)]


async def test_batches_group_similar_lengths(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory(max_batch_size=3, max_batch_tokens=10_000)
    first = submit(batcher, ["x"])
    await wait_started(engine)
    short, long = "s", "l l l l l l"
    mixed = submit(batcher, [short, long, short, long, short, long])
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert await results(mixed) == ["de:s", "de:l " * 5 + "de:l"] * 3
    assert engine.batches()[1:] == [[short] * 3, [long] * 3]


async def test_results_come_back_in_request_order(engine: FakeEngine, batcher_factory: Factory) -> None:
    assert engine.gate is not None
    engine.gate.set()
    batcher = batcher_factory()
    texts = ["three words here", "one", "two words", "a much longer sentence of many words", "x"]
    items = submit(batcher, texts, target="fr")
    assert await results(items) == [" ".join(f"fr:{w}" for w in t.split()) for t in texts]


async def test_batch_mixes_target_languages(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory()
    first = submit(batcher, ["x"])
    await wait_started(engine)
    de, fr = submit(batcher, ["a"], target="de"), submit(batcher, ["b"], target="fr")
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert (await results(de), await results(fr)) == (["de:a"], ["fr:b"])
    assert sorted(engine.calls[1].targets) == ["de", "fr"]


async def test_batches_keep_to_one_target_language_where_the_engine_decodes_each_on_its_own() -> None:
    """A model with held-back pieces decodes each target language in a CTranslate2 call of its own: a mixed batch
    would become several calls one after another, so the batcher groups by target language instead."""
    for holds_back, expected in ((True, [["de", "de"], ["fr", "fr"]]), (False, [["de", "de", "fr", "fr"]])):
        engine = FakeEngine(gate=threading.Event(), holds_back=holds_back)
        executor = EngineExecutor("fake", workers=1)
        batcher = Batcher(engine, executor, BatchPolicy(), Metrics())
        batcher.start()
        try:
            first = submit(batcher, ["x"])
            await wait_started(engine)
            de1, fr1 = submit(batcher, ["a"], target="de"), submit(batcher, ["b"], target="fr")
            de2, fr2 = submit(batcher, ["c"], target="de"), submit(batcher, ["d"], target="fr")
            assert engine.gate is not None
            engine.gate.set()
            await results(first)
            outputs = [await results(items) for items in (de1, fr1, de2, fr2)]
            assert outputs == [["de:a"], ["fr:b"], ["de:c"], ["fr:d"]]
            assert [sorted(call.targets) for call in engine.calls[1:]] == expected
        finally:
            await batcher.stop()
            executor.shutdown()


async def test_cancelled_items_are_dropped_before_inference(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory()
    first = submit(batcher, ["a"])
    await wait_started(engine)
    gone = submit(batcher, ["gone"])
    kept = submit(batcher, ["kept"])
    gone[0].future.cancel()  # the client went away while queued
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert await results(kept) == ["de:kept"]
    assert all("gone" not in batch for batch in engine.batches())


async def test_failing_batch_fails_every_future(engine: FakeEngine, batcher_factory: Factory) -> None:
    engine.fail = True
    assert engine.gate is not None
    engine.gate.set()
    batcher = batcher_factory()
    items = submit(batcher, ["a", "b c", "d"])
    for item in items:
        with pytest.raises(EngineError) as info:
            await asyncio.wait_for(item.future, 30)
        assert info.value.code == "engine_error"
    engine.fail = False
    assert await results(submit(batcher, ["after"])) == ["de:after"]  # the batcher survives


async def test_full_queue_answers_overloaded(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory(max_queue=2, max_batch_size=1)
    first = submit(batcher, ["a"])
    await wait_started(engine)
    queued = submit(batcher, ["b", "c"])
    with pytest.raises(Overloaded) as info:
        submit(batcher, ["d"])
    assert info.value.status == 429 and int(info.value.headers()["Retry-After"]) >= 1
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert await results(queued) == ["de:b", "de:c"]


def test_empty_queue_admits_a_request_larger_than_the_bound() -> None:
    async def run() -> None:
        queue = BatchQueue(max_items=2, window=8)
        queue.put([WorkItem.create(["a"], "de", OPTS) for _ in range(5)])
        assert len(queue) == 5
        with pytest.raises(Overloaded):
            queue.put([WorkItem.create(["b"], "de", OPTS)])

    asyncio.run(run())


def test_later_arrivals_join_the_oldest_only_within_the_slack() -> None:
    """Length sorting may let later sentences of the oldest's length go before an earlier one of another length,
    but only those that arrived within ``slack_s`` of the oldest: waits stay near the FIFO estimate."""

    def item(tokens: int, at: float) -> WorkItem:
        work = WorkItem.create(["w"] * tokens, "de", OPTS)
        work.enqueued_at = at
        return work

    async def run() -> None:
        for slack, expected in ((0.25, "medium joins"), (float("inf"), "shorts overtake")):
            queue = BatchQueue(max_items=100, window=64)
            oldest, medium = item(1, 100.0), item(4, 100.1)
            shorts = [item(1, 101.0 + 0.1 * k) for k in range(6)]
            for work in (oldest, medium, *shorts):
                queue.put([work])
            batch = queue.pop_batch(max_tokens=40, max_size=3, slack_s=slack)
            if expected == "medium joins":
                assert batch == [oldest, medium]
                assert queue.full_batch_ready(max_tokens=40, max_size=3, slack_s=slack)  # the rest: start now
            else:
                assert batch == [oldest, *shorts[:2]]

    asyncio.run(run())


async def test_timeout_drops_the_waiting_items(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory()
    first = submit(batcher, ["a"])
    await wait_started(engine)
    late = submit(batcher, ["late"])
    with pytest.raises(Timeout) as info:
        await gather_results([i.future for i in late], timeout_s=0.05)
    assert info.value.code == "timeout" and info.value.status == 504
    assert late[0].future.cancelled()
    assert engine.gate is not None
    engine.gate.set()
    await results(first)
    assert await results(submit(batcher, ["next"])) == ["de:next"]
    assert all("late" not in batch for batch in engine.batches())


async def test_inference_runs_in_the_executor_thread(engine: FakeEngine, batcher_factory: Factory) -> None:
    assert engine.gate is not None
    engine.gate.set()
    batcher = batcher_factory()
    await results(submit(batcher, ["a"]))
    assert engine.threads[0].startswith("xlt-fake")


async def test_stop_fails_queued_work_and_refuses_more(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory()
    first = submit(batcher, ["a"])
    await wait_started(engine)
    queued = submit(batcher, ["b"])
    assert engine.gate is not None
    engine.gate.set()
    assert await batcher.drain(30)
    await batcher.stop()
    assert await results(first) == ["de:a"] and await results(queued) == ["de:b"]
    with pytest.raises(NotReady):
        submit(batcher, ["c"])


async def test_stop_without_drain_fails_the_queue(engine: FakeEngine, batcher_factory: Factory) -> None:
    batcher = batcher_factory()
    submit(batcher, ["a"])
    await wait_started(engine)
    queued = submit(batcher, ["b"])
    stopping = asyncio.create_task(batcher.stop())
    with pytest.raises(NotReady):
        await asyncio.wait_for(queued[0].future, 30)
    assert engine.gate is not None
    engine.gate.set()
    await stopping


async def test_unbatched_mode_sends_each_request_alone(engine: FakeEngine, batcher_factory: Factory) -> None:
    direct = batcher_factory(DirectScheduler)
    first = submit(direct, ["a", "b"])
    await wait_started(engine)
    second, third = submit(direct, ["c"]), submit(direct, ["d e"])
    assert engine.gate is not None
    engine.gate.set()
    assert await results(first) == ["de:a", "de:b"]
    assert await results(second) == ["de:c"] and await results(third) == ["de:d de:e"]
    assert engine.batches() == [["a", "b"], ["c"], ["d e"]]


async def test_unbatched_mode_applies_backpressure(engine: FakeEngine, batcher_factory: Factory) -> None:
    direct = batcher_factory(DirectScheduler, max_queue=1)
    submit(direct, ["a"])
    await wait_started(engine)
    submit(direct, ["b"])
    with pytest.raises(Overloaded):
        submit(direct, ["c"])
