"""Choose a model's decoding defaults on the dev split, never on test: the repetition penalty.

A small model trained briefly falls into loops ("se-se-se", "--s, --s") that lose chrF, drop placeholders and
drift out of the target language; CTranslate2's repetition penalty curbs them at no training cost. The value is
picked by mean chrF over every dev set (trained and zero-shot directions) at the service's beam, written into the
manifest's ``decoding`` (the service and every later evaluation decode with it), and reported in the model card.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import sacrebleu

from service.engines.manifest import Decoding, Manifest
from training.evaluate import engine_translator, test_sets

CANDIDATES = (1.0, 1.1, 1.2, 1.3)


def tune_repetition_penalty(
    folder: Path,
    dev: Path,
    candidates: Sequence[float] = CANDIDATES,
    max_per_set: int = 40,
    beam_size: int = 2,
    out: Path | None = None,
) -> dict[str, object]:
    manifest = Manifest.load(folder)
    sets = test_sets(dev, manifest.languages, max_per_set)
    if not sets:
        raise ValueError(f"{dev} holds no dev sentences between {manifest.languages}: cannot choose decoding")
    scores: dict[float, float] = {}
    for penalty in candidates:
        translate = engine_translator(folder, beam_size=beam_size, repetition_penalty=penalty)
        chrf = [sacrebleu.corpus_chrf(translate(s.sources, s.src_lang, s.tgt_lang), [s.references]).score for s in sets]
        scores[penalty] = round(sum(chrf) / len(chrf), 2)
    chosen = max(candidates, key=lambda p: (scores[p], -p))  # a tie keeps the smaller penalty
    manifest.model_copy(update={"decoding": Decoding(repetition_penalty=chosen)}).save(folder)
    summary: dict[str, object] = {
        "repetition_penalty": chosen,
        "dev_chrf": {str(p): v for p, v in scores.items()},
        "beam_size": beam_size,
        "sets": len(sets),
        "per_set": max_per_set,
    }
    if out is not None:
        out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary
