"""Zero-shot evaluation: every X->Y between non-English languages, direct (target tag only) vs pivot through
English (two passes) vs ``auto`` (the service's default: direct, and the pivot's output where a language
identifier finds the direct one in another language), with chrF, BLEU and the off-target rate of each.

The identifier errs too, mostly on short catalog strings: ``reference_off_target`` is the rate at which it calls
the human references off-target (its floor on that set), and ``*_off_target_judgeable`` counts only the items
whose reference it puts in the target language."""

from __future__ import annotations

import json
from pathlib import Path

import sacrebleu

from service.engines.manifest import Manifest
from service.langid import LangidDetector
from training.evaluate import engine_translator, language_judgements, off_target_rate, test_sets


def evaluate_zeroshot(
    folder: Path,
    test_file: Path,
    max_per_set: int = 200,
    beam_size: int = 4,
    pivot: str = "en",
    out: Path | None = None,
    min_chars: int = 20,
) -> list[dict[str, object]]:
    """``min_chars``: outputs shorter than this are not judged (the service's ``XLT_OFF_TARGET_MIN_CHARS``)."""
    manifest = Manifest.load(folder)
    trained = {(s, t) for s, t in manifest.trained_directions}
    translate = engine_translator(folder, beam_size)
    detector = LangidDetector()
    langs = list(manifest.languages)
    rows: list[dict[str, object]] = []
    for ts in test_sets(test_file, manifest.languages, max_per_set):
        if (ts.src_lang, ts.tgt_lang) in trained or pivot in (ts.src_lang, ts.tgt_lang):
            continue
        direct = translate(ts.sources, ts.src_lang, ts.tgt_lang)
        via = translate(translate(ts.sources, ts.src_lang, pivot), pivot, ts.tgt_lang)
        off = [len(d) >= min_chars and detector.detect(d[:2000], langs) not in (None, ts.tgt_lang) for d in direct]
        auto = [v if o else d for d, v, o in zip(direct, via, off, strict=True)]
        references = language_judgements(ts.references, ts.tgt_lang, langs)
        judgeable = [m is False for m in references] if references is not None else None
        row: dict[str, object] = {
            "origin": ts.origin,
            "direction": f"{ts.src_lang}-{ts.tgt_lang}",
            "n": len(direct),
            "auto_fallbacks": round(sum(off) / max(len(off), 1), 4),
            "reference_off_target": off_target_rate(ts.references, ts.tgt_lang, langs),
        }
        for name, hyps in (("direct", direct), ("pivot", via), ("auto", auto)):
            row[f"{name}_chrf"] = round(sacrebleu.corpus_chrf(hyps, [ts.references]).score, 2)
            row[f"{name}_bleu"] = round(sacrebleu.corpus_bleu(hyps, [ts.references]).score, 2)
            row[f"{name}_off_target"] = off_target_rate(hyps, ts.tgt_lang, langs)
            if judgeable is not None:
                row[f"{name}_off_target_judgeable"] = off_target_rate(hyps, ts.tgt_lang, langs, only=judgeable)
        rows.append(row)
    if out is not None:
        out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return rows
