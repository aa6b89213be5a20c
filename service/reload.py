"""Hot reload of model folders (``POST /models/reload``, SIGHUP): new and changed folders get new engines and
batchers, removed ones are retired, and no request in flight fails.

Why this order: a new engine is loaded and its batcher started before it replaces the old one, so there is no
moment without a model; the swap itself has no ``await`` in it, so a request always sees one consistent
(engine, scheduler) pair. The old pair is retired in the background: once no request holds a lease on it (see
``batching/leases.py``) its batcher is drained and stopped and its engine closed. A folder that cannot be
loaded (half copied, broken manifest) keeps the previous version serving and is reported as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from service.batching.batcher import Scheduler
from service.batching.executor import EngineExecutor
from service.batching.leases import Leases
from service.engines.base import Engine
from service.engines.manifest import MANIFEST_FILE, Manifest
from service.engines.registry import EngineLoader, ModelRegistry, scan
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger(__name__)

Launch = Callable[[Engine], tuple[EngineExecutor, Scheduler]]


def fingerprint(folder: Path) -> str:
    """Changes whenever a file of the folder is added, removed, resized or rewritten."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _scan(models_dir: Path) -> list[tuple[Path, Manifest, str]]:
    return [(folder, manifest, fingerprint(folder)) for folder, manifest in scan(models_dir)]


@dataclass
class Served:
    """One engine with its executor and scheduler; ``folder`` is None for engines registered in code."""

    engine: Engine
    executor: EngineExecutor
    scheduler: Scheduler
    folder: Path | None = None
    fingerprint: str = ""


@dataclass
class ReloadReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # folder name -> why


class ModelReloader:
    """Owns the set of served engines; ``reload`` brings it in line with ``models_dir``."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        schedulers: MutableMapping[str, Scheduler],
        executors: list[EngineExecutor],
        metrics: Metrics,
        loader: EngineLoader,
        launch: Launch,
        leases: Leases,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._schedulers = schedulers
        self._executors = executors
        self._metrics = metrics
        self._loader = loader
        self._launch = launch
        self._leases = leases
        self._served: dict[str, Served] = {}
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[ReloadReport | None]] = set()
        self.reloads = 0  # completed reloads (tests and logs)

    def serve(self, engine: Engine, folder: Path | None = None, fp: str = "") -> None:
        """Start serving ``engine``, retiring the engine of the same name if there was one."""
        executor, scheduler = self._launch(engine)
        self._executors.append(executor)
        old = self._served.get(engine.name)
        self._served[engine.name] = Served(engine, executor, scheduler, folder, fp)
        self._registry.replace(engine)
        self._schedulers[engine.name] = scheduler
        m = engine.manifest
        if old is not None:
            o = old.engine.manifest
            self._metrics.model_info.remove(o.name, o.quantization, ",".join(o.languages))
            self._retire(old)
        self._metrics.model_info.labels(engine.name, m.quantization, ",".join(m.languages)).set(1)

    def _remove(self, name: str) -> None:
        old = self._served.pop(name)
        self._registry.unregister(name)
        self._schedulers.pop(name, None)
        m = old.engine.manifest
        self._metrics.model_info.remove(m.name, m.quantization, ",".join(m.languages))
        self._retire(old)

    def _retire(self, old: Served) -> None:
        task = asyncio.create_task(self._drain_and_close(old), name=f"xlt-retire-{old.engine.name}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _drain_and_close(self, old: Served) -> None:
        settings = self._settings
        try:
            if not await self._leases.released(old.scheduler, settings.request_timeout_s + settings.drain_timeout_s):
                log.warning("retiring %s: requests still hold it after their timeout", old.engine.name)
            await old.scheduler.drain(settings.drain_timeout_s)
        finally:
            await old.scheduler.stop()
            with contextlib.suppress(ValueError):
                self._executors.remove(old.executor)
            await asyncio.to_thread(old.executor.shutdown, True)
            try:
                await asyncio.to_thread(old.engine.close)
            except Exception:
                log.exception("closing retired engine %s failed", old.engine.name)
            log.info("retired the previous version of model %s", old.engine.name)

    async def start(self) -> ReloadReport:
        """The first load, at startup (not counted as a reload)."""
        async with self._lock:
            return await self._reload()

    async def reload(self) -> ReloadReport:
        """Compare ``models_dir`` with what is served and apply the difference; one reload at a time. A folder
        that failed to load counts the reload as an ``error`` (its previous version serves on, but someone must
        look)."""
        async with self._lock:
            try:
                report = await self._reload()
            except Exception:
                self._metrics.model_reloads.labels("error").inc()
                raise
            self._metrics.model_reloads.labels("error" if report.failed else "ok").inc()
            self.reloads += 1
            return report

    async def _reload(self) -> ReloadReport:
        report = ReloadReport()
        found = await asyncio.to_thread(_scan, self._settings.models_dir)
        seen_folders = {folder for folder, _, _ in found}
        fixed = {e.name for e in self._registry} - set(self._served)  # registered in code: never reloaded
        for folder, manifest, fp in found:
            name = manifest.name
            current = self._served.get(name)
            if name in fixed:
                report.failed[folder.name] = f"model {name!r} is already registered by the application"
                continue
            if current is not None and current.fingerprint == fp and current.folder == folder:
                report.unchanged.append(name)
                continue
            try:
                engine = await asyncio.to_thread(self._loader, folder, manifest)
            except Exception as exc:  # a broken folder keeps the previous version serving
                log.error("model folder %s failed to load: %s", folder, exc)
                report.failed[folder.name] = f"engine failed to load: {exc}"
                if current is not None:
                    report.unchanged.append(name)
                continue
            self.serve(engine, folder, fp)
            (report.updated if current is not None else report.added).append(name)
        names = {manifest.name for _, manifest, _ in found}
        for name, served in list(self._served.items()):
            if name in names or served.folder is None:
                continue
            folder = served.folder
            if folder not in seen_folders and (folder / MANIFEST_FILE).is_file():
                report.failed[folder.name] = "invalid manifest: the previous version keeps serving"
                report.unchanged.append(name)
                continue
            self._remove(name)
            report.removed.append(name)
        if report.added or report.updated or report.removed:
            log.info(
                "models reloaded: added %s, updated %s, removed %s",
                report.added or "-",
                report.updated or "-",
                report.removed or "-",
            )
        return report

    def names(self) -> list[str]:
        return self._registry.names()

    def reload_soon(self) -> None:
        """Reload in the background (the SIGHUP handler); failures are logged."""

        async def run() -> ReloadReport | None:
            try:
                return await self.reload()
            except Exception:
                log.exception("reload on SIGHUP failed")
                return None

        task = asyncio.create_task(run(), name="xlt-reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def adopt(self, engines: Iterable[Engine]) -> None:
        """Serve engines registered in code (never reloaded)."""
        for engine in engines:
            executor, scheduler = self._launch(engine)
            self._executors.append(executor)
            self._registry.register(engine)
            self._schedulers[engine.name] = scheduler
            m = engine.manifest
            self._metrics.model_info.labels(engine.name, m.quantization, ",".join(m.languages)).set(1)

    async def close(self, timeout_s: float) -> None:
        """Stop reloading; give retirements ``timeout_s`` to finish, then stop what is left."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._retiring:
            await asyncio.wait(list(self._retiring), timeout=timeout_s)
            for task in list(self._retiring):
                task.cancel()
            await asyncio.gather(*self._retiring, return_exceptions=True)
