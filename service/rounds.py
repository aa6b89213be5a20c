"""Sentences through the scheduler in rounds, under one request deadline: direct sentences and the first
pivot leg (source -> pivot) share round one; the second leg (pivot -> target) is round two.

Why rounds of items and not a second request: every round goes through the same scheduler as everyone else's
sentences, so pivot legs are batched like any other work, and the request keeps one deadline and one lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from service.batching.batcher import Scheduler
from service.batching.queue import Priority, WorkItem
from service.engines.base import DecodeOptions, Engine, Hypothesis
from service.errors import Timeout
from service.fewshot.format import ExampleTokens, build_source, token_budget
from service.settings import Settings


@dataclass
class Sentence:
    """One sentence to translate, and what came of it.

    ``candidates``: hypotheses to ask for in its last leg; the others than the best land in ``alternatives``
    (text, score), best first, for the off-target guard to choose from."""

    text: str
    source: str
    examples: list[ExampleTokens] = field(default_factory=list)
    output: str = ""
    score: float | None = None
    from_memory: bool = False
    candidates: int = 1
    alternatives: list[tuple[str, float | None]] = field(default_factory=list)


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


@dataclass
class Rounds:
    """Rounds of sentence items for one request, all through its scheduler and under its deadline."""

    engine: Engine
    scheduler: Scheduler
    target: str
    options: DecodeOptions
    deadline: float
    settings: Settings
    priority: Priority = "interactive"  # "bulk": a background job's sentences, served after requests

    async def _round(self, jobs: list[tuple[list[str], str, int]]) -> list[Hypothesis]:
        """``jobs``: (source tokens, target language, hypotheses wanted)."""
        if not jobs:
            return []
        items = [WorkItem.create(tokens, target, self._options(n), self.priority) for tokens, target, n in jobs]
        self.scheduler.submit(items)
        remaining = self.deadline - asyncio.get_running_loop().time()
        return await gather_results([i.future for i in items], max(0.0, remaining))

    def _options(self, candidates: int) -> DecodeOptions:
        wanted = min(candidates, self.options.beam_size)
        return self.options if wanted <= 1 else replace(self.options, num_hypotheses=wanted)

    def _done(self, sentences: list[Sentence], hyps: list[Hypothesis]) -> None:
        detokenize = self.engine.detokenize
        for sentence, hyp in zip(sentences, hyps, strict=True):
            sentence.output, sentence.score = detokenize(hyp.tokens), hyp.score
            sentence.alternatives = [(detokenize(h.tokens), h.score) for h in hyp.alternatives]

    async def translate(self, direct: list[Sentence], pivoted: list[Sentence]) -> None:
        """Direct sentences and the first pivot leg share round one; the second pivot leg is round two."""
        engine, target, pivot = self.engine, self.target, self.settings.pivot_language
        budget = token_budget(engine.manifest, self.settings.max_fewshot_tokens)
        jobs = [
            (build_source(engine, s.text, s.source, target, s.examples, budget), target, s.candidates) for s in direct
        ]
        jobs += [(build_source(engine, s.text, s.source, pivot), pivot, 1) for s in pivoted]
        hyps = await self._round(jobs)
        self._done(direct, hyps[: len(direct)])
        if not pivoted:
            return
        middles = [engine.detokenize(h.tokens) for h in hyps[len(direct) :]]
        legs = zip(middles, pivoted, strict=True)
        second = await self._round([(build_source(engine, m, pivot, target), target, s.candidates) for m, s in legs])
        self._done(pivoted, second)
