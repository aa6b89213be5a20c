"""Few-shot evaluation: chrF on held-out gettext catalogs with 0, 1, 2 and 4 retrieved examples per sentence.

Examples are retrieved leave-one-out from the other messages of the same test catalog (what a translation memory
of that project would hold), with the same word-overlap retrieval the model was trained with, and joined to the
source exactly as the service joins them (``service.fewshot.format``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import sacrebleu

from service.engines.base import DecodeOptions
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from service.fewshot.format import Example, build_source, tokenize_examples
from training.data.records import read_pairs
from training.retrieval import WordIndex


def evaluate_fewshot(
    folder: Path,
    test_file: Path,
    shots: tuple[int, ...] = (0, 1, 2, 4),
    origin: str = "gettext",
    max_per_direction: int = 300,
    beam_size: int = 4,
    out: Path | None = None,
) -> dict[str, object]:
    manifest = Manifest.load(folder)
    engine = CTranslate2Engine(folder, manifest, inter_threads=1, intra_threads=2)
    by_domain: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p in read_pairs(test_file):
        if p.origin == origin and p.tgt_lang in manifest.languages:
            by_domain[(p.group, p.tgt_lang)].append((p.src, p.tgt))
    results: dict[str, dict[str, object]] = {}
    for lang in sorted({lang for _, lang in by_domain}):
        for forward in (True, False):
            src_lang, tgt_lang = ("en", lang) if forward else (lang, "en")
            rows: list[tuple[str, str, list[Example]]] = []
            for (_, domain_lang), pairs in sorted(by_domain.items()):
                if domain_lang != lang:
                    continue
                pairs = [(s, t) if forward else (t, s) for s, t in pairs]
                index = WordIndex([s for s, _ in pairs])
                for i, (s, t) in enumerate(pairs):
                    found = index.neighbours(i, k=max(shots), min_overlap=0.2)
                    rows.append((s, t, [Example(*pairs[j]) for j in found]))
            rows = rows[:max_per_direction]
            scores: dict[str, float] = {}
            for k in shots:
                sources = [
                    build_source(engine, s, src_lang, tgt_lang, tokenize_examples(engine, ex[:k]), budget=256)
                    for s, _, ex in rows
                ]
                limit = 2 * max(len(engine.tokenize(s)) for s, _, _ in rows) + 10
                hyps = engine.translate_batch(sources, [tgt_lang] * len(rows), DecodeOptions(beam_size, limit), 2048)
                texts = [engine.detokenize(h.tokens) for h in hyps]
                scores[f"chrf_{k}"] = round(sacrebleu.corpus_chrf(texts, [[t for _, t, _ in rows]]).score, 2)
            scores["n"] = len(rows)
            scores["with_examples"] = sum(1 for _, _, ex in rows if ex)
            results[f"{src_lang}-{tgt_lang}"] = scores
    mean = {f"chrf_{k}": round(sum(float(r[f"chrf_{k}"]) for r in results.values()) / len(results), 2) for k in shots}
    summary: dict[str, object] = {"per_direction": results, "mean": mean}
    if out is not None:
        out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary
