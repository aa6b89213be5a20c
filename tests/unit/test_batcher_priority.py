"""The batcher's two priority classes with the fake engine: interactive requests overtake background jobs' bulk
sentences, and bulk still drains (alone at once, under interactive load by its guaranteed share)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from service.batching.batcher import Batcher, BatchPolicy
from service.batching.executor import EngineExecutor
from service.batching.queue import Priority, WorkItem
from service.engines.base import DecodeOptions
from service.metrics import Metrics
from service.rounds import gather_results
from tests.fakes import FakeEngine

OPTS = DecodeOptions(beam_size=1, max_length=16)

Factory = Callable[..., tuple[Batcher, Metrics]]


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(gate=threading.Event())


@pytest.fixture
async def make(engine: FakeEngine) -> AsyncIterator[Factory]:
    made: list[tuple[Batcher, EngineExecutor]] = []

    def build(**policy: Any) -> tuple[Batcher, Metrics]:
        policy.setdefault("max_wait_s", 0.0)
        executor = EngineExecutor("fake", workers=int(policy.get("concurrency", 1)))
        metrics = Metrics()
        batcher = Batcher(engine, executor, BatchPolicy(**policy), metrics)
        batcher.start()
        made.append((batcher, executor))
        return batcher, metrics

    yield build
    assert engine.gate is not None
    engine.gate.set()
    for batcher, executor in made:
        await batcher.stop()
        executor.shutdown()


def submit(batcher: Batcher, texts: Sequence[str], priority: Priority = "interactive") -> list[WorkItem]:
    items = [WorkItem.create([t, "</s>"], "de", OPTS, priority) for t in texts]
    batcher.submit(items)
    return items


async def done(items: list[WorkItem]) -> list[str]:
    return [" ".join(h.tokens) for h in await gather_results([i.future for i in items], timeout_s=30)]


async def hold_first_batch(engine: FakeEngine, batcher: Batcher) -> list[WorkItem]:
    """Occupy the only worker with one bulk sentence, so that everything submitted next waits together."""
    first = submit(batcher, ["b0"], "bulk")
    assert await asyncio.to_thread(engine.started.wait, 30)
    return first


def kinds(engine: FakeEngine) -> list[str]:
    """Each batch after the first: 'i' (interactive) or 'b' (bulk), from its sentences' names."""
    return ["".join(sorted({s[0] for s in batch})) for batch in engine.batches()[1:]]


async def test_interactive_sentences_overtake_bulk_ones_queued_before_them(engine: FakeEngine, make: Factory) -> None:
    batcher, _ = make(max_batch_size=4)
    first = await hold_first_batch(engine, batcher)
    bulk = [submit(batcher, [f"b{i}{j}" for j in range(4)], "bulk") for i in range(3)]  # queued first
    interactive = [submit(batcher, [f"i{i}"]) for i in range(6)]
    assert engine.gate is not None
    engine.gate.set()
    assert await done(first) == ["de:b0"]
    assert [await done(r) for r in interactive] == [[f"de:i{i}"] for i in range(6)]
    assert [await done(r) for r in bulk] == [[f"de:b{i}{j}" for j in range(4)] for i in range(3)]
    assert kinds(engine) == ["i", "i", "b", "b", "b"]  # both interactive batches before any bulk one


async def test_bulk_still_drains_under_interactive_load_by_its_share(engine: FakeEngine, make: Factory) -> None:
    batcher, _ = make(max_batch_size=1, bulk_share=2)
    await hold_first_batch(engine, batcher)
    bulk = submit(batcher, ["b1", "b2", "b3"], "bulk")
    interactive = [submit(batcher, [f"i{i}"]) for i in range(8)]
    assert engine.gate is not None
    engine.gate.set()
    await done(bulk)
    await asyncio.gather(*(done(r) for r in interactive))
    # Every third batch is a bulk one while both wait; the requests left after the job run at the end.
    assert kinds(engine) == ["i", "i", "b", "i", "i", "b", "i", "i", "b", "i", "i"]


async def test_bulk_alone_runs_at_once_and_in_full_batches(engine: FakeEngine, make: Factory) -> None:
    batcher, metrics = make(max_batch_size=8, max_wait_s=10.0)  # a long hold would show as a hang
    assert engine.gate is not None
    engine.gate.set()
    chunks = [submit(batcher, [f"b{i}{j}" for j in range(4)], "bulk") for i in range(4)]
    assert [await done(c) for c in chunks] == [[f"de:b{i}{j}" for j in range(4)] for i in range(4)]
    assert all(len(batch) <= 8 for batch in engine.batches())
    assert await batcher.drain(5)
    text = metrics.render().decode()
    assert 'xlt_queue_depth_by_priority{model="fake",priority="bulk"} 0.0' in text


async def test_bulk_work_never_makes_a_request_overloaded(engine: FakeEngine, make: Factory) -> None:
    batcher, metrics = make(max_queue=4, max_batch_size=1)
    await hold_first_batch(engine, batcher)
    submit(batcher, ["b1", "b2", "b3", "b4"], "bulk")  # the bulk queue at its bound
    request = submit(batcher, ["i1"])  # still admitted: the classes have bounds of their own
    assert batcher.shedding() is None
    text = metrics.render().decode()
    assert 'xlt_queue_depth_by_priority{model="fake",priority="bulk"} 4.0' in text
    assert 'xlt_queue_depth_by_priority{model="fake",priority="interactive"} 1.0' in text
    assert engine.gate is not None
    engine.gate.set()
    assert await done(request) == ["de:i1"]


@pytest.mark.parametrize(("reserve_s", "bulk_running"), [(3600.0, 1), (0.0, 2)])
async def test_bulk_leaves_a_worker_free_after_recent_requests(
    engine: FakeEngine, make: Factory, reserve_s: float, bulk_running: int
) -> None:
    batcher, _ = make(concurrency=2, max_batch_size=1, interactive_reserve_s=reserve_s)
    assert engine.gate is not None
    engine.gate.set()
    assert await done(submit(batcher, ["i1"])) == ["de:i1"]  # a request just now
    engine.gate.clear()
    engine.started.clear()
    bulk = [submit(batcher, [f"b{i}"], "bulk") for i in range(2)]
    while len(engine.calls) < 1 + bulk_running:  # bounded by the test timeout; the reserve case stops at 1
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # time for a second bulk batch to start, were it allowed
    assert len(engine.calls) == 1 + bulk_running
    engine.gate.set()
    assert [await done(b) for b in bulk] == [["de:b0"], ["de:b1"]]
