"""``xlt train finetune``: multilingual fine-tuning with one loss summed over language pairs.

English-centric on purpose: every en<->X direction in the corpus is trained, X<->Y never is, and those zero-shot
directions are served through the decoder's target-language tag. A share of the inputs carries retrieved
examples (``<ex> src <to> tgt <sep> source``) so the model learns to use examples given at request time.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path

import sacrebleu
from torch import nn
from transformers import MarianMTModel

from training.corpus import (
    EXAMPLE_OVERLAP,
    build_examples,
    directions_of,
    load_vocab,
    one_way_examples,
    oriented,
    read_split,
    without_identical,
)
from training.data.everyday import ORIGIN as EVERYDAY
from training.decode import translate
from training.model import Architecture, build_model
from training.sampling import PairSampler
from training.tensorboard_log import BLEU_PREFIX
from training.trainer import TrainConfig, train

log = logging.getLogger(__name__)


def dev_evaluator(dev: Path, vocab_path: Path, langs: set[str] | None, per_direction: int, seed: int):
    """Scores of ``per_direction`` dev pairs a direction (see ``dev_scores``).

    The everyday dev sentences (origin ``everyday``), where the dev split has them, are scored apart
    (``everyday:en-de``, twice as many a direction: they are short), their mean chrF is ``chrf_everyday``, and
    ``chrf`` averages every direction of both, so that the best checkpoint is the best on the two registers and
    on daily text together."""
    vocab = load_vocab(vocab_path)
    pairs = read_split(dev, langs)
    rng = random.Random(seed)
    rng.shuffle(pairs)
    kinds = {"": ([p for p in pairs if p.origin != EVERYDAY], per_direction)}
    if daily := [p for p in pairs if p.origin == EVERYDAY]:
        kinds[f"{EVERYDAY}:"] = (daily, 2 * per_direction)
    sets: dict[str, dict[tuple[str, str], tuple[list[str], list[str]]]] = {}
    for prefix, (rows_of_kind, most) in kinds.items():
        sets[prefix] = {}
        for src, tgt in directions_of(rows_of_kind):
            rows = oriented(rows_of_kind, src, tgt)[:most]
            sets[prefix][(src, tgt)] = ([r[0] for r in rows], [r[1] for r in rows])

    def evaluate(model: nn.Module) -> dict[str, float]:
        scores: dict[str, float] = {}
        chrf: list[float] = []
        for prefix, kind in sets.items():
            outputs = {(s, t): (translate(model, vocab, sources, t), refs) for (s, t), (sources, refs) in kind.items()}
            part = dev_scores(outputs)
            chrf += [part[f"{s}-{t}"] for s, t in outputs]
            scores.update({prefix + k: v for k, v in part.items()})
        if f"{EVERYDAY}:chrf" in scores:
            scores["chrf_everyday"] = scores.pop(f"{EVERYDAY}:chrf")
            scores["bleu_everyday"] = scores.pop(f"{EVERYDAY}:bleu")
            scores["chrf"] = round(sum(chrf) / len(chrf), 2)
        return scores

    return evaluate


def dev_scores(outputs: dict[tuple[str, str], tuple[list[str], list[str]]]) -> dict[str, float]:
    """chrF per direction (``src-tgt``) and their mean ``chrf`` (which picks the best checkpoint), then BLEU per
    direction (``bleu:src-tgt``) and its mean ``bleu``, for the TensorBoard curves."""
    chrf = {f"{s}-{t}": round(sacrebleu.corpus_chrf(h, [r]).score, 2) for (s, t), (h, r) in outputs.items()}
    bleu = {
        f"{BLEU_PREFIX}{s}-{t}": round(sacrebleu.corpus_bleu(h, [r]).score, 2) for (s, t), (h, r) in outputs.items()
    }
    return {
        **chrf,
        "chrf": round(sum(chrf.values()) / max(len(chrf), 1), 2),
        **bleu,
        "bleu": round(sum(bleu.values()) / max(len(bleu), 1), 2),
    }


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
    example_overlap: float = EXAMPLE_OVERLAP,
    drop_identical: bool = False,
    cooldown: int = 0,
    restart: int = 0,
    warmup: int = 200,
    eval_every: int = 400,
    dev_per_direction: int = 40,
    arch: Architecture | None = None,
    resume: bool = False,
    seed: int = 1,
    lr: float = 5e-4,
    threads: int | None = None,
    synthetic: Path | None = None,
    synthetic_share: float = 0.1,
    group_origins: tuple[str, ...] = (),
    group_share: float = 0.0,
) -> dict[str, object]:
    """Fine-tune ``init`` (a pretrained checkpoint folder) or, with no ``init``, train from random weights.

    ``drop_identical``: leave out pairs whose target is their source (see ``corpus.without_identical``).
    ``cooldown``: the last steps before ``max_steps``, over which the learning rate falls linearly to zero.
    ``restart``: a warm restart at that step: ``warmup`` steps up to ``lr``, then inverse-sqrt decay (see
    ``trainer._lr``).
    ``synthetic``: X->Y pairs with a synthetic source (``training.data.synthetic``), drawn ``synthetic_share`` of
    the time; their directions stay out of ``directions.json``, so they are still served as zero-shot.
    ``group_origins``: corpus origins (e.g. teacher, freedict, backtranslation) drawn ``group_share`` of the time
    as a group of their own, so that a new kind of data weighs what it is given, not what its size says."""
    vocab = load_vocab(tokenizer)
    if init is not None:
        model = MarianMTModel.from_pretrained(init).float()  # a shipped checkpoint/ is float16
        arch_info = {"init": str(init)}
    else:
        arch = arch or Architecture()
        model = build_model(vocab.sp, arch)
        arch_info = arch.as_dict()
    pairs = read_split(corpus, langs)
    if drop_identical:
        kept = without_identical(pairs)
        log.info("left out %d pairs whose target is their source", len(pairs) - len(kept))
        pairs = kept
    grouped = [p for p in pairs if p.origin in group_origins]
    if group_origins and not grouped:
        raise ValueError(f"{corpus}: no pairs of origin {', '.join(group_origins)}")
    pairs = [p for p in pairs if p.origin not in group_origins]
    examples = build_examples(pairs, vocab, augment=augment, seed=seed, min_overlap=example_overlap)
    log.info("fine-tuning on %s", {f"{s}-{t}": len(v) for (s, t), v in examples.items()})
    label = "+".join(group_origins)
    group = {
        (s, t, label): v
        for (s, t), v in build_examples(grouped, vocab, augment=augment, seed=seed, min_overlap=example_overlap).items()
    }
    if group:
        log.info("and %.0f%% of the time on %s", 100 * group_share, {"-".join(k): len(v) for k, v in group.items()})
    extra = one_way_examples(read_split(synthetic, langs), vocab, len(examples)) if synthetic else {}
    if extra:
        log.info(
            "and %.0f%% of the time on synthetic %s",
            100 * synthetic_share,
            {f"{s}-{t}": len(v) for (s, t), v in extra.items()},
        )
    sampler = PairSampler(
        examples,
        tokens_per_step // pairs_per_step,
        pairs_per_step,
        temperature,
        seed,
        dict(extra),
        synthetic_share,
        more=[(dict(group), group_share)] if group else [],
    )
    evaluate = dev_evaluator(dev, tokenizer, langs, dev_per_direction, seed) if eval_every else None
    cfg = TrainConfig(
        out=out,
        minutes=minutes,
        max_steps=max_steps,
        lr=lr,
        warmup=warmup,
        cooldown=cooldown,
        restart=restart,
        eval_every=eval_every,
        seed=seed,
    )
    if threads:
        cfg.threads = threads
    summary = train(model, sampler, cfg, pad=vocab.pad, evaluate=evaluate, resume=resume)
    summary["trained_directions"] = sorted(set(examples) | {(s, t) for s, t, _ in group})
    summary["synthetic_directions"] = sorted(extra)
    summary["init"] = arch_info
    (out / "directions.json").write_text(json.dumps(summary["trained_directions"]) + "\n", encoding="utf-8")
    return summary


def finetune_pretrained(
    checkpoint: str | Path,
    corpus: Path,
    dev: Path,
    out: Path,
    *,
    langs: set[str] | None = None,
    minutes: float = 60.0,
    max_steps: int = 10**9,
    tokens_per_step: int = 4000,
    pairs_per_step: int = 4,
    temperature: float = 5.0,
    cooldown: int = 0,
    restart: int = 0,
    warmup: int = 50,
    eval_every: int = 400,
    dev_per_direction: int = 40,
    resume: bool = False,
    seed: int = 1,
    lr: float = 5e-5,
) -> dict[str, object]:
    """Fine-tune a pretrained Marian/M2M100/NLLB/mBART checkpoint (folder or hub id) with the same loop and loss.

    Directions are English-centric among ``langs`` that the model has language tokens for; a bilingual opus-mt
    model trains only the direction it was built for (its ``source_lang``/``target_lang``). The schedule
    (``lr``, ``warmup``, ``cooldown``, ``restart``) as in ``finetune``.
    """
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from training.batching import Example
    from training.families import detect

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(checkpoint))
    family = detect(model.config.model_type, tokenizer)
    pairs = read_split(corpus, langs)
    wanted = [(s, t) for s, t in directions_of(pairs) if family.code(s) or family.name == "marian"]
    if family.name == "marian" and family.code("en") is None:  # bilingual: its own direction only
        own = (getattr(tokenizer, "source_lang", None), getattr(tokenizer, "target_lang", None))
        wanted = [d for d in wanted if d == own] or wanted[:1]
    examples: dict[tuple[str, str], list[Example]] = {}
    for k, (src, tgt) in enumerate(wanted):
        rows = oriented(pairs, src, tgt)
        if not rows:
            continue
        source_ids, labels = family.encode([r[0] for r in rows], [r[1] for r in rows], src, tgt)
        examples[(src, tgt)] = [Example(s, t, k) for s, t in zip(source_ids, labels, strict=True)]
    if not examples:
        raise ValueError(f"{checkpoint}: no training direction among {sorted(langs or [])} has language tokens")
    log.info(
        "fine-tuning %s (%s) on %s", checkpoint, family.name, {f"{s}-{t}": len(v) for (s, t), v in examples.items()}
    )
    sampler = PairSampler(examples, tokens_per_step // pairs_per_step, pairs_per_step, temperature, seed)
    evaluate = _pretrained_evaluator(family, dev, langs, set(examples), dev_per_direction, seed) if eval_every else None

    spm_files = _sentencepiece_files(checkpoint, tokenizer)

    def save(m: nn.Module, path: Path) -> None:
        m.save_pretrained(path)  # type: ignore[operator]
        tokenizer.save_pretrained(path)
        for f in spm_files:  # fast tokenizers save tokenizer.json only; the service needs the SentencePiece model
            if not (path / f.name).exists():
                shutil.copyfile(f, path / f.name)

    cfg = TrainConfig(
        out=out,
        minutes=minutes,
        max_steps=max_steps,
        lr=lr,
        warmup=warmup,
        cooldown=cooldown,
        restart=restart,
        eval_every=eval_every,
        seed=seed,
    )
    summary = train(model, sampler, cfg, pad=tokenizer.pad_token_id, evaluate=evaluate, resume=resume, save_model=save)
    summary["trained_directions"] = sorted(examples)
    summary["family"] = family.name
    (out / "directions.json").write_text(json.dumps(sorted(examples)) + "\n", encoding="utf-8")
    return summary


def _sentencepiece_files(checkpoint: str | Path, tokenizer: object) -> list[Path]:
    folders = [Path(checkpoint)] if Path(checkpoint).is_dir() else []
    vocab_file = getattr(tokenizer, "vocab_file", None)
    if vocab_file:
        folders.append(Path(vocab_file).parent)
    names = ("sentencepiece.bpe.model", "source.spm", "target.spm", "spm.model")
    return [folder / n for folder in folders for n in names if (folder / n).is_file()]


def _pretrained_evaluator(
    family,
    dev: Path,
    langs: set[str] | None,
    directions: set[tuple[str, str]],
    per_direction: int,
    seed: int,
):
    import torch

    pairs = read_split(dev, langs)
    random.Random(seed).shuffle(pairs)
    sets = {}
    for src, tgt in sorted(directions):
        rows = oriented(pairs, src, tgt)[:per_direction]
        if rows:
            sets[(src, tgt)] = rows

    def evaluate(model: nn.Module) -> dict[str, float]:
        outputs = {}
        for (src, tgt), rows in sets.items():
            source_ids, _ = family.encode([r[0] for r in rows], [r[1] for r in rows], src, tgt)
            width = max(len(s) for s in source_ids)
            pad = family.tokenizer.pad_token_id
            ids = torch.tensor([s + [pad] * (width - len(s)) for s in source_ids])
            with torch.no_grad():
                gen = model.generate(
                    input_ids=ids,
                    attention_mask=(ids != pad).long(),
                    num_beams=1,  # type: ignore[operator]
                    max_new_tokens=128,
                    **family.generate_kwargs(tgt),
                )
            hyps = family.tokenizer.batch_decode(gen, skip_special_tokens=True)
            outputs[(src, tgt)] = (hyps, [r[1] for r in rows])
        return dev_scores(outputs)

    return evaluate
