"""Per target language, the pieces a model's decoder may not produce: rare in that language's training text,
common in the other languages'.

Why: the small model's off-target output is made of other languages' pieces, both in zero-shot directions (a
French source half-copied into Portuguese) and in trained ones (English catalog terms left untranslated in
Spanish). Holding those pieces back when decoding into Y (CTranslate2's ``suppress_sequences``) leaves the model
the pieces Y's own text uses; a word it must copy (a name, an option) can still be spelt with shorter pieces.
How rare is rare is chosen on dev (``training.tune_decoding``), with "none" among the choices.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import sentencepiece as spm

from training.data.records import read_pairs

MIN_ELSEWHERE = 5  # a piece seen fewer times in the other languages says nothing about them either
FILE = "suppressed_tokens.json"


def token_counts(corpus: Path, sp_model: Path) -> dict[str, Counter[str]]:
    """Pieces per language over every side of ``corpus`` (each distinct text once, by its language)."""
    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    counts: dict[str, Counter[str]] = {}
    seen: set[tuple[str, str]] = set()
    for pair in read_pairs(corpus):
        for lang, text in ((pair.src_lang, pair.src), (pair.tgt_lang, pair.tgt)):
            if (lang, text) not in seen:
                seen.add((lang, text))
                counts.setdefault(lang, Counter()).update(sp.encode(text, out_type=str))
    return counts


def rare_tokens(
    counts: dict[str, Counter[str]], ratio: float, vocabulary: set[str], langs: list[str]
) -> dict[str, list[str]]:
    """For each of ``langs``: the ``vocabulary`` pieces whose rate in that language's text is below ``1/ratio`` of
    their rate in the other languages' text together (and seen ``MIN_ELSEWHERE`` times there), sorted."""
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    total_size = sum(total.values())
    out: dict[str, list[str]] = {}
    for lang in langs:
        mine = counts.get(lang, Counter())
        mine_size = sum(mine.values())
        own_size, other_size = max(mine_size, 1), max(total_size - mine_size, 1)
        elsewhere = ((piece, n - mine[piece]) for piece, n in total.items())
        out[lang] = sorted(
            piece
            for piece, n in elsewhere
            if piece in vocabulary and n >= MIN_ELSEWHERE and mine[piece] / own_size < n / other_size / ratio
        )
    return out


def write(folder: Path, tokens: dict[str, list[str]], ratio: float) -> str:
    """The file ``decoding.suppressed_tokens`` names; returns its name."""
    body = {"ratio": ratio, "min_elsewhere": MIN_ELSEWHERE, "tokens": tokens}
    (folder / FILE).write_text(json.dumps(body, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return FILE
