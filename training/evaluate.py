"""``xlt eval``: BLEU and chrF per direction (supervised and zero-shot) and the off-target rate of an engine.

Test sets come from the corpus's held-out splits. X->Y sets (zero-shot for an English-centric model) are built by
joining en-X and en-Y rows on their shared English side within the same group (Bible book or catalog domain):
the Bible is verse-aligned, and a catalog's msgid is the same in every language.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sacrebleu

from service.engines.base import DecodeOptions, Hypothesis
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from training.data.records import read_pairs

Translate = Callable[[list[str], str, str], list[str]]


@dataclass(frozen=True)
class TestSet:
    origin: str
    src_lang: str
    tgt_lang: str
    sources: list[str]
    references: list[str]


def test_sets(path: Path, langs: Sequence[str], max_per_set: int | None = None) -> list[TestSet]:
    rows = list(read_pairs(path))
    by_key: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)  # (origin, group, en) -> lang -> text
    for p in rows:
        if p.src_lang == "en" and p.tgt_lang in langs:
            by_key[(p.origin, p.group, p.src)][p.tgt_lang] = p.tgt
    sets: dict[tuple[str, str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for (origin, _group, en), texts in sorted(by_key.items()):
        texts = {"en": en, **texts}
        for s in texts:
            for t in texts:
                if s != t and s in langs and t in langs:
                    src, ref = sets[(origin, s, t)]
                    if max_per_set is None or len(src) < max_per_set:
                        src.append(texts[s])
                        ref.append(texts[t])
    return [TestSet(o, s, t, src, ref) for (o, s, t), (src, ref) in sorted(sets.items())]


def engine_translator(
    folder: Path, beam_size: int = 4, max_batch_tokens: int = 2048, repetition_penalty: float | None = None
) -> Translate:
    """``repetition_penalty`` None: the engine's own default, as the service decodes."""
    manifest = Manifest.load(folder)
    engine = CTranslate2Engine(folder, manifest, inter_threads=1, intra_threads=2)
    arch = manifest.architecture
    positions = int(arch.get("max_position_embeddings") or arch.get("max_positions") or 512)

    def translate(texts: list[str], src: str, tgt: str) -> list[str]:
        sources = [engine.tokenize(t, src, tgt) for t in texts]
        hyps: list[Hypothesis] = []
        for start in range(0, len(sources), 64):
            chunk = sources[start : start + 64]
            # Bound the output by the input (2x + 10) so a looping hypothesis cannot run to the position limit.
            limit = min(positions - 2, 2 * max(len(s) for s in chunk) + 10)
            options = DecodeOptions(beam_size=beam_size, max_length=limit, repetition_penalty=repetition_penalty)
            hyps += engine.translate_batch(chunk, [tgt] * len(chunk), options, max_batch_tokens)
        return [engine.detokenize(h.tokens) for h in hyps]

    return translate


MIN_JUDGED_CHARS = 20  # shorter texts are not judged: a few words fool the identifier


def language_judgements(texts: list[str], tgt: str, langs: Sequence[str]) -> list[bool | None] | None:
    """Per text: True when a language identifier puts it in another of ``langs`` than ``tgt``, False when in
    ``tgt``, None when it is too short to judge; None instead of a list when there is no identifier."""
    try:
        import langid
    except ImportError:
        return None
    identifier = langid.langid.LanguageIdentifier.from_modelstring(langid.langid.model, norm_probs=True)
    identifier.set_languages(list(langs))
    return [identifier.classify(t)[0] != tgt if len(t) >= MIN_JUDGED_CHARS else None for t in texts]


def off_target_rate(
    hyps: list[str], tgt: str, langs: Sequence[str], only: Sequence[bool] | None = None
) -> float | None:
    """Share of outputs a language identifier puts in another of the model's languages (None: no identifier).

    ``only`` limits the count to some items: those whose reference the identifier gets right, so that its own
    mistakes on short or unusual text (it calls some human references off-target too) are not charged to the
    model.
    """
    marks = language_judgements(hyps, tgt, langs)
    if marks is None:
        return None
    keep = only if only is not None else [True] * len(marks)
    judged = [m for m, k in zip(marks, keep, strict=True) if k and m is not None]
    return round(sum(judged) / len(judged), 4) if judged else None


def evaluate(
    translate: Translate,
    sets: list[TestSet],
    trained: set[tuple[str, str]],
    langs: Sequence[str],
) -> list[dict[str, object]]:
    results = []
    for ts in sets:
        started = time.monotonic()
        hyps = translate(ts.sources, ts.src_lang, ts.tgt_lang)
        results.append(
            {
                "origin": ts.origin,
                "direction": f"{ts.src_lang}-{ts.tgt_lang}",
                "zero_shot": (ts.src_lang, ts.tgt_lang) not in trained,
                "n": len(ts.sources),
                "bleu": round(sacrebleu.corpus_bleu(hyps, [ts.references]).score, 2),
                "chrf": round(sacrebleu.corpus_chrf(hyps, [ts.references]).score, 2),
                "off_target": off_target_rate(hyps, ts.tgt_lang, langs),
                "seconds": round(time.monotonic() - started, 2),
            }
        )
    return results


def markdown_table(results: list[dict[str, object]], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| test set | direction | zero-shot | n | BLEU | chrF | off-target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        off = "-" if r["off_target"] is None else f"{100 * float(r['off_target']):.1f}%"  # type: ignore[arg-type]
        lines.append(
            f"| {r['origin']} | {r['direction']} | {'yes' if r['zero_shot'] else 'no'} | {r['n']} | "
            f"{r['bleu']} | {r['chrf']} | {off} |"
        )
    return "\n".join(lines) + "\n"


def evaluate_engine(
    folder: Path,
    test_file: Path,
    out: Path | None = None,
    *,
    max_per_set: int | None = 300,
    beam_size: int = 4,
    directions: set[tuple[str, str]] | None = None,
) -> list[dict[str, object]]:
    manifest = Manifest.load(folder)
    sets = test_sets(test_file, manifest.languages, max_per_set)
    if directions is not None:
        sets = [s for s in sets if (s.src_lang, s.tgt_lang) in directions]
    trained = {(s, t) for s, t in manifest.trained_directions}
    results = evaluate(engine_translator(folder, beam_size), sets, trained, manifest.languages)
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results
