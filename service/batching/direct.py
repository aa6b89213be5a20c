"""``XLT_BATCHING=off``: every request goes to the engine alone, for A/B benchmarks against the batcher.

Why keep it: it is the honest baseline (what LibreTranslate does), measured through the same executor, metrics
and backpressure. Engine calls at once are bounded by the engine's ``inter_threads``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from service.batching.batcher import BatchPolicy, execute_batch
from service.batching.executor import EngineExecutor
from service.batching.queue import WorkItem
from service.engines.base import Engine
from service.errors import NotReady, Overloaded
from service.metrics import Metrics


class DirectScheduler:
    """One engine call per request (its own sentences only), never merging requests."""

    def __init__(self, engine: Engine, executor: EngineExecutor, policy: BatchPolicy, metrics: Metrics) -> None:
        self._engine = engine
        self._executor = executor
        self._policy = policy
        self._metrics = metrics
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._started and not self._stopping

    def start(self) -> None:
        self._slots = asyncio.Semaphore(self._policy.concurrency)
        self._started = True

    def submit(self, items: Sequence[WorkItem]) -> None:
        if not self.running:
            raise NotReady(f"model {self._engine.name} is not accepting work")
        if not items:
            return
        if self._waiting and self._waiting + len(items) > self._policy.max_queue:
            raise Overloaded(f"queue is full ({self._waiting} sentences waiting); retry later")
        self._waiting += len(items)
        self._metrics.queue_depth.labels(self._engine.name).set(self._waiting)
        task = asyncio.create_task(self._run(list(items)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def shedding(self) -> int | None:
        return 1 if self.running and self._waiting >= self._policy.max_queue else None

    async def _run(self, items: list[WorkItem]) -> None:
        assert self._slots is not None
        queued = True
        try:
            async with self._slots:
                queued = False
                self._waiting -= len(items)
                self._metrics.queue_depth.labels(self._engine.name).set(self._waiting)
                live = [i for i in items if i.live]
                if live:
                    await execute_batch(
                        self._engine, self._executor, live, self._policy.max_batch_tokens, self._metrics
                    )
        finally:
            if queued:
                self._waiting -= len(items)
            for item in items:
                if item.live:
                    item.future.set_exception(NotReady(f"model {self._engine.name} is shutting down"))

    async def drain(self, timeout_s: float) -> bool:
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout_s)
        return not pending

    async def stop(self) -> None:
        self._stopping = True
        leftover = list(self._tasks)
        for task in leftover:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*leftover, return_exceptions=True)
        self._metrics.queue_depth.labels(self._engine.name).set(0)
