"""Few-shot evaluation: chrF on held-out gettext catalogs with 0, 1, 2 and 4 retrieved examples per sentence.

Examples are retrieved leave-one-out from the other messages of the same test catalog (what a translation memory
of that project would hold) and joined to the source exactly as the service joins them (``service.fewshot.format``).
Two retrievals: ``overlap``, the word-overlap retrieval the model was trained with (Jaccard >= 0.2: most sentences
get examples, many of them loose); ``memory``, the service's own translation-memory lookup at its default fuzzy
threshold (``service.fewshot.index``: what a user of ``"memory"`` gets, fewer and closer matches).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import sacrebleu

from service.engines.base import DecodeOptions
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from service.fewshot.format import Example, build_source, tokenize_examples
from service.fewshot.index import PairIndex
from service.fewshot.store import Entry, normalize
from service.settings import Settings
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
    retrieval: Literal["overlap", "memory"] = "overlap",
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
                retrieve = _memory(pairs) if retrieval == "memory" else _overlap(pairs)
                for i, (s, t) in enumerate(pairs):
                    rows.append((s, t, retrieve(i, max(shots))))
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
    mean = {  # none where the test split has no sentence of ``origin``
        f"chrf_{k}": round(sum(float(r[f"chrf_{k}"]) for r in results.values()) / len(results), 2)
        for k in shots
        if results
    }
    summary: dict[str, object] = {"retrieval": retrieval, "per_direction": results, "mean": mean}
    if out is not None:
        out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


Retrieve = Callable[[int, int], list[Example]]  # (sentence index, k) -> up to k examples, never the sentence itself


def _overlap(pairs: list[tuple[str, str]]) -> Retrieve:
    index = WordIndex([s for s, _ in pairs])
    return lambda i, k: [Example(*pairs[j]) for j in index.neighbours(i, k=k, min_overlap=0.2)]


def _memory(pairs: list[tuple[str, str]]) -> Retrieve:
    index = PairIndex()
    index.update(Entry(s, t, 0) for s, t in pairs)
    threshold = Settings.model_fields["memory_fuzzy_threshold"].default

    def retrieve(i: int, k: int) -> list[Example]:
        own = normalize(pairs[i][0])  # an exact match would be served from the memory, not used as an example
        found = [m for m in index.fuzzy(pairs[i][0], k + 1, threshold) if normalize(m.source) != own]
        return [Example(m.source, m.target) for m in found[:k]]

    return retrieve
