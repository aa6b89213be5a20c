"""The translation use case: request -> checked texts -> sentence items -> scheduler -> assembled response.

Why a module of its own: the route stays thin (parse, call, return) and the batching code knows nothing about
requests. A request of N texts becomes many sentence items; results come back through their futures and are
put back together by index, so the response order always matches the input order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.batching.batcher import Scheduler
from service.batching.queue import WorkItem
from service.engines.base import DecodeOptions, Engine, Hypothesis
from service.engines.registry import ModelRegistry
from service.errors import (
    DetectionUnavailable,
    EmptyText,
    InvalidRequest,
    NotReady,
    TextTooLong,
    Timeout,
    TooManyItems,
    UnsupportedDirection,
    UnsupportedLanguage,
)
from service.langid import LanguageDetector
from service.schemas import AUTO, TranslateOptions, TranslateRequest, TranslateResponse, Translation
from service.settings import Settings
from service.text import Segments, split_sentences

log = logging.getLogger(__name__)


@dataclass
class _TextPlan:
    """How one input text is served: its sentences' items, or passed through unchanged."""

    source: str
    segments: Segments
    items: list[WorkItem]
    zero_shot: bool
    passthrough: bool = False


def build_source(engine: Engine, sentence: str) -> list[str]:
    """Source tokens of one sentence. The few-shot seam: a later version prepends retrieved examples here,
    joined with the model's ``manifest.few_shot`` symbols."""
    return engine.tokenize(sentence)


async def gather_results(futures: Sequence[asyncio.Future[Hypothesis]], timeout_s: float) -> list[Hypothesis]:
    """Await every future with one deadline.

    On failure or timeout the rest are cancelled (queued ones are then dropped before inference) and the first
    error, or ``Timeout``, is raised.
    """
    if not futures:
        return []
    try:
        done, pending = await asyncio.wait(futures, timeout=timeout_s, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for future in futures:
            future.cancel()
    errors = [f.exception() for f in futures if f in done and not f.cancelled()]  # retrieves every exception
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    if pending:
        raise Timeout(f"translation did not finish within {timeout_s:g} s")
    return [f.result() for f in futures]


class TranslationPipeline:
    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        schedulers: Mapping[str, Scheduler],
        detector: LanguageDetector | None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._schedulers = schedulers
        self._detector = detector

    def _texts(self, request: TranslateRequest) -> list[str]:
        texts = request.texts()
        if not texts:
            raise EmptyText("text is an empty list")
        if len(texts) > self._settings.max_items:
            raise TooManyItems(f"{len(texts)} texts in one request; at most {self._settings.max_items}")
        for i, text in enumerate(texts):
            where = f"text[{i}]" if isinstance(request.text, list) else "text"
            if len(text) > self._settings.max_text_chars:
                raise TextTooLong(f"{where} has {len(text)} characters; at most {self._settings.max_text_chars}")
            if not text.strip():
                raise EmptyText(f"{where} is empty")
        return texts

    def _options(self, options: TranslateOptions) -> DecodeOptions:
        limit = self._settings.max_decoding_length
        if options.max_length is not None and options.max_length > limit:
            raise InvalidRequest(f"options.max_length: at most {limit}")
        return DecodeOptions(
            beam_size=options.beam_size or self._settings.beam_size,
            max_length=options.max_length or limit,
            return_scores=options.return_scores,
        )

    @staticmethod
    def _check_language(engine: Engine, lang: str, role: str) -> None:
        if lang not in engine.manifest.languages:
            raise UnsupportedLanguage(
                f"{role} language {lang!r} is not supported by model {engine.name!r} "
                f"(supported: {', '.join(engine.manifest.languages)})"
            )

    async def _detect(self, engine: Engine, texts: list[str]) -> list[str]:
        detector = self._detector
        if detector is None:
            raise DetectionUnavailable('source "auto" needs language detection, which is not available here')
        langs = list(engine.manifest.languages)
        # Detection is a Python loop over bytes: keep long inputs off the event loop.
        found = await asyncio.to_thread(lambda: [detector.detect(t[:2000], langs) for t in texts])
        for i, lang in enumerate(found):
            if lang is None:
                raise DetectionUnavailable(f"could not detect the language of text[{i}]; give `source`")
        return [lang for lang in found if lang is not None]

    async def translate(self, request: TranslateRequest) -> TranslateResponse:
        engine = self._registry.get(request.model)
        scheduler = self._schedulers.get(engine.name)
        if scheduler is None or not scheduler.running:
            raise NotReady(f"model {engine.name!r} is not ready")
        texts = self._texts(request)
        options = self._options(request.options)
        target = request.target
        self._check_language(engine, target, "target")
        if request.source == AUTO:
            sources = await self._detect(engine, texts)
        else:
            self._check_language(engine, request.source, "source")
            sources = [request.source] * len(texts)
        directions = {(s, t): zero for s, t, zero in engine.manifest.directions()}

        plans: list[_TextPlan] = []
        for text, source in zip(texts, sources, strict=True):
            segments = split_sentences(text)
            if source == target and request.source == AUTO:
                # Already in the target language: returned unchanged rather than failing the whole request.
                plans.append(_TextPlan(source, segments, [], zero_shot=False, passthrough=True))
                continue
            if (source, target) not in directions:
                raise UnsupportedDirection(f"model {engine.name!r} cannot translate {source} -> {target}")
            items = [WorkItem.create(build_source(engine, s), target, options) for s in segments.sentences]
            plans.append(_TextPlan(source, segments, items, zero_shot=directions[(source, target)]))

        all_items = [item for plan in plans for item in plan.items]
        scheduler.submit(all_items)
        await gather_results([i.future for i in all_items], self._settings.request_timeout_s)

        translations = []
        for text, plan in zip(texts, plans, strict=True):
            if plan.passthrough:
                out, score = text, (0.0 if options.return_scores else None)
            else:
                hyps = [item.future.result() for item in plan.items]
                out = plan.segments.join([engine.detokenize(h.tokens) for h in hyps])
                scores = [h.score for h in hyps if h.score is not None]
                score = sum(scores) / len(scores) if options.return_scores and scores else None
            translations.append(
                Translation(
                    text=out,
                    source=plan.source,
                    target=target,
                    model=engine.name,
                    zero_shot=plan.zero_shot,
                    score=score,
                )
            )
        return TranslateResponse(translations=translations)
