"""The replica's job runner: claims jobs from the store, translates them chunk by chunk, saves as it goes.

Why this shape: the store is the queue (no broker). Each replica runs one runner that claims up to
``XLT_MAX_JOBS`` jobs at a time, polling every ``XLT_JOB_POLL_S`` (and at once when a job is created here). A
claimed job is parsed again from its upload (parsing is deterministic: the segments come out the same), the
segments already saved are skipped, and the rest go through the pipeline at ``bulk`` priority in chunks of
``XLT_JOB_CHUNK_SIZE`` segments, each committed with the lease renewed while the next ones are translated (one
chunk ahead per engine worker, so that no worker waits on the store or on another's chunk); a heartbeat renews the
lease in between.
When the lease is lost (the job was cancelled, or another replica took it over after this one stalled) the
heartbeat stops the work; every write checks the lease anyway. Passing troubles (a full queue, a timeout, a
model being reloaded, a store outage) are waited out and retried; anything else fails the job with its code.
A graceful stop hands running jobs back at once (``release``), so the next start, or another replica, resumes
them without waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from service.documents import Limits, Segment, TranslateSegments, parse_document
from service.documents.bridge import memory_pairs, pipeline_segments
from service.errors import NotReady, Overloaded, StoreUnavailable, Timeout, XltError
from service.fewshot.memories import Memories, Scope
from service.jobs.model import Job, JobError, JobSpec, Outcome
from service.jobs.store import JobStore, JobStoreOpener
from service.metrics import Metrics
from service.pipeline import TranslationPipeline
from service.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 5  # claims of one job before it fails as interrupted (its workers kept dying on it)
PURGE_EVERY_S = 300.0
PASSING = (Overloaded, Timeout, NotReady, StoreUnavailable)  # waited out and retried, never a job's failure
MAX_BACKOFF_S = 30.0
STOP_WAIT_S = 5.0  # how long a stop waits for a claim in progress

Translator = Callable[[JobSpec], TranslateSegments]  # a job's segments -> their translations (None: left as is)


def worker_id() -> str:
    """Unique per runner (host, process, and a random part: several apps may share a process in tests)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def scope_of(spec: JobSpec) -> Scope:
    """The memories a job may use: its creator's."""
    return Scope(spec.owner, everyone=spec.everyone)


class JobStores:
    """The job store, opened on first use (a service that never sees a job never creates its file)."""

    def __init__(self, opener: JobStoreOpener) -> None:
        self._opener = opener
        self._store: JobStore | None = None
        self._lock = asyncio.Lock()

    def present(self) -> bool:
        return self._store is not None or self._opener.present()

    async def get(self) -> JobStore:
        async with self._lock:
            if self._store is None:
                self._store = await asyncio.to_thread(self._opener.open)
            return self._store

    async def close(self) -> None:
        async with self._lock:
            if self._store is not None:
                await asyncio.to_thread(self._store.close)
                self._store = None


