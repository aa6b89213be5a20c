"""Choose a model's decoding defaults on the dev split, never on test: the repetition penalty, then which pieces
to hold back per target language (``training.rare_tokens``), and optionally a shorter list of those
(``prune_suppressed_tokens``: ``python -m training.tune_decoding FOLDER --dev DEV --prune``).

A small model trained briefly falls into loops ("se-se-se", "--s, --s") that lose chrF, drop placeholders and
drift out of the target language; CTranslate2's repetition penalty curbs them at no training cost. The value is
picked by mean chrF over every dev set (trained and zero-shot directions) at the service's beam, written into the
manifest's ``decoding`` (the service and every later evaluation decode with it), and reported in the model card.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import sacrebleu

from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest, load_suppressed_tokens
from training import rare_tokens
from training.convert import engine_vocabulary
from training.evaluate import TestSet, engine_hypotheses, engine_translator, test_sets

log = logging.getLogger(__name__)

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
        _add_to_report(out, "suppressed_tokens", summary)
    return summary


def _add_to_report(out: Path, key: str, summary: dict[str, object]) -> None:
    """Put ``summary`` under ``key`` in the JSON report ``out``, keeping what earlier steps wrote there."""
    report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    out.write_text(json.dumps({**report, key: summary}, indent=1) + "\n", encoding="utf-8")


PRUNING_FILE = "suppressed_tokens.pruning.json"  # the lists of the rounds after the first, while pruning runs


def dev_by_target(dev: Sequence[Path], langs: list[str], per_target: int) -> dict[str, list[tuple[str, str]]]:
    """Per target language, up to ``per_target`` distinct (source language, text) taken in turn from every dev set
    into it: each origin and each source language, zero-shot directions included (where drift is most common)."""
    sets = [s for path in dev for s in test_sets(path, langs)]
    out: dict[str, list[tuple[str, str]]] = {}
    for lang in langs:
        queues = [[(s.src_lang, text) for text in s.sources] for s in sets if s.tgt_lang == lang]
        chosen: list[tuple[str, str]] = []
        for row in itertools.chain.from_iterable(itertools.zip_longest(*queues)):
            if len(chosen) == per_target:
                break
            if row is not None and row not in chosen:
                chosen.append(row)
        out[lang] = chosen
    return out


def _emitted(
    folder: Path, manifest: Manifest, rows: dict[str, list[tuple[str, str]]], beam_size: int, threads: int
) -> dict[str, Counter[str]]:
    """Per target language, the pieces of every hypothesis the beam returns for its rows, counted."""
    engine = CTranslate2Engine(folder, manifest, inter_threads=1, intra_threads=threads)
    found: dict[str, Counter[str]] = {}
    try:
        for tgt, pairs in rows.items():
            counts = found.setdefault(tgt, Counter())
            for src, group in itertools.groupby(sorted(pairs), key=lambda p: p[0]):
                texts = [text for _, text in group]
                for hyp in engine_hypotheses(engine, texts, src, tgt, beam_size, num_hypotheses=beam_size):
                    for h in (hyp, *hyp.alternatives):
                        counts.update(h.tokens)
    finally:
        engine.close()
    return found


def prune_suppressed_tokens(
    folder: Path,
    dev: Sequence[Path],
    per_target: int = 100,
    beam_size: int = 4,
    max_rounds: int = 4,
    threads: int = 1,
    out: Path | None = None,
) -> dict[str, object]:
    """Keep, per target language, only the held-back pieces the model produces on dev when they are not held back.

    Why: CTranslate2 disables every held-back piece in every row at every decoding step (xlt-base holds ~4,600 a
    language back), which costs about a quarter of single-client speed, while most of them were chosen for being
    rare in the language's text and never come out of the model anyway. Round one decodes up to ``per_target``
    dev sentences into each target language (``dev_by_target``) with nothing held back and keeps the held-back
    pieces found in any of the beam's ``beam_size`` hypotheses; each later round decodes with the kept pieces held
    back and adds those that come out instead (holding some back steers the beam to others), until a round adds
    none (``converged``) or ``max_rounds`` ran. The folder's list is rewritten only at the end, with a ``pruned``
    record beside the kept pieces (the other keys of the file stay); a target language without dev sentences keeps
    its whole list. The returned summary (added to ``out`` under ``pruned_suppressed_tokens``) has the sizes
    before and after, each kept piece with how often it came out in the round that found it, and the time taken.
    """
    started = time.monotonic()
    manifest = Manifest.load(folder)
    name = manifest.decoding.suppressed_tokens
    if name is None:
        raise ValueError(f"{folder}: the manifest holds no pieces back (decoding.suppressed_tokens is null)")
    original = json.loads((folder / name).read_text(encoding="utf-8"))
    held = {lang: set(pieces) for lang, pieces in load_suppressed_tokens(folder, manifest).items()}
    found_by_target = dev_by_target(dev, manifest.languages, per_target)
    rows = {lang: found for lang, found in found_by_target.items() if lang in held and found}
    kept: dict[str, dict[str, int]] = {lang: {} for lang in rows}  # piece -> count in the round that found it
    converged, rounds = False, 0
    try:
        for rounds in range(1, max_rounds + 1):
            if rounds == 1:
                mask: str | None = None
            else:
                tokens = {lang: sorted(kept.get(lang, held[lang])) for lang in held}
                (folder / PRUNING_FILE).write_text(json.dumps({"tokens": tokens}) + "\n", encoding="utf-8")
                mask = PRUNING_FILE
            decoding = manifest.decoding.model_copy(update={"suppressed_tokens": mask})
            emitted = _emitted(folder, manifest.model_copy(update={"decoding": decoding}), rows, beam_size, threads)
            added = 0
            for lang, counts in emitted.items():
                for piece, n in counts.items():
                    if piece in held[lang] and piece not in kept[lang]:
                        kept[lang][piece] = n
                        added += 1
            log.info("pruning round %d: %d held-back pieces came out", rounds, added)
            if added == 0:
                converged = True
                break
    finally:
        (folder / PRUNING_FILE).unlink(missing_ok=True)
    final = {
        lang: sorted(kept[lang]) if lang in kept else sorted(pieces)
        for lang, pieces in load_suppressed_tokens(folder, manifest).items()
    }
    record: dict[str, object] = {
        "dev": [str(p) for p in dev],
        "per_target": per_target,
        "beam_size": beam_size,
        "rounds": rounds,
        "converged": converged,
        "before": {lang: len(pieces) for lang, pieces in held.items()},
    }
    if any(final.values()):
        body = {**original, "pruned": record, "tokens": final}
        (folder / name).write_text(json.dumps(body, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    else:  # nothing came out: hold nothing back, and decode mixed target languages in one call again
        manifest.model_copy(update={"decoding": manifest.decoding.model_copy(update={"suppressed_tokens": None})}).save(
            folder
        )
        (folder / name).unlink()
    summary: dict[str, object] = {
        **record,
        "per_language": {
            lang: {"before": len(held[lang]), "after": len(final[lang]), "sentences": len(rows.get(lang, []))}
            for lang in held
        },
        "kept": {lang: dict(sorted(k.items(), key=lambda p: (-p[1], p[0]))) for lang, k in kept.items()},
        "seconds": round(time.monotonic() - started, 1),
    }
    if out is not None:
        _add_to_report(out, "pruned_suppressed_tokens", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the engine folder (its manifest and lists are rewritten)")
    parser.add_argument("--dev", type=Path, action="append", required=True, help="a dev TSV; repeat for more")
    parser.add_argument("--corpus", type=Path, help="choose the held-back pieces anew from this training TSV first")
    parser.add_argument("--prune", action="store_true", help="keep only the held-back pieces the model produces")
    parser.add_argument("--per-target", type=int, default=100, help="dev sentences per target language (--prune)")
    parser.add_argument("--beam-size", type=int, default=4, help="the beam, and hypotheses read per sentence")
    parser.add_argument("--max-rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="CTranslate2 threads")
    parser.add_argument("--out", type=Path, help="a JSON report the summaries are added to")
    args = parser.parse_args(argv)
    if not (args.corpus or args.prune):
        parser.error("nothing to do: give --corpus, --prune or both")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.corpus:
        print(json.dumps(tune_suppressed_tokens(args.folder, args.dev[0], args.corpus, out=args.out), indent=1))
    if args.prune:
        summary = prune_suppressed_tokens(
            args.folder, args.dev, args.per_target, args.beam_size, args.max_rounds, args.threads, args.out
        )
        print(json.dumps({k: v for k, v in summary.items() if k != "kept"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
