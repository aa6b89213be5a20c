"""Example-augmented source tokens: ``<ex> src <to> tgt ... <sep> source </s>`` (``manifest.few_shot``).

Why here and in this shape: the model only learns to use examples written exactly as in training
(``training/batching.py``: example pieces without ``</s>``, one ``<sep>``, then the sentence with its ``</s>``).
Without examples the tokens are exactly ``engine.tokenize(sentence)``, so requests without examples never change.
Examples are dropped, last first, when they do not fit the token budget: the sentence itself is never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.engines.base import Engine
from service.engines.manifest import FewShotFormat, Manifest


@dataclass(frozen=True)
class Example:
    """One translation example: a source sentence and its translation."""

    source: str
    target: str


@dataclass(frozen=True)
class ExampleTokens:
    """An example tokenized once per request (pieces without end-of-sentence)."""

    source: tuple[str, ...]
    target: tuple[str, ...]

    def cost(self) -> int:
        return len(self.source) + len(self.target) + 2  # + <ex> and <to>


def pieces(engine: Engine, text: str) -> tuple[str, ...]:
    """Tokens of ``text`` without the trailing end-of-sentence that ``tokenize`` may append."""
    tokens = engine.tokenize(text)
    spec = engine.manifest.tokenizer
    if spec.append_eos and tokens and tokens[-1] == spec.eos_token:
        tokens = tokens[:-1]
    return tuple(tokens)


def tokenize_examples(engine: Engine, examples: Sequence[Example]) -> list[ExampleTokens]:
    return [ExampleTokens(pieces(engine, e.source), pieces(engine, e.target)) for e in examples]


def token_budget(manifest: Manifest, limit: int) -> int:
    """The longest example-augmented source: ``limit``, capped by the model's position table when declared."""
    arch = manifest.architecture
    positions = arch.get("max_positions") or arch.get("max_position_embeddings")
    return min(limit, int(positions)) if positions else limit


def join_examples(fmt: FewShotFormat, sentence: list[str], examples: Sequence[ExampleTokens], budget: int) -> list[str]:
    """Prepend as many examples (in order) as fit in ``budget`` tokens; none when even one does not fit."""
    used = len(sentence) + 1  # + <sep>
    chosen: list[ExampleTokens] = []
    for example in examples:
        if used + example.cost() > budget:
            break
        chosen.append(example)
        used += example.cost()
    if not chosen:
        return sentence
    out: list[str] = []
    for example in chosen:
        out += [fmt.example_token, *example.source, fmt.target_token, *example.target]
    out.append(fmt.source_token)
    return out + sentence


def build_source(
    engine: Engine,
    sentence: str,
    source_lang: str | None = None,
    target_lang: str | None = None,
    examples: Sequence[ExampleTokens] = (),
    budget: int = 0,
) -> list[str]:
    """Source tokens of one sentence (language tokens included where the model wants them), with ``examples``
    joined in front when the model supports them."""
    tokens = engine.tokenize(sentence, source_lang, target_lang)
    fmt = engine.manifest.few_shot
    if not examples or fmt is None:
        return tokens
    return join_examples(fmt, tokens, examples, budget)
