"""The translation use case: request -> checked texts -> sentence items -> scheduler -> assembled response.

Why a module of its own: the route stays thin (parse, call, return) and the batching code knows nothing about
requests. A request of N texts becomes many sentence items; results come back through their futures and are
put back together by index, so the response order always matches the input order.

Zero-shot directions follow the request's ``strategy``: ``direct``; ``pivot`` (source -> pivot -> target as two
rounds of items through the same scheduler, so they batch with everyone else's); ``auto`` (direct, and where the
language identifier finds a zero-shot output in another language, the beam's next-best hypothesis in the target
language, else the pivot's output if that one is in the target language, else the direct output as it was).
Few-shot examples (the request's, then a memory's fuzzy matches) are joined to each direct sentence by
``build_source``; the pivot legs translate without them, as their languages differ from the examples'.
``format: "html"`` texts are split into text nodes, then sentences, by ``html_format`` and reassembled around
their untouched markup; detection looks at their visible text only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from service.batching.batcher import Scheduler
from service.batching.leases import Leases
from service.batching.queue import Priority
from service.engines.base import DecodeOptions, Engine
from service.engines.registry import ModelRegistry
from service.errors import (
    DetectionUnavailable,
    EmptyText,
    ExampleTooLong,
    FewShotUnsupported,
    InvalidRequest,
    NotReady,
    TextTooLong,
    TooManyExamples,
    TooManyItems,
    UnsupportedDirection,
    UnsupportedLanguage,
)
from service.fewshot.format import Example, ExampleTokens, build_source, tokenize_examples
from service.fewshot.memories import ANONYMOUS, Hit, Memories, Scope
from service.fewshot.store import check_memory_id
from service.html_format import HtmlSegments, split_html, visible_text
from service.langid import LanguageDetector, rank_languages
from service.metrics import Metrics
from service.rounds import Rounds, Sentence, gather_results
from service.schemas import (
    AUTO,
    Detection,
    DetectRequest,
    DetectResponse,
    ExamplePair,
    LanguageScore,
    TranslateOptions,
    TranslateRequest,
    TranslateResponse,
    Translation,
)
from service.settings import Settings
from service.text import Segments, split_sentences

log = logging.getLogger(__name__)

__all__ = ["TranslationPipeline", "build_source", "gather_results"]

Directions = Mapping[tuple[str, str], bool]  # (source, target) -> zero-shot


@dataclass
class _TextPlan:
    """How one input text is served: its sentences, passed through unchanged, or found whole in a memory."""

    text: str
    source: str
    segments: Segments | HtmlSegments
    sentences: list[Sentence]
    zero_shot: bool
    passthrough: bool = False
    pivot: bool = False
    exact: str | None = None  # the whole text is in the memory
    unreviewed: bool = False  # a memory entry it was served from is a machine translation no person reviewed
    off_target: bool | None = None  # auto's verdict on the text it serves, when it judged one (zero-shot, long enough)

    def pending(self) -> list[Sentence]:
        """Sentences the model translates."""
        if self.passthrough or self.exact is not None:
            return []
        return [s for s in self.sentences if not s.from_memory]

    @property
    def origin(self) -> Literal["model", "memory"]:
        if self.exact is not None or (self.sentences and all(s.from_memory for s in self.sentences)):
            return "memory"
        return "model"


def check_language(engine: Engine, lang: str, role: str) -> None:
    """``UnsupportedLanguage`` unless ``engine``'s model has ``lang`` (``role``: source or target, for the message)."""
    if lang not in engine.manifest.languages:
        raise UnsupportedLanguage(
            f"{role} language {lang!r} is not supported by model {engine.name!r} "
            f"(supported: {', '.join(engine.manifest.languages)})"
        )


