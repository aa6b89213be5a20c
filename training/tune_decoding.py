"""Choose a model's decoding defaults on the dev split, never on test: the repetition penalty, then which pieces
to hold back per target language (``training.rare_tokens``).

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

from service.engines.manifest import Manifest
from training import rare_tokens
from training.convert import engine_vocabulary
from training.evaluate import TestSet, engine_translator, test_sets

CANDIDATES = (1.0, 1.1, 1.2, 1.3)
RATIOS = (50.0, 20.0, 10.0)  # how much rarer in the target language a piece must be to be held back


def _dev_sets(folder: Path, dev: Path, max_per_set: int) -> tuple[Manifest, list[TestSet]]:
    manifest = Manifest.load(folder)
    sets = test_sets(dev, manifest.languages, max_per_set)
    if not sets:
        raise ValueError(f"{dev} holds no dev sentences between {manifest.languages}: cannot choose decoding")
    return manifest, sets


def _mean_chrf(folder: Path, sets: list[TestSet], beam_size: int, penalty: float | None = None) -> float:
    """Mean chrF over the dev sets, decoded as the folder's manifest says (``penalty`` None: its own)."""
    translate = engine_translator(folder, beam_size=beam_size, repetition_penalty=penalty)
    chrf = [sacrebleu.corpus_chrf(translate(s.sources, s.src_lang, s.tgt_lang), [s.references]).score for s in sets]
    return round(sum(chrf) / len(chrf), 2)


def tune_repetition_penalty(
    folder: Path,
    dev: Path,
    candidates: Sequence[float] = CANDIDATES,
    max_per_set: int = 40,
    beam_size: int = 2,
    out: Path | None = None,
) -> dict[str, object]:
    manifest, sets = _dev_sets(folder, dev, max_per_set)
    scores = {penalty: _mean_chrf(folder, sets, beam_size, penalty) for penalty in candidates}
    chosen = max(candidates, key=lambda p: (scores[p], -p))  # a tie keeps the smaller penalty
    decoding = manifest.decoding.model_copy(update={"repetition_penalty": chosen})
    manifest.model_copy(update={"decoding": decoding}).save(folder)
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


def tune_suppressed_tokens(
    folder: Path,
    dev: Path,
    corpus: Path,
    ratios: Sequence[float] = RATIOS,
    max_per_set: int = 40,
    beam_size: int = 2,
    out: Path | None = None,
) -> dict[str, object]:
    """Hold back, per target language, the pieces ``ratio`` times rarer in ``corpus``'s text of that language
    than in the others', for the ratio (or none) with the best mean dev chrF; decoded with the manifest's own
    repetition penalty, so run it after ``tune_repetition_penalty``. ``out``: the summary is added to that JSON
    file under ``suppressed_tokens``."""
    manifest, sets = _dev_sets(folder, dev, max_per_set)
    counts = rare_tokens.token_counts(corpus, folder / manifest.tokenizer.target_model)
    vocabulary = engine_vocabulary(folder)

    candidates: list[float | None] = [None, *ratios]
    held: dict[float | None, dict[str, list[str]]] = {None: {}}
    held |= {r: rare_tokens.rare_tokens(counts, r, vocabulary, manifest.languages) for r in ratios}

    def use(ratio: float | None) -> None:
        name = None if ratio is None else rare_tokens.write(folder, held[ratio], ratio)
        decoding = manifest.decoding.model_copy(update={"suppressed_tokens": name})
        manifest.model_copy(update={"decoding": decoding}).save(folder)

    scores = {}
    for ratio in candidates:
        use(ratio)
        scores[ratio] = _mean_chrf(folder, sets, beam_size)
    chosen = max(candidates, key=lambda r: (scores[r], r is None))  # a tie holds nothing back
    use(chosen)
    tokens = held[chosen]
    if chosen is None:
        (folder / rare_tokens.FILE).unlink(missing_ok=True)
    summary: dict[str, object] = {
        "ratio": chosen,
        "dev_chrf": {"none" if r is None else f"{r:g}": v for r, v in scores.items()},
        "per_language": {lang: len(pieces) for lang, pieces in tokens.items()},
        "corpus": str(corpus),
    }
    if out is not None:
        report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
        out.write_text(json.dumps({**report, "suppressed_tokens": summary}, indent=1) + "\n", encoding="utf-8")
    return summary
