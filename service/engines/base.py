"""The narrow engine interface: tokenize -> translate_batch -> detokenize (infinity ``abstract.py`` style).

Why so narrow: the batcher, the pipeline and the tests only need these three steps, so a CTranslate2 engine, a
future GPU engine and the tiny in-test fake are interchangeable. ``translate_batch`` is blocking and is only
ever called from the executor thread pool, never from the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from service.engines.manifest import Manifest


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings shared by every example of one batch (hashable: it keys the batching groups)."""

    beam_size: int = 2
    max_length: int = 256
    return_scores: bool = False
    # None: the model's own default (its manifest's ``decoding``), chosen on dev when it was built.
    repetition_penalty: float | None = None
    # Hypotheses to return (at most beam_size): the off-target guard looks for one in the target language.
    num_hypotheses: int = 1


@dataclass(frozen=True)
class Hypothesis:
    """One translated example: target tokens without any language prefix, and an optional score.

    ``alternatives``: the beam's next-best hypotheses, best first, when ``num_hypotheses`` asked for them."""

    tokens: list[str]
    score: float | None = None
    alternatives: tuple[Hypothesis, ...] = ()


@runtime_checkable
class Engine(Protocol):
    """What the service needs from a translation engine."""

    @property
    def name(self) -> str: ...

    @property
    def manifest(self) -> Manifest: ...

    def tokenize(self, text: str, source_lang: str | None = None, target_lang: str | None = None) -> list[str]:
        """Source text -> source tokens, end-of-sentence included when the model needs it; language tokens
        where the model family frames the source with them (M2M100, NLLB, mBART-50, multilingual opus-mt)."""
        ...

    def translate_batch(
        self,
        sources: Sequence[list[str]],
        targets: Sequence[str],
        options: DecodeOptions,
        max_batch_tokens: int,
    ) -> list[Hypothesis]:
        """Translate ``sources[i]`` into language ``targets[i]``; blocking, one hypothesis per source (with
        ``options.num_hypotheses - 1`` alternatives where the engine can give them)."""
        ...

    def detokenize(self, tokens: list[str]) -> str: ...

    def close(self) -> None: ...