class TranslationPipeline:
    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        schedulers: Mapping[str, Scheduler],
        detector: LanguageDetector | None,
        *,
        memories: Memories | None = None,
        leases: Leases | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._schedulers = schedulers
        self._detector = detector
        self._memories = memories
        self.leases = leases if leases is not None else Leases()
        self._metrics = metrics if metrics is not None else Metrics()

    def _texts(self, request: TranslateRequest | DetectRequest) -> list[str]:
        texts = [request.text] if isinstance(request.text, str) else list(request.text)
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
            beam_size=max(options.beam_size or self._settings.beam_size, options.alternatives + 1),
            max_length=options.max_length or limit,
            return_scores=options.return_scores,
        )

    def _examples(self, engine: Engine, examples: list[ExamplePair] | None) -> list[ExampleTokens]:
        """Check the request's examples against the limits and tokenize them once for all its texts."""
        if not examples:
            return []
        if engine.manifest.few_shot is None:
            raise FewShotUnsupported(
                f"model {engine.name!r} was not trained with examples (its manifest has no few_shot format)"
            )
        limit, chars = self._settings.max_examples, self._settings.max_example_chars
        if len(examples) > limit:
            raise TooManyExamples(f"{len(examples)} examples; at most {limit}")
        for i, example in enumerate(examples):
            for name, value in (("source", example.source), ("target", example.target)):
                if not value.strip():
                    raise EmptyText(f"examples[{i}].{name} is empty")
                if len(value) > chars:
                    raise ExampleTooLong(f"examples[{i}].{name} has {len(value)} characters; at most {chars}")
        return tokenize_examples(engine, [Example(e.source, e.target) for e in examples])

    async def _detect(self, engine: Engine, texts: list[str], *, for_auto: bool = True) -> list[Detection]:
        """Each text's languages among the model's, ranked (``rank_languages``: its first is ``detect``'s answer),
        so a caller that also reports them (LibreTranslate's ``detectedLanguage``) needs no second pass.
        ``for_auto``: for a translation with source ``auto`` (the errors say so), not for ``POST /detect``."""
        detector = self._detector
        if detector is None:
            need = 'source "auto" needs language detection, which' if for_auto else "language detection"
            raise DetectionUnavailable(f"{need} is not available here")
        langs = list(engine.manifest.languages)
        # Detection is a Python loop over bytes: keep long inputs off the event loop.
        ranked = await asyncio.to_thread(lambda: [rank_languages(detector, t[:2000], langs) for t in texts])
        for i, scores in enumerate(ranked):
            if not scores:
                hint = "; give `source`" if for_auto else ""
                raise DetectionUnavailable(f"could not detect the language of text[{i}]{hint}")
        return [_detection(scores) for scores in ranked]

    async def detect(self, request: DetectRequest) -> DetectResponse:
        """``POST /detect``: each text's languages among the model's, most likely first."""
        engine = self._registry.get(request.model)
        texts = self._texts(request)
        if request.format == "html":
            texts = [visible_text(t) for t in texts]
        return DetectResponse(model=engine.name, detections=await self._detect(engine, texts, for_auto=False))

    def _can_pivot(self, source: str, target: str, directions: Directions) -> bool:
        """Whether source -> pivot -> target is a different route the model can serve."""
        pivot = self._settings.pivot_language
        return pivot not in (source, target) and (source, pivot) in directions and (pivot, target) in directions

    def _plan(
        self, engine: Engine, text: str, source: str, request: TranslateRequest, directions: Directions
    ) -> _TextPlan:
        target = request.target
        segments = split_html(text) if request.format == "html" else split_sentences(text)
        sentences = [Sentence(s, source) for s in segments.sentences]
        if source == target and request.source == AUTO:
            # Already in the target language: returned unchanged rather than failing the whole request.
            return _TextPlan(text, source, segments, sentences, zero_shot=False, passthrough=True)
        if (source, target) not in directions:
            raise UnsupportedDirection(f"model {engine.name!r} cannot translate {source} -> {target}")
        plan = _TextPlan(text, source, segments, sentences, zero_shot=directions[(source, target)])
        pivot = self._settings.pivot_language
        if request.strategy == "pivot" and pivot not in (source, target):
            if not self._can_pivot(source, target, directions):
                raise UnsupportedDirection(
                    f"model {engine.name!r} cannot translate {source} -> {target} through {pivot}"
                )
            plan.pivot = True
        return plan

    async def translate(
        self,
        request: TranslateRequest,
        scope: Scope = ANONYMOUS,
        *,
        priority: Priority = "interactive",
        detected: list[Detection] | None = None,
    ) -> TranslateResponse:
        """``scope``: whose translation memories ``request.memory`` may name (the caller's key's); ``priority``:
        ``bulk`` for background jobs, whose sentences the batcher serves after every waiting request's;
        ``detected``: with source ``auto``, filled with each text's detection, as ``detect`` would answer it."""
        engine = self._registry.get(request.model)
        scheduler = self._schedulers.get(engine.name)
        if scheduler is None or not scheduler.running:
            raise NotReady(f"model {engine.name!r} is not ready")
        with self.leases.hold(scheduler):  # a hot reload retires this scheduler only after we are done
            return await self._translate(request, engine, scheduler, scope, priority, detected)

    async def _translate(
        self,
        request: TranslateRequest,
        engine: Engine,
        scheduler: Scheduler,
        scope: Scope,
        priority: Priority,
        detected: list[Detection] | None,
    ) -> TranslateResponse:
        deadline = asyncio.get_running_loop().time() + self._settings.request_timeout_s
        texts = self._texts(request)
        options = self._options(request.options)
        examples = self._examples(engine, request.examples)
        memory_id = check_memory_id(request.memory) if request.memory is not None else None
        target = request.target
        check_language(engine, target, "target")
        if request.source == AUTO:
            shown = [visible_text(t) for t in texts] if request.format == "html" else texts
            detections = await self._detect(engine, shown)
            if detected is not None:
                detected.extend(detections)
            sources = [d.language for d in detections]
        else:
            check_language(engine, request.source, "source")
            sources = [request.source] * len(texts)
        directions = {(s, t): zero for s, t, zero in engine.manifest.directions()}
        plans = [
            self._plan(engine, text, source, request, directions) for text, source in zip(texts, sources, strict=True)
        ]
        if any(p.zero_shot and not p.passthrough for p in plans):
            self._metrics.zero_shot_requests.labels(engine.name).inc()
        if memory_id is not None:
            await self._apply_memory(engine, memory_id, plans, target, scope)
        most = self._settings.max_examples
        guarded = request.strategy == AUTO and self._detector is not None
        wanted = request.options.alternatives + 1
        for plan in plans:
            for sentence in plan.pending():
                sentence.examples = [*examples, *sentence.examples][:most]
                sentence.candidates = wanted
                if guarded and plan.zero_shot and not plan.pivot:
                    sentence.candidates = max(wanted, self._settings.off_target_hypotheses)

        run = Rounds(engine, scheduler, target, options, deadline, self._settings, priority)
        direct = [s for p in plans if not p.pivot for s in p.pending()]
        await run.translate(direct, [s for p in plans if p.pivot for s in p.pending()])
        if request.strategy == AUTO:
            await self._fall_back(engine, run, plans, directions)
        translations = [self._translation(engine, p, target, options) for p in plans]
        if request.options.alternatives:
            for translation, plan in zip(translations, plans, strict=True):
                translation.alternatives = _alternatives(plan, request.options.alternatives)
        return TranslateResponse(translations=translations)

    async def _apply_memory(
        self, engine: Engine, memory_id: str, plans: list[_TextPlan], target: str, scope: Scope
    ) -> None:
        """Exact matches (whole text, else per sentence) replace translation; fuzzy ones become examples."""
        memories = self._memories
        if memories is None:
            raise InvalidRequest("translation memories are not available in this service")
        live = [p for p in plans if not p.passthrough]
        queries: dict[str, list[str]] = {}
        for plan in live:
            wanted = queries.setdefault(plan.source, [])
            if len(plan.sentences) > 1:
                wanted.append(plan.text)
            wanted.extend(s.text for s in plan.sentences)
        few_shot = engine.manifest.few_shot
        k = self._settings.memory_fuzzy_examples if few_shot is not None and few_shot.memory_examples else 0
        threshold = self._settings.memory_fuzzy_threshold

        def lookup() -> dict[str, list[Hit]]:
            if not queries:
                memories.require(memory_id, scope)  # a missing memory is an error even when nothing is looked up
            return {src: memories.lookup(memory_id, src, target, q, k, threshold, scope) for src, q in queries.items()}

        found = {src: iter(hits) for src, hits in (await asyncio.to_thread(lookup)).items()}
        hits_total = self._metrics.memory_hits
        for plan in live:
            hits = found[plan.source]
            if len(plan.sentences) > 1 and (whole := next(hits)).exact is not None:
                plan.exact, plan.unreviewed = whole.exact, not whole.reviewed
                hits_total.labels(engine.name, "exact").inc()
            for sentence in plan.sentences:
                hit = next(hits)
                if plan.exact is not None:
                    continue
                if hit.exact is not None:
                    sentence.output, sentence.from_memory = hit.exact, True
                    plan.unreviewed = plan.unreviewed or not hit.reviewed
                    hits_total.labels(engine.name, "exact").inc()
                elif hit.examples and not plan.pivot:  # the pivot legs translate without examples
                    sentence.examples = tokenize_examples(engine, hit.examples)
                    hits_total.labels(engine.name, "fuzzy").inc()

    async def _fall_back(self, engine: Engine, run: Rounds, plans: list[_TextPlan], directions: Directions) -> None:
        """``auto``: zero-shot outputs the language identifier finds in another language than the target get the
        beam's best hypothesis in the target language, else the pivot's output if it is in the target language.

        Why both, in this order: the next-best hypotheses cost no extra decoding and are often the same sentence
        in the right language; the pivot costs two passes, and where its output is off-target too, the direct
        output (better on average) stays. Each judged text keeps the verdict in ``off_target``, so the response can
        say when nothing on target was found rather than pass the output off as good."""
        detector = self._detector
        if detector is None:
            return
        langs, target, least = list(engine.manifest.languages), run.target, self._settings.off_target_min_chars

        def on_target(text: str) -> bool:
            return detector.detect(text[:2000], langs) in (None, target)

        judged = [
            plan
            for plan in plans
            if plan.zero_shot and not plan.pivot and plan.pending() and len(_shown(plan)) >= least
        ]  # fmt: skip
        if judged:
            self._metrics.off_target_checks.labels(engine.name).inc(len(judged))

        def repair() -> list[_TextPlan]:
            """The judged texts still off-target after their sentences' alternatives were tried."""
            still = []
            for plan in judged:
                plan.off_target = False
                if on_target(_shown(plan)):
                    continue
                self._metrics.off_target.labels(engine.name).inc()
                log.debug("off-target output (wanted %s) for a %s text", target, plan.source)
                if not (_choose_on_target(plan.pending(), on_target, least) and on_target(_shown(plan))):
                    plan.off_target = True
                    still.append(plan)
            return still

        still = await asyncio.to_thread(repair)
        retry = [p for p in still if self._can_pivot(p.source, target, directions)]
        if retry:
            direct = {id(s): (s.output, s.score, s.alternatives) for p in retry for s in p.pending()}
            for plan in retry:
                plan.pivot = True
            await run.translate([], [s for p in retry for s in p.pending()])

            def settle() -> None:
                for plan in retry:
                    _choose_on_target(plan.pending(), on_target, least)
                    if on_target(_shown(plan)):
                        self._metrics.pivot_fallbacks.labels(engine.name).inc()
                        plan.off_target = False
                        continue
                    plan.pivot = False
                    for sentence in plan.pending():  # the direct output stays, and its alternatives with it
                        sentence.output, sentence.score, sentence.alternatives = direct[id(sentence)]

            await asyncio.to_thread(settle)
        if served := sum(1 for p in still if p.off_target):
            self._metrics.off_target_served.labels(engine.name).inc(served)

    def _translation(self, engine: Engine, plan: _TextPlan, target: str, options: DecodeOptions) -> Translation:
        scores = [s.score for s in plan.pending() if s.score is not None]
        score = (sum(scores) / len(scores) if scores else 0.0) if options.return_scores else None
        if plan.passthrough:
            out = plan.text
        elif plan.exact is not None:
            out = plan.segments.prefix + plan.exact + plan.segments.suffix
        else:
            out = _joined(plan)
        return Translation(
            text=out,
            source=plan.source,
            target=target,
            model=engine.name,
            zero_shot=plan.zero_shot,
            origin=plan.origin,
            reviewed=not plan.unreviewed if plan.origin == "memory" else None,
            via=self._settings.pivot_language if plan.pivot else None,
            score=score,
            off_target=plan.off_target,
        )


