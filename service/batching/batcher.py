"""One asyncio task per engine owns its queue and turns waiting sentences into engine batches.

Why one owner task (TGI style): only this task pops the queue, so there are no locks. Policy:
- a batch takes the oldest item plus similar-length items with its decoding options (and its target language,
  where the engine decodes each target language in a call of its own), up to ``max_batch_tokens`` padded tokens and
  ``max_batch_size`` sentences;
- an idle engine with one request waiting starts at once (no added latency for a lone client);
- otherwise a partly filled batch waits at most ``max_wait_ms`` (from its oldest item) for company;
- while a batch runs, new arrivals accumulate and form the next one. With several engine workers, a free worker
  takes a batch at once when as many sentences wait as a running batch holds (that is this load's batch size:
  eight clients on two workers run four and four, and holding longer would leave a core idle), or a worker's
  share of a full batch (``1/concurrency`` of the budgets); a smaller batch is held up to about one batch time
  (measured), since a worker decoding batches of one or two costs more per sentence than the batch they would
  have joined;
- a request is refused (429) when the queue is full, or when the work already queued would take longer than
  ``max_queue_wait_s`` (half the request deadline): under overload clients get a fast 429, never a 504. The
  estimate assumes first-in-first-out service, which the queue keeps to within about one batch time (``_slack``);
- background jobs' sentences (``priority="bulk"``) wait in a queue of their own and start only when no
  interactive sentence waits, so requests always go first; yet a job cannot starve: when both wait, every
  ``bulk_share``-th batch is a bulk one. With several workers, bulk batches leave one worker free for
  ``interactive_reserve_s`` after the last interactive arrival (an idle service gives a job every worker; a busy
  one never makes a request wait behind bulk batches on every worker). Bulk work never counts in a request's
  wait estimate nor in shedding.
Every future is resolved: a failing batch sets the error on each of its futures, and stopping fails what is
still queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from service.batching.executor import EngineExecutor
from service.batching.queue import PRIORITIES, BatchQueue, WorkItem, padded_tokens
from service.engines.base import Engine
from service.errors import EngineError, NotReady, Overloaded, XltError
from service.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchPolicy:
    max_batch_tokens: int = 1600
    max_batch_size: int = 64
    max_wait_s: float = 0.005
    max_queue: int = 1024
    concurrency: int = 1  # batches running at once (the engine's inter_threads)
    max_queue_wait_s: float = math.inf  # refuse work that would wait longer than this (by recent batch speed)
    bulk_share: int = 8  # when both classes wait, at least one batch in this many is a bulk (job) batch
    interactive_reserve_s: float = 1.0  # bulk leaves a worker free this long after an interactive arrival


class Scheduler(Protocol):
    """What the pipeline needs: hand over the items of one request; their futures carry the results."""

    def start(self) -> None: ...

    def submit(self, items: Sequence[WorkItem]) -> None: ...

    def shedding(self) -> int | None:
        """Retry-After seconds when any request would now be refused as overloaded, else None."""
        ...

    @property
    def running(self) -> bool: ...

    async def drain(self, timeout_s: float) -> bool: ...

    async def stop(self) -> None: ...


async def execute_batch(
    engine: Engine, executor: EngineExecutor, items: list[WorkItem], max_batch_tokens: int, metrics: Metrics
) -> float:
    """Run one batch in the executor and resolve every item's future; returns the inference seconds."""
    name = engine.name
    started = time.monotonic()
    for item in items:
        metrics.queue_wait.labels(name).observe(started - item.enqueued_at)
    metrics.batch_examples.labels(name).observe(len(items))
    metrics.batch_tokens.labels(name).observe(padded_tokens(items))
    error: XltError = EngineError(f"batch on model {name} was aborted")
    try:
        hyps = await executor.run(
            engine.translate_batch,
            [i.tokens for i in items],
            [i.target for i in items],
            items[0].options,
            max_batch_tokens,
        )
        if len(hyps) != len(items):
            raise EngineError(f"model {name} returned {len(hyps)} results for {len(items)} sentences")
        metrics.input_tokens.labels(name).inc(sum(len(i.tokens) for i in items))
        metrics.output_tokens.labels(name).inc(sum(len(h.tokens) for h in hyps))
        for item, hyp in zip(items, hyps, strict=True):
            if item.live:
                item.future.set_result(hyp)
    except XltError as exc:
        error = exc
    except Exception as exc:  # any engine failure becomes engine_error on every future of the batch
        log.exception("batch of %d sentences failed on model %s", len(items), name)
        error = EngineError(f"translation failed on model {name} ({type(exc).__name__})")
    finally:
        for item in items:
            if item.live:
                item.future.set_exception(error)
        elapsed = time.monotonic() - started
        metrics.inference.labels(name).observe(elapsed)
    return elapsed


