"""The jobs API's use cases: accept a file as a job, show it, hand over its result, cancel it.

Why apart from the route: the route stays thin (read the form, call, shape the answer). A job is accepted only
once its file parsed (a bad file is the same 4xx as on ``POST /translate/file``, never a job that fails later),
its model, languages and memory were checked, and its row and upload are committed. Jobs belong to the key
that created them: another key gets 404, as for memories (admin keys see every job).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from service.documents import FileOptions, Limits, parse_document
from service.documents.bridge import detect_source
from service.engines.registry import ModelRegistry
from service.errors import (
    JobFinished,
    JobNoResult,
    JobNotDone,
    JobNotFound,
    UnsupportedDirection,
)
from service.fewshot.memories import Memories, Scope
from service.fewshot.store import check_memory_id
from service.jobs.model import Job, JobSpec, check_job_id
from service.jobs.runner import JobRunner, JobStores
from service.metrics import Metrics
from service.pipeline import TranslationPipeline, check_language
from service.schemas import AUTO
from service.settings import Settings


class JobManager:
    def __init__(
        self,
        stores: JobStores,
        runner: JobRunner,
        settings: Settings,
        metrics: Metrics,
        memories: Memories | None = None,
    ) -> None:
        self._stores = stores
        self.runner = runner
        self._settings = settings
        self._metrics = metrics
        self._memories = memories

    async def check_request(
        self, registry: ModelRegistry, model: str | None, source: str, target: str, memory: str | None, scope: Scope
    ) -> None:
        """What can be known before the file is read: the model, its languages, the memory."""
        engine = registry.get(model)
        for role, lang in (("target", target), ("source", source)):
            if lang != AUTO:
                check_language(engine, lang, role)
        if source != AUTO and (source, target) not in {(s, t) for s, t, _ in engine.manifest.directions()}:
            raise UnsupportedDirection(f"model {engine.name!r} cannot translate {source} -> {target}")
        if memory is not None:
            check_memory_id(memory)
            if self._memories is not None:
                await asyncio.to_thread(self._memories.require, memory, scope)

    async def create(
        self,
        pipeline: TranslationPipeline,
        data: bytes,
        filename: str,
        *,
        source: str,
        target: str,
        model: str | None,
        memory: str | None,
        options: FileOptions,
        scope: Scope,
        charge: Callable[[int], AbstractAsyncContextManager[None]] | None = None,
    ) -> Job:
        """Parse ``data`` (a ``DocumentError`` when it cannot be translated), detect an ``auto`` source once,
        and store the job; ``charge(chars)`` wraps the storing with the characters the job will send (the
        caller's quota: refused before anything is stored, given back if storing fails)."""
        limits = Limits.from_settings(self._settings)
        document = await asyncio.to_thread(parse_document, data, filename, options, source, target, limits)
        segments = list(document.segments)
        chars = sum(len(s.text) for s in segments if s.text.strip())
        if source == AUTO and chars:
            source = await detect_source(pipeline, segments, model)
        spec = JobSpec(filename, source, target, model, memory, options, scope.key_id, scope.everyone)
        store = await self._stores.get()
        async with charge(chars) if charge is not None else nullcontext():
            job = await asyncio.to_thread(store.create, spec, len(segments), data)
        self._metrics.jobs.labels("queued").inc()
        self.runner.notify()
        return job

    async def get(self, job_id: str, scope: Scope) -> Job:
        check_job_id(job_id)
        job = None
        if self._stores.present():
            store = await self._stores.get()
            job = await asyncio.to_thread(store.get, job_id)
        if job is None or not scope.sees(job.spec.owner):
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def result(self, job_id: str, scope: Scope) -> tuple[Job, bytes]:
        job = await self.get(job_id, scope)
        if job.state in ("queued", "running"):
            raise JobNotDone(f"job {job_id} is {job.state} ({job.done}/{job.total} segments); poll GET /jobs/{job_id}")
        store = await self._stores.get()
        data = await asyncio.to_thread(store.result, job_id) if job.state == "done" else None
        if data is None:
            raise JobNoResult(f"job {job_id} is {job.state}: it has no result")
        return job, data

    async def cancel(self, job_id: str, scope: Scope) -> Job:
        await self.get(job_id, scope)  # 404 for another key's job, before anything changes
        store = await self._stores.get()
        found = await asyncio.to_thread(store.cancel, job_id)
        if found is None:
            raise JobNotFound(f"job {job_id} not found")
        job, cancelled = found
        if not cancelled:
            raise JobFinished(f"job {job_id} already ended ({job.state}); nothing to cancel")
        self.runner.cancelled(job_id)
        self._metrics.jobs.labels("cancelled").inc()
        if job.finished_at is not None:
            self._metrics.job_duration.labels("cancelled").observe(max(0.0, job.finished_at - job.created_at))
        return job

    async def close(self) -> None:
        """Stop the runner (its jobs handed back), then close the store."""
        await self.runner.stop()
        await self._stores.close()
