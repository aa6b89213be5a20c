"""``xlt train finetune``: multilingual fine-tuning with one loss summed over language pairs.

English-centric on purpose: every en<->X direction in the corpus is trained, X<->Y never is, and those zero-shot
directions are served through the decoder's target-language tag. A share of the inputs carries retrieved
examples (``<ex> src <to> tgt <sep> source``) so the model learns to use examples given at request time.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import sacrebleu
from torch import nn
from transformers import MarianMTModel

from training.corpus import build_examples, directions_of, load_vocab, read_split
from training.decode import translate
from training.model import Architecture, build_model
from training.sampling import PairSampler
from training.trainer import TrainConfig, train

log = logging.getLogger(__name__)


def dev_evaluator(dev: Path, vocab_path: Path, langs: set[str] | None, per_direction: int, seed: int):
    vocab = load_vocab(vocab_path)
    pairs = read_split(dev, langs)
    rng = random.Random(seed)
    rng.shuffle(pairs)
    sets: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for src, tgt in directions_of(pairs):
        rows = [
            (p.src, p.tgt) if p.src_lang == src else (p.tgt, p.src)
            for p in pairs
            if {p.src_lang, p.tgt_lang} == {src, tgt}
        ][:per_direction]
        sets[(src, tgt)] = ([r[0] for r in rows], [r[1] for r in rows])

    def evaluate(model: nn.Module) -> dict[str, float]:
        scores = {}
        for (src, tgt), (sources, refs) in sets.items():
            hyps = translate(model, vocab, sources, tgt)
            scores[f"{src}-{tgt}"] = round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)
        scores["chrf"] = round(sum(scores.values()) / max(len(scores), 1), 2)
        return scores

    return evaluate


def finetune(
    corpus: Path,
    dev: Path,
    tokenizer: Path,
    out: Path,
    *,
    init: Path | None = None,
    langs: set[str] | None = None,
    minutes: float = 60.0,
    max_steps: int = 10**9,
    tokens_per_step: int = 4000,
    pairs_per_step: int = 4,
    temperature: float = 5.0,
    augment: float = 0.15,
    eval_every: int = 400,
    dev_per_direction: int = 40,
    arch: Architecture | None = None,
    resume: bool = False,
    seed: int = 1,
    lr: float = 5e-4,
) -> dict[str, object]:
    """Fine-tune ``init`` (a pretrained checkpoint folder) or, with no ``init``, train from random weights."""
    vocab = load_vocab(tokenizer)
    if init is not None:
        model = MarianMTModel.from_pretrained(init)
        arch_info = {"init": str(init)}
    else:
        arch = arch or Architecture()
        model = build_model(vocab.sp, arch)
        arch_info = arch.as_dict()
    pairs = read_split(corpus, langs)
    examples = build_examples(pairs, vocab, augment=augment, seed=seed)
    log.info("fine-tuning on %s", {f"{s}-{t}": len(v) for (s, t), v in examples.items()})
    sampler = PairSampler(examples, tokens_per_step // pairs_per_step, pairs_per_step, temperature, seed)
    evaluate = dev_evaluator(dev, tokenizer, langs, dev_per_direction, seed) if eval_every else None
    cfg = TrainConfig(
        out=out, minutes=minutes, max_steps=max_steps, lr=lr, warmup=200, eval_every=eval_every, seed=seed
    )
    summary = train(model, sampler, cfg, pad=vocab.pad, evaluate=evaluate, resume=resume)
    summary["trained_directions"] = sorted(examples)
    summary["init"] = arch_info
    (out / "directions.json").write_text(json.dumps(sorted(examples)) + "\n", encoding="utf-8")
    return summary
