"""What one running app holds, reachable from routes through ``get_state``.

Why a plain object on ``app.state``: the lifespan fills it and routes read it; no module-level globals, so
tests can run several apps in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from service.auth.guard import Guard
from service.batching.batcher import Scheduler
from service.batching.executor import EngineExecutor
from service.engines.registry import ModelRegistry
from service.errors import NotReady
from service.fewshot.memories import Memories
from service.jobs.manager import JobManager
from service.metrics import Metrics
from service.pipeline import TranslationPipeline
from service.reload import ModelReloader
from service.settings import Settings
from service.shutdown import InFlight, admitted


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    schedulers: dict[str, Scheduler] = field(default_factory=dict)
    executors: list[EngineExecutor] = field(default_factory=list)
    pipeline: TranslationPipeline | None = None
    reloader: ModelReloader | None = None
    memories: Memories | None = None
    jobs: JobManager | None = None  # background jobs: the API's use cases and this replica's runner
    guard: Guard | None = None  # API keys and per-key limits
    in_flight: InFlight = field(default_factory=InFlight)  # accepted requests not answered yet
    ready: bool = False
    draining: bool = False

    def ready_reason(self, admitted: bool = False) -> str | None:
        """Why the app is not ready, or None when it is. ``admitted``: for a request accepted before draining
        began, which is served to the end while the engines still run."""
        if self.draining and not admitted:
            return "shutting down"
        if not self.ready or self.pipeline is None:
            return "starting"
        if not len(self.registry):
            return "no model is loaded"
        stopped = [name for name, s in self.schedulers.items() if not s.running]
        if stopped:
            return f"batcher not running for {', '.join(stopped)}"
        return None

    def publish_ready(self) -> None:
        """``xlt_ready`` follows ``ready_reason()``: set when the app turns ready and on every scrape (a batcher
        that stopped is seen at the next one)."""
        self.metrics.ready.set(0 if self.ready_reason() is not None else 1)


def state_of(request: Request) -> AppState:
    """The app's state, for code that already holds the request."""
    state: AppState = request.app.state.xlt
    return state


# The dependencies below are coroutines, though they never wait: FastAPI runs a plain ``def`` dependency in AnyIO's
# thread pool, a thread hop on every request (tests/unit/test_no_thread_pool.py keeps every one a coroutine).


async def get_state(request: Request) -> AppState:
    return state_of(request)


async def get_pipeline(request: Request) -> TranslationPipeline:
    state = state_of(request)
    reason = state.ready_reason(admitted=admitted(request.scope))
    if reason is not None or state.pipeline is None:
        raise NotReady(f"service not ready: {reason}")
    return state.pipeline


async def get_memories(request: Request) -> Memories:
    memories = state_of(request).memories
    if memories is None:
        raise NotReady("service not ready: starting")
    return memories


async def get_reloader(request: Request) -> ModelReloader:
    state = state_of(request)
    if state.reloader is None or state.draining:
        raise NotReady(f"service not ready: {state.ready_reason() or 'starting'}")
    return state.reloader
