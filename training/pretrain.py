"""``xlt train pretrain``: BART-style denoising on monolingual text, one "pair" per language.

Text infilling (Lewis et al. 2020): ~30% of the tokens, in spans of Poisson(3) length, each replaced by one
``<mask>``; the decoder, prefixed with the language tag, rebuilds the original. This teaches the decoder each
language and the language tags before any parallel data is seen.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np

from training.batching import Example, source_ids, target_ids
from training.corpus import Vocab, load_vocab, read_split
from training.model import Architecture, build_model
from training.sampling import PairSampler
from training.trainer import TrainConfig, train

log = logging.getLogger(__name__)


def infill(ids: list[int], mask: int, rng: np.random.Generator, ratio: float = 0.3, lam: float = 3.0) -> list[int]:
    budget = round(len(ids) * ratio)
    out = list(ids)
    while budget > 0 and len(out) > 1:
        span = max(1, min(int(rng.poisson(lam)), budget))
        start = int(rng.integers(0, max(1, len(out) - span)))
        out[start : start + span] = [mask]
        budget -= span
    return out


def monolingual(corpus: Path, langs: set[str] | None, per_lang: int, seed: int) -> dict[str, list[str]]:
    texts: dict[str, set[str]] = {}
    for p in read_split(corpus, langs):
        texts.setdefault(p.src_lang, set()).add(p.src)
        texts.setdefault(p.tgt_lang, set()).add(p.tgt)
    rng = random.Random(seed)
    out = {}
    for lang, items in texts.items():
        ordered = sorted(items)
        rng.shuffle(ordered)
        out[lang] = ordered[:per_lang]
    return out


def denoising_examples(texts: dict[str, list[str]], vocab: Vocab, seed: int) -> dict[str, list[Example]]:
    rng = np.random.default_rng(seed)
    mask = vocab.sym("<mask>")
    out: dict[str, list[Example]] = {}
    for k, (lang, items) in enumerate(sorted(texts.items())):
        out[lang] = [
            Example(source_ids(infill(ids, mask, rng), vocab.eos), target_ids(vocab.tag(lang), ids, vocab.eos), k)
            for ids in vocab.encode(items)
            if ids
        ]
    return out


def pretrain(
    corpus: Path,
    tokenizer: Path,
    out: Path,
    *,
    langs: set[str] | None = None,
    minutes: float = 15.0,
    max_steps: int = 10**9,
    per_lang: int = 100_000,
    tokens_per_step: int = 4000,
    arch: Architecture | None = None,
    resume: bool = False,
    seed: int = 1,
) -> dict[str, object]:
    vocab = load_vocab(tokenizer)
    arch = arch or Architecture()
    model = build_model(vocab.sp, arch)
    examples = denoising_examples(monolingual(corpus, langs, per_lang, seed), vocab, seed)
    n_langs = len(examples)
    sampler = PairSampler(
        examples,
        tokens_per_step // max(1, n_langs // 2),
        pairs_per_step=max(1, n_langs // 2),
        temperature=100.0,
        seed=seed,
    )
    cfg = TrainConfig(out=out, minutes=minutes, max_steps=max_steps, lr=7e-4, warmup=200, eval_every=0, seed=seed)
    log.info("pretraining %s on %s", arch, {k: len(v) for k, v in examples.items()})
    summary = train(model, sampler, cfg, pad=vocab.pad, resume=resume)
    summary["architecture"] = arch.as_dict()
    return summary
