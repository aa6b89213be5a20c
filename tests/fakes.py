"""A tiny in-test engine (infinity's fake-engine idea): deterministic, instant, and observable.

Why: batching, ordering, cancellation and error behaviour are tested without a real model. Tokens are
whitespace-split words; the "translation" of a word is ``<target>:<word>`` so every result shows which input
and which target language produced it (``<target>#k:<word>`` in the k-th alternative hypothesis).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.engines.base import DecodeOptions, Hypothesis
from service.engines.manifest import Decoding, FewShotFormat, Manifest

EOS = "</s>"


@dataclass
class Call:
    sources: list[list[str]]
    targets: list[str]
    options: DecodeOptions
    max_batch_tokens: int


@dataclass
class FakeEngine:
    """Records every batch; ``gate`` (when set up) holds a batch until the test releases it."""

    model_name: str = "fake"
    languages: tuple[str, ...] = ("en", "de", "fr")
    trained: tuple[tuple[str, str], ...] = (("en", "de"), ("de", "en"), ("en", "fr"), ("fr", "en"))
    fail: bool = False
    calls: list[Call] = field(default_factory=list)
    gate: threading.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    closed: bool = False
    threads: list[str] = field(default_factory=list)
    few_shot: bool = False  # the manifest declares the few-shot format; examples before <sep> are not translated
    holds_back: bool = False  # the manifest names held-back pieces: one engine call per target language

    def __post_init__(self) -> None:
        self._manifest = Manifest(
            name=self.model_name,
            languages=list(self.languages),
            trained_directions=list(self.trained),
            few_shot=FewShotFormat() if self.few_shot else None,
            decoding=Decoding(suppressed_tokens="held_back.json" if self.holds_back else None),
        )

    @property
    def name(self) -> str:
        return self.model_name

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def tokenize(self, text: str, source_lang: str | None = None, target_lang: str | None = None) -> list[str]:
        return [*text.split(), EOS]

    def translate_batch(
        self,
        sources: Sequence[list[str]],
        targets: Sequence[str],
        options: DecodeOptions,
        max_batch_tokens: int,
    ) -> list[Hypothesis]:
        self.calls.append(Call([list(s) for s in sources], list(targets), options, max_batch_tokens))
        self.threads.append(threading.current_thread().name)
        self.started.set()
        if self.gate is not None and not self.gate.wait(timeout=30):
            raise RuntimeError("test gate never opened")
        if self.fail:
            raise RuntimeError("engine exploded")
        sep = FewShotFormat().source_token
        score = -0.5 if options.return_scores else None

        def hypothesis(src: list[str], tgt: str) -> Hypothesis:
            words = [tok for tok in (src[src.index(sep) + 1 :] if sep in src else src) if tok != EOS]
            # The k-th alternative marks its words "<target>#k:" so a test can tell which hypothesis was chosen.
            alternatives = tuple(
                Hypothesis([f"{tgt}#{k}:{w}" for w in words], score) for k in range(1, options.num_hypotheses)
            )
            return Hypothesis([f"{tgt}:{w}" for w in words], score, alternatives)

        return [hypothesis(src, tgt) for src, tgt in zip(sources, targets, strict=True)]

    def detokenize(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def close(self) -> None:
        self.closed = True

    def batches(self) -> list[list[str]]:
        """Each call's sources as sentences (EOS dropped), for readable assertions."""
        return [[" ".join(t for t in s if t != EOS) for s in call.sources] for call in self.calls]
