"""``xlt eval``: BLEU and chrF per direction (supervised and zero-shot) and the off-target rate of an engine.

Test sets come from the corpus's held-out splits. X->Y sets (zero-shot for an English-centric model) are built by
joining en-X and en-Y rows on their shared English side within the same group (Bible book or catalog domain):
the Bible is verse-aligned, and a catalog's msgid is the same in every language.
"""

from __future__ import annotations

import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
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


# The origins a model's test figures take whole whatever ``max_per_set`` says: the hand-written everyday test is a
# few hundred short sentences a direction, cheap to translate, and the targets are set on all of it.
WHOLE_ORIGINS = frozenset({"everyday"})


def test_sets(
    path: Path, langs: Sequence[str], max_per_set: int | None = None, whole: Collection[str] = ()
) -> list[TestSet]:
    """Every direction's set per origin, capped at ``max_per_set`` sentences except the origins in ``whole``."""
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
                    if max_per_set is None or origin in whole or len(src) < max_per_set:
                        src.append(texts[s])
                        ref.append(texts[t])
    return [TestSet(o, s, t, src, ref) for (o, s, t), (src, ref) in sorted(sets.items())]


Candidates = Callable[[list[str], str, str, int], list[list[str]]]


def engine_candidates(
    folder: Path, beam_size: int = 4, max_batch_tokens: int = 2048, repetition_penalty: float | None = None
) -> Candidates:
    """One engine; per call ``(texts, src, tgt, num_hypotheses)``, each text's best ``num_hypotheses`` translations,
    best first. ``repetition_penalty`` None: the engine's own default, as the service decodes."""
    engine = CTranslate2Engine(folder, Manifest.load(folder), inter_threads=1, intra_threads=2)

    def candidates(texts: list[str], src: str, tgt: str, num_hypotheses: int) -> list[list[str]]:
        hyps = engine_hypotheses(
            engine, texts, src, tgt, beam_size, num_hypotheses, max_batch_tokens, repetition_penalty
        )
        return [[engine.detokenize(h.tokens) for h in (hyp, *hyp.alternatives)] for hyp in hyps]

    return candidates


def engine_hypotheses(
    engine: CTranslate2Engine,
    texts: list[str],
    src: str,
    tgt: str,
    beam_size: int,
    num_hypotheses: int = 1,
    max_batch_tokens: int = 2048,
    repetition_penalty: float | None = None,
) -> list[Hypothesis]:
    """Each text's hypotheses as the engine's pieces, in chunks of 64 texts (``engine_candidates`` detokenizes them;
    ``tune_decoding`` reads the pieces themselves)."""
    arch = engine.manifest.architecture
    positions = int(arch.get("max_position_embeddings") or arch.get("max_positions") or 512)
    sources = [engine.tokenize(t, src, tgt) for t in texts]
    hyps: list[Hypothesis] = []
    for start in range(0, len(sources), 64):
        chunk = sources[start : start + 64]
        # Bound the output by the input (2x + 10) so a looping hypothesis cannot run to the position limit.
        limit = min(positions - 2, 2 * max(len(s) for s in chunk) + 10)
        options = DecodeOptions(
            beam_size=beam_size,
            max_length=limit,
            repetition_penalty=repetition_penalty,
            num_hypotheses=num_hypotheses,
        )
        hyps += engine.translate_batch(chunk, [tgt] * len(chunk), options, max_batch_tokens)
    return hyps


def engine_translator(
    folder: Path, beam_size: int = 4, max_batch_tokens: int = 2048, repetition_penalty: float | None = None
) -> Translate:
    """The best translation of each text (see ``engine_candidates``)."""
    candidates = engine_candidates(folder, beam_size, max_batch_tokens, repetition_penalty)

    def translate(texts: list[str], src: str, tgt: str) -> list[str]:
        return [found[0] for found in candidates(texts, src, tgt, 1)]

    return translate


MIN_JUDGED_CHARS = 20  # shorter texts are not judged: a few words fool the identifier


# Language identifiers -> the suffix of their figures' keys: the service's own, and one it does not use.
IDENTIFIERS = {"langid": "", "lingua": "_lingua"}


@functools.cache
def _identify(identifier: str, langs: tuple[str, ...]) -> Callable[[str], str | None] | None:
    """A text -> language function among ``langs`` (None: unknown), or None when the package is missing.

    Why two: ``auto`` picks outputs with langid, so judging them with langid alone would grade the service with
    its own test; lingua (another method and model) gives an opinion the service never saw."""
    if identifier == "langid":
        try:
            import langid
        except ImportError:
            return None
        model = langid.langid.LanguageIdentifier.from_modelstring(langid.langid.model, norm_probs=True)
        model.set_languages(list(langs))
        return lambda text: str(model.classify(text)[0])
    if identifier == "lingua":
        try:
            from lingua import IsoCode639_1, LanguageDetectorBuilder
        except ImportError:
            return None
        detector = LanguageDetectorBuilder.from_iso_codes_639_1(*(IsoCode639_1.from_str(c) for c in langs)).build()

        def lingua_language(text: str) -> str | None:
            found = detector.detect_language_of(text)
            return None if found is None else str(found.iso_code_639_1.name.lower())

        return lingua_language
    raise ValueError(f"unknown language identifier {identifier!r} (known: {', '.join(IDENTIFIERS)})")


def language_judgements(
    texts: list[str], tgt: str, langs: Sequence[str], identifier: str = "langid"
) -> list[bool | None] | None:
    """Per text: True when ``identifier`` puts it in another of ``langs`` than ``tgt``, False when in ``tgt``,
    None when it is too short to judge (or the identifier cannot tell); None instead of a list when the
    identifier is not installed."""
    identify = _identify(identifier, tuple(langs))
    if identify is None:
        return None
    marks: list[bool | None] = []
    for text in texts:
        found = identify(text) if len(text) >= MIN_JUDGED_CHARS else None
        marks.append(None if found is None else found != tgt)
    return marks


def off_target_rate(
    hyps: list[str],
    tgt: str,
    langs: Sequence[str],
    only: Sequence[bool] | None = None,
    identifier: str = "langid",
) -> float | None:
    """Share of outputs a language identifier puts in another of the model's languages (None: no identifier).

    ``only`` limits the count to some items: those whose reference the identifier gets right, so that its own
    mistakes on short or unusual text (it calls some human references off-target too) are not charged to the
    model.
    """
    marks = language_judgements(hyps, tgt, langs, identifier)
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
    judges = IDENTIFIERS.items()
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
                **{f"off_target{x}": off_target_rate(hyps, ts.tgt_lang, langs, None, i) for i, x in judges},
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
    whole: Collection[str] = (),
) -> list[dict[str, object]]:
    """``directions``: only those sets (default all); ``whole``: origins not capped."""
    manifest = Manifest.load(folder)
    sets = test_sets(test_file, manifest.languages, max_per_set, whole)
    if directions is not None:
        sets = [s for s in sets if (s.src_lang, s.tgt_lang) in directions]
    trained = {(s, t) for s, t in manifest.trained_directions}
    results = evaluate(engine_translator(folder, beam_size), sets, trained, manifest.languages)
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results
