"""Synthetic X->Y pairs for the zero-shot directions (issue 4's remedy for off-target output).

Each comes from an en->Y training pair: its English side, translated into X by the model's trained en->X direction,
becomes the source; its Y side, real text, stays the target. Why: the model has only ever written X or Y from
English and English from them, so from a non-English source it drifts to English or copies the input. Pairs whose
target is real Y text teach "from any source, write the tag's language" without a single real X-Y pair, so the
directions stay zero-shot in the manifest (pivot-based back-translation; Gu et al. 2019, Zhang et al. 2020).

A synthetic source that is not in X (the en->X direction copied English, say) would teach the wrong thing, so a
language identifier drops it; sources too short to judge are kept.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from training.data.records import DataError, Pair, read_pairs, write_pairs

SYNTHETIC = "synthetic"  # the origin column of these rows; the real origin and domain go into the group column
MIN_JUDGED_CHARS = 20

Translate = Callable[[list[str], str, str], list[str]]
Judge = Callable[[str, str], bool]  # (text, language) -> is it in that language


def identifier_judge(identifier: str, langs: Sequence[str]) -> Judge:
    """A language identifier of ``training.evaluate`` as a judge; texts it cannot judge pass."""
    from training.evaluate import language_judgements  # the evaluation's identifiers, loaded on first use

    ordered = sorted(langs)

    def judge(text: str, lang: str) -> bool:
        marks = language_judgements([text], lang, ordered, identifier)
        return marks is None or marks[0] is not True

    return judge


def sample_english_sides(
    train: Path, langs: Sequence[str], per_direction: int, seed: int = 1, weights: Mapping[str, float] | None = None
) -> dict[tuple[str, str], list[Pair]]:
    """For every zero-shot X->Y among ``langs``, up to ``per_direction`` en->Y training pairs, drawn apart for each X
    and across origins (Bible verses and catalog strings teach different registers): evenly, or in proportion to
    ``weights`` (origin -> weight; an origin left out is not drawn), so that a round can dwell on the origin whose
    zero-shot output still drifts off-target."""
    by_target: dict[str, dict[str, list[Pair]]] = defaultdict(lambda: defaultdict(list))
    for p in read_pairs(train):
        if p.src_lang == "en" and p.tgt_lang in langs and p.origin != SYNTHETIC and p.src.strip() != p.tgt.strip():
            by_target[p.tgt_lang][p.origin].append(p)
    found = {origin for origins in by_target.values() for origin in origins}
    if weights is not None and (unknown := sorted(set(weights) - found)):  # a misspelt origin would draw nothing
        raise DataError(f"{train}: no en->X pairs of origin {', '.join(unknown)} (it has: {', '.join(sorted(found))})")
    rng = random.Random(seed)
    chosen: dict[tuple[str, str], list[Pair]] = {}
    for y in sorted(by_target):
        origins = by_target[y]
        share = {o: 1.0 if weights is None else weights.get(o, 0.0) for o in sorted(origins)}
        rests = [sum(list(share.values())[i:]) for i in range(len(share))]  # the weight of this origin and those after
        for x in sorted(langs):
            if x in ("en", y):
                continue
            picked: list[Pair] = []
            for (origin, weight), rest in zip(share.items(), rests, strict=True):
                want = int((per_direction - len(picked)) * weight / rest) if rest else 0
                picked += rng.sample(origins[origin], min(want, len(origins[origin])))
            chosen[(x, y)] = picked
    return chosen


def synthesize(
    train: Path,
    out: Path,
    translate: Translate,
    langs: Sequence[str],
    per_direction: int,
    judge: Judge | None = None,
    seed: int = 1,
    weights: Mapping[str, float] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the synthetic pairs to ``out`` (the corpus's TSV format); per direction, how many were kept and how
    many dropped because their source was judged not to be in X."""
    counts: dict[str, dict[str, int]] = {}
    rows: list[Pair] = []
    for (x, y), pairs in sample_english_sides(train, langs, per_direction, seed, weights).items():
        sources = translate([p.src for p in pairs], "en", x) if pairs else []
        kept = dropped = 0
        for p, source in zip(pairs, sources, strict=True):
            judged = judge is not None and len(source) >= MIN_JUDGED_CHARS
            if not source.strip() or source.strip() == p.src.strip() or (judged and not judge(source, x)):
                dropped += 1
                continue
            rows.append(Pair(SYNTHETIC, f"{p.origin}:{p.group}", x, y, source, p.tgt))
            kept += 1
        counts[f"{x}-{y}"] = {"kept": kept, "dropped": dropped}
    write_pairs(out, rows)
    return counts
