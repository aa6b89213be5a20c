"""``create_app(settings)``: the FastAPI app, with a lifespan that starts and stops engines and batchers.

Why a factory with a lifespan: nothing heavy happens at import; each app owns its registry, metrics and
batchers, so tests build apps with fakes in-process and integration tests run the same app under uvicorn.
Shutdown marks the app not ready first (draining), lets queued and running work finish within
``drain_timeout_s``, then stops batchers, executors and engines.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from service import gc_policy
from service.access_log import REQUEST_ID_HEADER, AccessLogMiddleware
from service.auth.guard import Guard
from service.auth.keys import KEYS_DB, KeyStore
from service.auth.keys import STORE as KEY_STORE
from service.batching.batcher import Batcher, BatchPolicy, Scheduler
from service.batching.direct import DirectScheduler
from service.batching.executor import EngineExecutor
from service.batching.leases import Leases
from service.engines.base import Engine
from service.engines.manifest import Manifest
from service.engines.priority import lower_new_threads
from service.engines.registry import EngineLoader, ModelRegistry
from service.errors import install_error_handlers
from service.fewshot.memories import Memories, store_opener
from service.fewshot.store import STORE as MEMORY_STORE
from service.fewshot.store import MemoryStore
from service.jobs.manager import JobManager
from service.jobs.runner import JobRunner, JobStores, pipeline_translator
from service.jobs.store import STORE as JOB_STORE
from service.jobs.store import job_store_opener
from service.langid import LanguageDetector, default_detector
from service.metrics import Metrics
from service.middleware import BodyLimitMiddleware, MetricsMiddleware, ShedMiddleware
from service.openapi import install_openapi
from service.pipeline import TranslationPipeline
from service.reload import ModelReloader
from service.routes import (
    detect,
    files,
    health,
    jobs,
    languages,
    libretranslate,
    memories,
    metrics,
    models,
    playground,
    translate,
)
from service.settings import Settings
from service.shutdown import InFlightMiddleware, install_sigterm_drain
from service.state import AppState

log = logging.getLogger(__name__)

IMPORT_PATH = re.compile(r"^/memories/[^/]+/import$")  # bodies up to XLT_MAX_IMPORT_BYTES
FILE_PATHS = re.compile(r"^/(translate/file|libretranslate/translate_file|jobs)$")  # up to XLT_MAX_FILE_BYTES
FORM_OVERHEAD = 64 << 10  # the multipart form's other fields and boundaries around the file


def _version() -> str:
    try:
        return version("xlt")
    except PackageNotFoundError:
        return "0.0.0"


def ctranslate2_loader(settings: Settings) -> EngineLoader:
    """Engine folders load as CTranslate2 engines with the thread settings of this app."""

    def load(folder: Path, manifest: Manifest) -> Engine:
        from service.engines.ctranslate2_engine import CTranslate2Engine

        with lower_new_threads(settings.engine_nice):  # the threads the Translator starts
            return CTranslate2Engine(
                folder,
                manifest,
                device=settings.device,
                compute_type=settings.compute_type,
                inter_threads=settings.inter_threads,
                intra_threads=settings.intra_threads,
                max_input_length=settings.max_input_length,
            )

    return load


def batch_policy(settings: Settings, **overrides: Any) -> BatchPolicy:
    """The batcher's budgets from the settings: one place for the server and the in-process translator."""
    return BatchPolicy(
        max_batch_tokens=settings.max_batch_tokens,
        max_batch_size=settings.max_batch_size,
        max_wait_s=settings.max_wait_ms / 1000,
        max_queue=settings.max_queue,
        concurrency=settings.inter_threads,
        bulk_share=settings.bulk_share,
        interactive_reserve_s=settings.interactive_reserve_s,
        **overrides,
    )


def _scheduler(engine: Engine, executor: EngineExecutor, settings: Settings, metrics: Metrics) -> Scheduler:
    # a request may wait in the queue half its deadline; the other half: its own batch and margin
    policy = batch_policy(settings, max_queue_wait_s=settings.request_timeout_s / 2)
    cls = Batcher if settings.batching else DirectScheduler
    return cls(engine, executor, policy, metrics)


async def _start(
    state: AppState,
    extra_engines: Sequence[Engine],
    detector: LanguageDetector | None,
    loader: EngineLoader | None,
    memory_store: MemoryStore | None,
) -> None:
    settings = state.settings
    open_store = store_opener(settings.memory_store_url, settings.data_dir, memory_store)  # a bad URL fails here
    keys_db = settings.data_dir / KEYS_DB
    guard = state.guard = Guard(settings.api_keys_required, lambda: KeyStore(keys_db))
    if guard.required:
        await asyncio.to_thread(lambda: guard.store)  # required keys and an unusable data dir: fail at start

    def launch(engine: Engine) -> tuple[EngineExecutor, Scheduler]:
        executor = EngineExecutor(engine.name, workers=settings.inter_threads)
        scheduler = _scheduler(engine, executor, settings, state.metrics)
        scheduler.start()
        return executor, scheduler

    registry = state.registry = ModelRegistry(settings.default_model)
    leases = Leases()
    reloader = ModelReloader(
        settings,
        registry,
        state.schedulers,
        state.executors,
        state.metrics,
        loader or ctranslate2_loader(settings),
        launch,
        leases,
    )
    state.reloader = reloader
    reloader.adopt(extra_engines)
    await reloader.start()  # the engine folders of models_dir, loaded as a reload would
    registry.check_default()
    if not len(registry):
        log.error("no model loaded from %s: the service stays not ready", settings.models_dir)
    if detector is None and settings.language_detection:
        detector = await asyncio.to_thread(default_detector)
    state.memories = Memories(open_store, settings.memory_cache_size)
    state.pipeline = TranslationPipeline(
        settings, registry, state.schedulers, detector, memories=state.memories, leases=leases, metrics=state.metrics
    )
    stores = JobStores(job_store_opener(settings.memory_store_url, settings.data_dir))
    runner = JobRunner(stores, pipeline_translator(state.pipeline, settings), settings, state.metrics, state.memories)
    state.jobs = JobManager(stores, runner, settings, state.metrics, state.memories)
    runner.start()  # jobs accepted before a restart resume now
    state.ready = True
    state.publish_ready()
    log.info(
        "serving %s (default %s), batching %s",
        ", ".join(registry.names()) or "no model",
        registry.default_name,
        "on" if settings.batching else "off",
    )