def _detection(scores: list[tuple[str, float]]) -> Detection:
    """A text's ranked languages (most likely first, never empty) as ``POST /detect`` answers them."""
    candidates = [LanguageScore(language=lang, confidence=round(p, 4)) for lang, p in scores]
    return Detection(language=scores[0][0], confidence=candidates[0].confidence, candidates=candidates)


def _choose_on_target(sentences: list[Sentence], on_target: Callable[[str], bool], least: int) -> bool:
    """Give each judged off-target sentence its first alternative hypothesis in the target language; whether any
    changed. Sentences shorter than ``least`` characters are not judged (a few words fool the identifier)."""
    changed = False
    for sentence in sentences:
        if len(sentence.output) < least or on_target(sentence.output):
            continue
        found = next(((text, score) for text, score in sentence.alternatives if on_target(text)), None)
        if found is not None:
            sentence.output, sentence.score = found
            changed = True
    return changed


def _alternatives(plan: _TextPlan, most: int) -> list[str]:
    """Up to ``most`` other translations of a text, best first: the k-th joins each sentence's k-th alternative
    hypothesis (its output where it has fewer), as Argos Translate does for LibreTranslate. Texts served whole from
    a memory or passed through have none."""
    if plan.passthrough or plan.exact is not None:
        return []
    found, seen = [], {_joined(plan)}
    for k in range(max((len(s.alternatives) for s in plan.sentences), default=0)):
        outputs = [s.alternatives[k][0] if k < len(s.alternatives) else s.output for s in plan.sentences]
        text = plan.segments.join(outputs)
        if text not in seen:
            seen.add(text)
            found.append(text)
    return found[:most]


def _joined(plan: _TextPlan) -> str:
    return plan.segments.join([s.output for s in plan.sentences])


def _shown(plan: _TextPlan) -> str:
    """The output a reader sees (HTML without its markup), for the off-target check."""
    if isinstance(plan.segments, HtmlSegments):
        return "\n".join(s.output for s in plan.sentences)
    return _joined(plan)
