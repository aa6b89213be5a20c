"""``xlt train adapt``: fine-tune a shipped model on a few dozen to a few hundred pairs of one domain.

The model folder must carry its trainable weights (``checkpoint/``, written by ``xlt convert --with-checkpoint``).
A fifth of the pairs (at least one) is held out to report chrF before and after; the adapted engine is a new
model folder, so the running service picks it up with ``POST /models/reload`` (or SIGHUP) without a restart.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

import sacrebleu

from service.engines.manifest import Manifest
from training.batching import Example, source_ids, target_ids
from training.convert import ConversionError, convert_with_parity
from training.corpus import load_vocab
from training.data.generic import read_tsv
from training.evaluate import engine_translator
from training.sampling import PairSampler
from training.trainer import TrainConfig, train

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint"


def split_heldout(rows: list[tuple[str, str]], every: int = 5) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every ``every``-th pair is held out (deterministic, spread over the file)."""
    held = [r for i, r in enumerate(rows) if i % every == every - 1] or rows[-1:]
    train_rows = [r for r in rows if r not in held] or rows
    return train_rows, held


def adapt(
    model_dir: Path,
    pairs: Path,
    src: str,
    tgt: str,
    out: Path,
    *,
    steps: int = 60,
    lr: float = 1e-4,
    tokens_per_step: int = 1500,
    force: bool = False,
    seed: int = 1,
    logdir: Path | None = None,
) -> dict[str, object]:
    """``logdir``: where the TensorBoard curves go (by default into the work folder, which is removed at the end)."""
    from transformers import MarianMTModel

    manifest = Manifest.load(model_dir)
    checkpoint = model_dir / CHECKPOINT
    if not (checkpoint / "config.json").is_file():
        raise ConversionError(f"{model_dir} has no trainable weights ({CHECKPOINT}/): convert it --with-checkpoint")
    if out.exists() and not force:
        raise ConversionError(f"{out} exists: pass --force to overwrite it")
    for lang in (src, tgt):
        if lang not in manifest.languages:
            raise ConversionError(f"{lang} is not one of {model_dir.name}'s languages {manifest.languages}")
    rows = [(p.src, p.tgt) for p in read_tsv(pairs, src, tgt)]
    if len(rows) < 5:
        raise ConversionError(f"{pairs}: {len(rows)} pairs; adaptation needs at least 5")
    train_rows, held = split_heldout(rows)
    sp_path = model_dir / manifest.tokenizer.source_model
    vocab = load_vocab(sp_path)
    tag = vocab.tag(tgt)
    encoded_src = vocab.encode([s for s, _ in train_rows])
    encoded_tgt = vocab.encode([t for _, t in train_rows])
    examples = {
        (src, tgt): [
            Example(source_ids(s, vocab.eos), target_ids(tag, t, vocab.eos), 0)
            for s, t in zip(encoded_src, encoded_tgt, strict=True)
        ]
    }

    def score(folder: Path) -> float:
        hyps = engine_translator(folder, beam_size=4)([s for s, _ in held], src, tgt)
        return round(sacrebleu.corpus_chrf(hyps, [[t for _, t in held]]).score, 2)

    before = score(model_dir)
    model = MarianMTModel.from_pretrained(checkpoint).float()
    with tempfile.TemporaryDirectory(prefix="xlt-adapt-") as tmp:
        work = Path(tmp)
        sampler = PairSampler(examples, tokens_per_step, pairs_per_step=1, seed=seed)
        cfg = TrainConfig(
            out=work / "run",
            max_steps=steps,
            minutes=60,
            lr=lr,
            warmup=max(1, steps // 10),
            eval_every=0,
            seed=seed,
            label_smoothing=0.1,
            tensorboard=logdir,
        )
        train(model, sampler, cfg, pad=vocab.pad)
        directions = work / "directions.json"
        directions.write_text(json.dumps([list(d) for d in manifest.trained_directions]), encoding="utf-8")
        convert_with_parity(
            work / "run" / "last",
            out,
            name=out.name,
            tokenizer=sp_path,
            langs=manifest.languages,
            directions=directions,
            force=force,
            with_checkpoint=True,
        )
    # The new engine decodes as its base does (the base's defaults were chosen on a broader dev set than these pairs).
    adapted = Manifest.load(out).model_copy(update={"decoding": manifest.decoding})
    if manifest.decoding.suppressed_tokens is not None:
        shutil.copyfile(model_dir / manifest.decoding.suppressed_tokens, out / manifest.decoding.suppressed_tokens)
    adapted.save(out)
    after = score(out)
    adapted = adapted.model_copy(
        update={
            "description": f"{manifest.name} adapted on {pairs.name} ({src}->{tgt}, {len(train_rows)} pairs)",
            "few_shot": manifest.few_shot,
            "data_sources": manifest.data_sources,
            "training": {**manifest.training, "adapted_from": manifest.name, "adapt_steps": steps, "adapt_lr": lr},
            "metrics": {
                **adapted.metrics,
                "adapt_chrf": {
                    "before": before,
                    "after": after,
                    "heldout": len(held),
                    "train_pairs": len(train_rows),
                    "direction": f"{src}-{tgt}",
                },
            },
        }
    )
    adapted.save(out)
    log.info("adapted %s -> %s: chrF %s -> %s on %d held-out pairs", model_dir, out, before, after, len(held))
    return {
        "engine": str(out),
        "before_chrf": before,
        "after_chrf": after,
        "heldout": len(held),
        "train_pairs": len(train_rows),
    }


def ship_checkpoint(checkpoint: Path, engine: Path) -> None:
    """Copy the HF weights (float16, half the size) and tokenizer files into ``engine/checkpoint``."""
    from transformers import AutoModelForSeq2SeqLM

    target = engine / CHECKPOINT
    if target.exists():
        shutil.rmtree(target)
    AutoModelForSeq2SeqLM.from_pretrained(checkpoint).half().save_pretrained(target)
    for f in checkpoint.iterdir():
        if f.is_file() and f.name not in ("config.json", "model.safetensors", "generation_config.json"):
            shutil.copyfile(f, target / f.name)
