"""Zero-shot evaluation: every X->Y between non-English languages, direct (target tag only) vs pivot through
English (two passes) vs ``auto`` (the service's default; see ``auto_choice``), with chrF, BLEU and the off-target
rate of each.

The identifier errs too, mostly on short catalog strings: ``reference_off_target`` is the rate at which it calls
the human references off-target (its floor on that set), and ``*_off_target_judgeable`` counts only the items
whose reference it puts in the target language. ``auto`` chooses with langid, as the service does, so every
off-target rate is also given by lingua (``*_lingua``), an identifier the choice never consulted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import sacrebleu

from service.engines.manifest import Manifest
from service.langid import LangidDetector
from training.evaluate import IDENTIFIERS, engine_candidates, language_judgements, off_target_rate, test_sets


def auto_choice(
    direct: list[str], pivot: list[str], on_target: Callable[[str], bool], min_chars: int
) -> tuple[str, str]:
    """The service's ``auto`` for a one-sentence text: (output, where it came from).

    ``direct`` and ``pivot`` are the beam's hypotheses, best first. A direct output of ``min_chars`` or more that
    the identifier puts in another language gives way to its first alternative in the target language, else to
    the pivot's output (or the pivot's first on-target alternative) if that is in the target language; where
    the pivot is off-target too, the direct output stays."""
    best = direct[0]
    if len(best) < min_chars or on_target(best):
        return best, "direct"
    for alternative in direct[1:]:
        if on_target(alternative):
            return alternative, "alternative"
    via = pivot[0]
    if len(via) >= min_chars and not on_target(via):
        via = next((p for p in pivot[1:] if on_target(p)), via)
    return (via, "pivot") if on_target(via) else (best, "direct")


def evaluate_zeroshot(
    folder: Path,
    test_file: Path,
    max_per_set: int = 200,
    beam_size: int = 4,
    pivot: str = "en",
    out: Path | None = None,
    min_chars: int = 20,
) -> list[dict[str, object]]:
    """``min_chars``: outputs shorter than this are not judged (the service's ``XLT_OFF_TARGET_MIN_CHARS``);
    ``auto`` weighs ``beam_size`` hypotheses (the service's ``XLT_OFF_TARGET_HYPOTHESES``, bounded by its beam)."""
    manifest = Manifest.load(folder)
    trained = {(s, t) for s, t in manifest.trained_directions}
    candidates = engine_candidates(folder, beam_size)
    detector = LangidDetector()
    langs = list(manifest.languages)
    rows: list[dict[str, object]] = []
    for ts in test_sets(test_file, manifest.languages, max_per_set):
        if (ts.src_lang, ts.tgt_lang) in trained or pivot in (ts.src_lang, ts.tgt_lang):
            continue
        direct_n = candidates(ts.sources, ts.src_lang, ts.tgt_lang, beam_size)
        middle = [found[0] for found in candidates(ts.sources, ts.src_lang, pivot, 1)]
        via_n = candidates(middle, pivot, ts.tgt_lang, beam_size)

        def on_target(text: str, tgt: str = ts.tgt_lang) -> bool:
            return detector.detect(text[:2000], langs) in (None, tgt)

        chosen = [auto_choice(d, v, on_target, min_chars) for d, v in zip(direct_n, via_n, strict=True)]
        row: dict[str, object] = {
            "origin": ts.origin,
            "direction": f"{ts.src_lang}-{ts.tgt_lang}",
            "n": len(direct_n),
            "auto_alternatives": round(sum(o == "alternative" for _, o in chosen) / max(len(chosen), 1), 4),
            "auto_fallbacks": round(sum(o == "pivot" for _, o in chosen) / max(len(chosen), 1), 4),
        }
        outputs = {"direct": [d[0] for d in direct_n], "pivot": [v[0] for v in via_n], "auto": [c for c, _ in chosen]}
        for identifier, suffix in IDENTIFIERS.items():
            row[f"reference_off_target{suffix}"] = off_target_rate(ts.references, ts.tgt_lang, langs, None, identifier)
            references = language_judgements(ts.references, ts.tgt_lang, langs, identifier)
            judgeable = [m is False for m in references] if references is not None else None
            for name, hyps in outputs.items():
                row[f"{name}_off_target{suffix}"] = off_target_rate(hyps, ts.tgt_lang, langs, None, identifier)
                if judgeable is not None:
                    row[f"{name}_off_target_judgeable{suffix}"] = off_target_rate(
                        hyps, ts.tgt_lang, langs, judgeable, identifier
                    )
        for name, hyps in outputs.items():
            row[f"{name}_chrf"] = round(sacrebleu.corpus_chrf(hyps, [ts.references]).score, 2)
            row[f"{name}_bleu"] = round(sacrebleu.corpus_bleu(hyps, [ts.references]).score, 2)
        rows.append(row)
    if out is not None:
        out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return rows