class Batcher:
    """Dynamic cross-request batching for one engine."""

    def __init__(self, engine: Engine, executor: EngineExecutor, policy: BatchPolicy, metrics: Metrics) -> None:
        self._engine = engine
        self._executor = executor
        self._policy = policy
        self._metrics = metrics
        by_target = engine.manifest.decoding.one_call_per_target
        self._queue = BatchQueue(policy.max_queue, window=4 * policy.max_batch_size, by_target=by_target)
        self._bulk = BatchQueue(policy.max_queue, window=4 * policy.max_batch_size, by_target=by_target)
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._inflight = 0  # running batches, both classes
        self._inflight_bulk = 0  # running bulk batches
        self._inflight_items = 0  # sentences in the running interactive batches
        self._passed = 0  # interactive batches started while bulk sentences waited (for ``bulk_share``)
        self._interactive_at = -math.inf  # when the last interactive sentences arrived
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._batch_s = 0.1  # moving average of batch time, for Retry-After
        self._sentence_s = 0.0  # moving average of engine seconds per sentence (0: not measured yet)

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name=f"xlt-batcher-{self._engine.name}")
            self._loop_task.add_done_callback(self._on_loop_exit)

    def _on_loop_exit(self, task: asyncio.Task[None]) -> None:
        """A crashed owner task must be loud: readiness turns 503 and the cause is logged."""
        if not task.cancelled() and task.exception() is not None:
            log.error("batcher for model %s stopped", self._engine.name, exc_info=task.exception())
            for queue in (self._queue, self._bulk):
                queue.fail_all(EngineError(f"batcher for model {self._engine.name} stopped"))

    def submit(self, items: Sequence[WorkItem]) -> None:
        """Queue the items of one request (all or none; ``Overloaded`` when the queue is full).

        The items of one submission share a priority class (the first item's)."""
        if not self.running:
            raise NotReady(f"model {self._engine.name} is not accepting work")
        if not items:
            return
        if items[0].priority == "bulk":
            self._bulk.put(items, retry_after_s=self._retry_after())
        else:
            wait = self._queue_wait_s(len(items))
            if len(self._queue) and wait > self._policy.max_queue_wait_s:
                raise Overloaded(
                    f"the queue holds about {wait:.0f} s of work, more than a request may wait; retry later",
                    retry_after_s=self._retry_after(),
                )
            self._queue.put(items, retry_after_s=self._retry_after())
            self._interactive_at = time.monotonic()
        self._gauges()
        self._idle.clear()
        self._wakeup.set()

    def _gauges(self) -> None:
        name = self._engine.name
        self._metrics.queue_depth.labels(name).set(len(self._queue) + len(self._bulk))
        for priority, queue in zip(PRIORITIES, (self._queue, self._bulk), strict=True):
            self._metrics.queue_depth_by_priority.labels(name, priority).set(len(queue))

    def shedding(self) -> int | None:
        """Retry-After seconds when every request would now be refused (the queue alone is past its bounds)."""
        queued = len(self._queue)
        if not queued or not self.running:
            return None
        if queued >= self._policy.max_queue or self._queue_wait_s() > self._policy.max_queue_wait_s:
            return self._retry_after()
        return None

    def _queue_wait_s(self, arriving: int = 0) -> float:
        """How long the queued sentences (and ``arriving`` more) take at the measured engine speed."""
        return (len(self._queue) + arriving) * self._sentence_s / self._policy.concurrency

    def _retry_after(self) -> int:
        batches = len(self._queue) / self._policy.max_batch_size + 1
        return max(1, math.ceil(batches * self._batch_s / self._policy.concurrency))

    def _slack(self) -> float:
        """How much later than the oldest item a sentence may arrive and still join its batch: about one batch
        time, so that nothing waits much longer than the first-in-first-out estimate it was admitted by."""
        return max(self._policy.max_wait_s, self._batch_s)

    def _next_delay(self) -> tuple[float | None, BatchQueue]:
        """Which queue the next batch comes from, and when: None: nothing to do now; 0: start a batch now; > 0:
        wait that long (for more items, or for the end of the reserve for interactive work)."""
        if self._inflight >= self._policy.concurrency:
            return None, self._queue
        bulk = self._bulk_delay()
        if bulk == 0.0 and self._passed >= self._policy.bulk_share:
            return 0.0, self._bulk  # its guaranteed share: a job progresses under any interactive load
        interactive = self._interactive_delay()
        if interactive is not None:
            return interactive, self._queue  # interactive sentences wait (even held for company): they go first
        return bulk, self._bulk

    def _bulk_delay(self) -> float | None:
        """None: no bulk work; 0: a bulk batch may start now; > 0: when the worker kept for requests is free."""
        if self._bulk.oldest() is None:
            return None
        workers = self._policy.concurrency
        if workers == 1 or self._inflight_bulk < workers - 1:
            return 0.0
        return max(0.0, self._interactive_at + self._policy.interactive_reserve_s - time.monotonic())

    def _interactive_delay(self) -> float | None:
        oldest = self._queue.oldest()
        if oldest is None:
            return None
        slack = self._slack()
        if self._queue.full_batch_ready(self._policy.max_batch_tokens, self._policy.max_batch_size, slack):
            return 0.0
        inflight = self._inflight - self._inflight_bulk  # running bulk batches are not company to wait for
        if inflight == 0 and self._queue.submissions() <= 1:
            return 0.0  # idle engine, one request waiting: adding latency would gain nothing
        hold = self._policy.max_wait_s
        if inflight:
            share = self._policy.concurrency
            if self._queue.full_batch_ready(
                self._policy.max_batch_tokens // share, self._policy.max_batch_size // share, slack
            ):
                return 0.0
            if len(self._queue) >= self._inflight_items / inflight:
                return 0.0  # as much waiting as a running batch holds: this load's batch size, and a core is idle
            hold += self._batch_s  # another batch runs: gather company until about when it ends
        remaining = oldest.enqueued_at + hold - time.monotonic()
        return max(0.0, remaining)

    async def _loop(self) -> None:
        while True:
            self._wakeup.clear()
            delay, queue = self._next_delay()
            if delay == 0.0:
                bulk = queue is self._bulk
                # Bulk sentences have no latency to keep: any length in the window may join the oldest.
                slack = math.inf if bulk else self._slack()
                batch = queue.pop_batch(self._policy.max_batch_tokens, self._policy.max_batch_size, slack)
                self._gauges()
                if batch:
                    self._inflight += 1
                    if bulk:
                        self._inflight_bulk += 1
                        self._passed = 0
                    else:
                        self._inflight_items += len(batch)
                        self._passed += 1 if self._bulk.oldest() is not None else 0
                    task = asyncio.create_task(self._run(batch, bulk))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                continue
            self._check_idle()
            if delay is None:
                await self._wakeup.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)

    async def _run(self, batch: list[WorkItem], bulk: bool = False) -> None:
        try:
            live = [i for i in batch if i.live]  # cancelled after the pop: still never inferred
            if live:
                elapsed = await execute_batch(
                    self._engine, self._executor, live, self._policy.max_batch_tokens, self._metrics
                )
                if not bulk:  # the batch time a request waits for (hold, slack, Retry-After): requests' batches
                    self._batch_s = 0.8 * self._batch_s + 0.2 * elapsed
                per_sentence = elapsed / len(live)
                self._sentence_s = per_sentence if not self._sentence_s else 0.7 * self._sentence_s + 0.3 * per_sentence
        finally:
            self._inflight -= 1
            if bulk:
                self._inflight_bulk -= 1
            else:
                self._inflight_items -= len(batch)
            self._wakeup.set()
            self._check_idle()

    def _check_idle(self) -> None:
        self._queue.purge()
        self._bulk.purge()
        if self._inflight == 0 and not len(self._queue) and not len(self._bulk):
            self._idle.set()
            self._gauges()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until queued and running work is finished; False when ``timeout_s`` ran out first."""
        self._check_idle()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop the owner task; fail what is still queued; let running batches resolve their futures."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for queue in (self._queue, self._bulk):
            queue.fail_all(NotReady(f"model {self._engine.name} is shutting down"))
        self._gauges()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
            leftover = list(self._tasks)
            for task in leftover:
                task.cancel()  # execute_batch's finally fails their futures
            await asyncio.gather(*leftover, return_exceptions=True)