class JobRunner:
    def __init__(
        self,
        stores: JobStores,
        translator: Translator,
        settings: Settings,
        metrics: Metrics,
        memories: Memories | None = None,
    ) -> None:
        self.worker = worker_id()
        self._stores = stores
        self._translator = translator
        self._settings = settings
        self._metrics = metrics
        self._memories = memories
        self._limits = Limits.from_settings(settings)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._purged_at = -PURGE_EVERY_S
        self._stopping = False

    @property
    def running(self) -> list[str]:
        """The ids of the jobs this replica works on now."""
        return list(self._tasks)

    def start(self) -> None:
        if self._settings.max_jobs > 0 and self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="xlt-job-runner")

    def notify(self) -> None:
        """A job was created here: look for work now rather than at the next poll."""
        self._wakeup.set()

    def cancelled(self, job_id: str) -> None:
        """A job was cancelled through this replica: stop its work now (elsewhere, the heartbeat sees it)."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    async def _loop(self) -> None:
        wait = self._settings.job_poll_s
        while not self._stopping:
            self._wakeup.clear()
            try:
                if self._stores.present():
                    await self._fill()
                    await self._purge()
                wait = self._settings.job_poll_s
            except XltError as exc:  # the store is down or full: try again, a little later each time
                wait = min(MAX_BACKOFF_S, wait * 2)
                log.warning("job runner: %s (next try in %.0f s)", exc.message, wait)
            except Exception:
                wait = min(MAX_BACKOFF_S, wait * 2)
                log.exception("job runner: claiming failed (next try in %.0f s)", wait)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not wait_for: on 3.11 it can lose a cancellation racing a wakeup
                    await self._wakeup.wait()

    async def _fill(self) -> None:
        store = await self._stores.get()
        while len(self._tasks) < self._settings.max_jobs:
            job = await asyncio.to_thread(store.claim, self.worker, self._settings.job_lease_s, MAX_ATTEMPTS)
            if job is None:
                return
            if self._stopping:
                await asyncio.to_thread(store.release, job.id, self.worker)
                return
            log.info("job %s: claimed (attempt %d, %d/%d segments done)", job.id, job.attempts, job.done, job.total)
            self._metrics.jobs.labels("running").inc()
            task = asyncio.create_task(self._run(store, job), name=f"xlt-job-{job.id}")
            self._tasks[job.id] = task
            task.add_done_callback(partial(self._done, job.id))

    def _done(self, job_id: str, _: asyncio.Task[None]) -> None:
        self._tasks.pop(job_id, None)
        self._wakeup.set()  # a free slot: claim the next job

    async def _purge(self) -> None:
        now = time.time()
        if now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        store = await self._stores.get()
        gone = await asyncio.to_thread(store.purge, now - self._settings.job_retention_h * 3600)
        if gone:
            log.info("job runner: deleted %d jobs finished more than %g h ago", gone, self._settings.job_retention_h)

    async def _run(self, store: JobStore, job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._metrics.jobs_running.inc()
        beat = asyncio.create_task(self._heartbeat(store, job.id, task))
        try:
            error = await self._work(store, job)
            if error is not None:
                log.warning("job %s failed: %s (%s)", job.id, error.code, error.message)
                await self._end(store, job, None, error)
        finally:
            beat.cancel()
            self._metrics.jobs_running.dec()

    async def _end(self, store: JobStore, job: Job, result: bytes | None, error: JobError | None) -> None:
        ended = await self._retry(lambda: asyncio.to_thread(store.finish, job.id, self.worker, result, error))
        if ended is not None and ended.finished_at is not None:
            self._metrics.jobs.labels(ended.state).inc()
            self._metrics.job_duration.labels(ended.state).observe(max(0.0, ended.finished_at - ended.created_at))

    async def _heartbeat(self, store: JobStore, job_id: str, work: asyncio.Task[None]) -> None:
        lease = self._settings.job_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            try:
                held = await asyncio.to_thread(store.renew, job_id, self.worker, lease)
            except XltError as exc:
                log.warning("job %s: lease not renewed (%s)", job_id, exc.message)
                continue
            if not held:
                log.info("job %s: cancelled or taken over; stopping its work here", job_id)
                work.cancel()
                return

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, again after a pause while it fails for a passing reason."""
        wait = 0.5
        while True:
            try:
                return await call()
            except PASSING as exc:
                log.info("job runner: %s; retrying in %.1f s", exc.message, wait)
                await asyncio.sleep(wait)
                wait = min(MAX_BACKOFF_S, wait * 2)

    async def _work(self, store: JobStore, job: Job) -> JobError | None:
        """Translate what is left of ``job`` and finish it; the error that failed it, if any."""
        spec, chunk, lease = job.spec, self._settings.job_chunk_size, self._settings.job_lease_s
        try:
            data = await self._retry(lambda: asyncio.to_thread(store.upload, job.id))
            if data is None:
                return None  # finished meanwhile (cancelled): nothing to do
            document = await asyncio.to_thread(
                parse_document, data, spec.filename, spec.options, spec.source, spec.target, self._limits
            )
            segments = list(document.segments)
            saved = await self._retry(lambda: asyncio.to_thread(store.translations, job.id))
            pending = [i for i in range(len(segments)) if i not in saved]
            translate = self._translator(spec)
            chunks = [pending[start : start + chunk] for start in range(0, len(pending), chunk)]
            depth = lookahead(self._settings)
            ahead: deque[asyncio.Task[dict[int, Outcome]]] = deque()
            try:
                for number in range(len(chunks)):
                    while len(ahead) < depth and number + len(ahead) < len(chunks):
                        ahead.append(asyncio.create_task(self._chunk(translate, segments, chunks[number + len(ahead)])))
                    outcomes = await ahead[0]
                    ahead.popleft()
                    kept = await self._retry(
                        partial(asyncio.to_thread, store.save, job.id, self.worker, lease, outcomes)
                    )
                    if not kept:
                        log.info("job %s: cancelled or taken over; stopping its work here", job.id)
                        return None
                    saved.update((i, o.translation) for i, o in outcomes.items())
                    await self._write_back(spec, segments, outcomes)
            finally:
                await _drop(ahead)
            output = await asyncio.to_thread(document.render, [saved.get(i) for i in range(len(segments))])
        except XltError as exc:
            return JobError(exc.code, exc.message)
        except Exception as exc:
            log.exception("job %s failed", job.id)
            return JobError("internal_error", f"the job failed ({type(exc).__name__})")
        await self._end(store, job, output, None)
        return None

    async def _chunk(
        self, translate: TranslateSegments, segments: list[Segment], indices: list[int]
    ) -> dict[int, Outcome]:
        chosen = [segments[i] for i in indices]
        translations = await self._retry(lambda: translate(chosen))
        limit = self._settings.max_text_chars
        outcomes = {}
        for index, segment, translation in zip(indices, chosen, translations, strict=True):
            error = None
            if translation is None and segment.text.strip():
                why = f"markup longer than XLT_MAX_TEXT_CHARS ({limit})" if len(segment.text) > limit else "no output"
                error = JobError("segment_untranslated", f"segment {index} was left untranslated: {why}", index)
            outcomes[index] = Outcome(translation, error)
        return outcomes

    async def _write_back(self, spec: JobSpec, segments: list[Segment], outcomes: dict[int, Outcome]) -> None:
        """``store: true``: the chunk's machine translations go into the job's memory, flagged unreviewed (an
        entry a person wrote is kept)."""
        memories = self._memories
        if memories is None or spec.memory is None or not spec.options.store:
            return
        pairs = memory_pairs(
            [segments[i] for i in outcomes], [o.translation for o in outcomes.values()], self._settings.max_text_chars
        )
        if pairs:
            memory = spec.memory
            await self._retry(
                lambda: asyncio.to_thread(
                    memories.add, memory, spec.source, spec.target, pairs, scope_of(spec), reviewed=False
                )
            )

    async def stop(self) -> None:
        """Stop claiming, stop the jobs in progress, and hand them back (the next start resumes them)."""
        self._stopping = True
        self._wakeup.set()
        if self._loop_task is not None:  # let a claim in progress end (and hand its job back), within reason
            await asyncio.wait({self._loop_task}, timeout=STOP_WAIT_S)
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if tasks:
            store = await self._stores.get()
            for job_id in tasks:
                try:
                    await asyncio.to_thread(store.release, job_id, self.worker)
                    log.info("job %s: handed back (resumed by the next start or another replica)", job_id)
                except XltError as exc:
                    log.warning("job %s: not handed back (%s); resumed once its lease runs out", job_id, exc.message)


def lookahead(settings: Settings) -> int:
    """How many of a job's chunks are in the batcher at once: one per engine worker, so that every worker has one
    to decode while the oldest is saved, plus that one; fewer where the bulk queue would not hold them for every
    job the runner may run at once (a chunk past it would bounce off a full queue and retry)."""
    fits = settings.max_queue // (settings.job_chunk_size * max(1, settings.max_jobs))
    return max(1, min(settings.inter_threads, fits)) + 1


async def _drop(tasks: deque[asyncio.Task[T]]) -> None:
    """Cancel the chunks translated ahead that will not be saved, and wait for them (their errors are moot)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def pipeline_translator(pipeline: TranslationPipeline, settings: Settings) -> Translator:
    """Jobs' segments through the pipeline (``documents.bridge``) at bulk priority, with the job's memory and its
    creator's scope, in requests of at most ``XLT_MAX_ITEMS`` segments."""

    def translator(spec: JobSpec) -> TranslateSegments:
        return pipeline_segments(
            pipeline,
            source=spec.source,
            target=spec.target,
            model=spec.model,
            memory=spec.memory,
            scope=scope_of(spec),
            max_text_chars=settings.max_text_chars,
            chunk=settings.max_items,
            priority="bulk",
        )

    return translator