async def _stop(state: AppState) -> None:
    state.draining = True
    if state.jobs is not None:
        await state.jobs.close()  # first: running jobs are handed back, their queued sentences dropped
    if not await state.in_flight.wait_idle(state.settings.drain_timeout_s):  # after SIGTERM: already idle
        log.warning("drain timeout: %d requests still in flight", state.in_flight.count)
    if state.reloader is not None:
        await state.reloader.close(state.settings.drain_timeout_s)  # no more reloads; retire replaced engines
    schedulers = list(state.schedulers.values())
    drained = await asyncio.gather(*(s.drain(state.settings.drain_timeout_s) for s in schedulers))
    if not all(drained):
        log.warning("drain timeout (%.1f s) reached: failing unfinished work", state.settings.drain_timeout_s)
    for scheduler in schedulers:
        await scheduler.stop()
    for executor in state.executors:
        await asyncio.to_thread(executor.shutdown, True)  # at most one running batch per worker
    state.registry.close()
    if state.memories is not None:
        await asyncio.to_thread(state.memories.close)
    if state.guard is not None:
        await state.guard.close()
    state.ready = False


def _on_sighup(state: AppState, install: bool) -> None:
    """SIGHUP reloads the model folders (as ``POST /models/reload``); only where the loop can take signals."""
    if not state.settings.reload_on_sighup or not hasattr(signal, "SIGHUP"):
        return
    loop = asyncio.get_running_loop()
    try:
        if install and state.reloader is not None:
            loop.add_signal_handler(signal.SIGHUP, state.reloader.reload_soon)
        elif not install:
            loop.remove_signal_handler(signal.SIGHUP)
    except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread, or no signals here
        log.info("no SIGHUP reload here: %s", exc)


def create_app(
    settings: Settings | None = None,
    *,
    extra_engines: Sequence[Engine] = (),
    detector: LanguageDetector | None = None,
    engine_loader: EngineLoader | None = None,
    memory_store: MemoryStore | None = None,
) -> FastAPI:
    """Build the app.

    ``extra_engines`` are served beside the folders of ``models_dir`` (tests register fakes); ``detector``
    replaces the default langid detector; ``engine_loader`` replaces the CTranslate2 loader; ``memory_store``
    replaces the SQLite file under ``data_dir`` (a shared database when replicas share memories).
    """
    settings = settings if settings is not None else Settings()
    state = AppState(settings=settings, metrics=Metrics())
    state.metrics.configure(settings.request_timeout_s, stores=(MEMORY_STORE, KEY_STORE, JOB_STORE))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await _start(state, extra_engines, detector, engine_loader, memory_store)
        except BaseException:
            await _stop(state)  # batchers already started must not outlive a failed start
            raise
        _on_sighup(state, install=True)
        undo_sigterm = install_sigterm_drain(state)
        undo_gc = gc_policy.settle()  # what start loaded is frozen; young garbage collected less often
        try:
            yield
        finally:
            undo_gc()
            undo_sigterm()
            _on_sighup(state, install=False)
            await _stop(state)

    app = FastAPI(
        title="xlt",
        version=_version(),
        description="Translation service: CTranslate2 engines behind dynamic cross-request batching.",
        lifespan=lifespan,
    )
    app.state.xlt = state
    install_error_handlers(app)
    install_openapi(app)
    routers = [translate.router, languages.router, models.router, memories.router, health.router, metrics.router]
    routers += [detect.router, libretranslate.router, playground.router]  # LibreTranslate under /libretranslate
    routers += [files.router, jobs.router]
    for router in routers:
        app.include_router(router)
    paths = frozenset(getattr(r, "path", "") for router in routers for r in router.routes)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger=[(IMPORT_PATH, settings.max_import_bytes), (FILE_PATHS, settings.max_file_bytes + FORM_OVERHEAD)],
    )
    app.add_middleware(ShedMiddleware, schedulers=state.schedulers)  # every queue past its bounds: 429 unread
    app.add_middleware(InFlightMiddleware, state=state)  # while draining: 503 before anything is read
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )
    # Outside the body limit and the drain, so that their 413s and 503s are counted too.
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=paths)
    app.add_middleware(AccessLogMiddleware, routes=paths)  # outermost: every answer gets an id and a log line
    return app
