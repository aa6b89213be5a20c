"""One engine folder translated in this process, with the server's pipeline and batcher but no HTTP.

Why: ``xlt translate --model DIR`` should behave exactly like the server (sentence splitting, detection,
limits, batching of concurrent chunks) without starting one. It answers with the client's types, so the
command line treats a local model and a server alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.batching.batcher import Batcher
from service.batching.executor import EngineExecutor
from service.client import Detection, Direction, Format, ModelLanguages, Translation
from service.engines.base import Engine
from service.engines.manifest import MANIFEST_FILE, Manifest
from service.engines.registry import ModelRegistry
from service.langid import default_detector
from service.metrics import Metrics
from service.pipeline import TranslationPipeline
from service.schemas import DetectRequest, TranslateRequest
from service.settings import Settings


class LocalTranslator:
    """``async with LocalTranslator(folder) as xlt: await xlt.translate([...], "de")``."""

    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        self._folder = folder
        self._settings = settings
        self._engine: Engine | None = None
        self._executor: EngineExecutor | None = None
        self._batcher: Batcher | None = None
        self._pipeline: TranslationPipeline | None = None

    async def __aenter__(self) -> LocalTranslator:
        if not (self._folder / MANIFEST_FILE).is_file():
            raise FileNotFoundError(f"{self._folder} is not an engine folder (no {MANIFEST_FILE})")
        settings = self._settings or Settings(models_dir=self._folder.parent)
        manifest = Manifest.load(self._folder)
        from service.app import (  # the server's engine settings (threads, device, lengths)
            batch_policy,
            ctranslate2_loader,
        )

        self._engine = engine = await asyncio.to_thread(ctranslate2_loader(settings), self._folder, manifest)
        registry = ModelRegistry()
        registry.register(engine)
        metrics = Metrics()
        self._executor = EngineExecutor(engine.name, workers=settings.inter_threads)
        policy = batch_policy(settings)
        self._batcher = Batcher(engine, self._executor, policy, metrics)
        self._batcher.start()
        detector = await asyncio.to_thread(default_detector) if settings.language_detection else None
        schedulers = {engine.name: self._batcher}
        self._pipeline = TranslationPipeline(settings, registry, schedulers, detector, metrics=metrics)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._batcher is not None:
            await self._batcher.drain(5.0)
            await self._batcher.stop()
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, True)
        if self._engine is not None:
            self._engine.close()

    async def translate(
        self, texts: str | Sequence[str], target: str, source: str = "auto", *, format: Format = "text", **extra: Any
    ) -> list[Translation]:
        if self._pipeline is None:
            raise RuntimeError("use LocalTranslator in `async with`")
        request = TranslateRequest.model_validate(
            {"text": texts if isinstance(texts, str) else list(texts), "source": source, "target": target}
            | {"format": format, **extra}
        )
        response = await self._pipeline.translate(request)
        return [Translation.from_json(t.model_dump(exclude_none=True)) for t in response.translations]

    async def detect(self, texts: str | Sequence[str]) -> list[Detection]:
        if self._pipeline is None:
            raise RuntimeError("use LocalTranslator in `async with`")
        found = await self._pipeline.detect(DetectRequest(text=texts if isinstance(texts, str) else list(texts)))
        return [
            Detection(d.language, d.confidence, tuple((c.language, c.confidence) for c in d.candidates))
            for d in found.detections
        ]

    async def languages(self) -> list[ModelLanguages]:
        if self._engine is None:
            raise RuntimeError("use LocalTranslator in `async with`")
        manifest = self._engine.manifest
        directions = tuple(Direction(s, t, z) for s, t, z in manifest.directions())
        return [ModelLanguages(model=self._engine.name, languages=tuple(manifest.languages), directions=directions)]
