"""Tokenized training examples per direction, built from the corpus TSV, shared by pretrain and finetune."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

from training.batching import Example, source_ids, target_ids
from training.data.records import BT_TAG, SYNTHETIC_SIDE, Pair, read_pairs
from training.retrieval import WordIndex
from training.tokenizer import lang_tag

EXAMPLE_OVERLAP = 0.3  # least word-set Jaccard of a retrieved training example (``xlt train finetune`` says it again)


@dataclass
class Vocab:
    sp: spm.SentencePieceProcessor

    @property
    def eos(self) -> int:
        return self.sp.piece_to_id("</s>")

    @property
    def pad(self) -> int:
        return self.sp.get_piece_size()

    def tag(self, lang: str) -> int:
        return self.sp.piece_to_id(lang_tag(lang))

    def sym(self, piece: str) -> int:
        return self.sp.piece_to_id(piece)

    def has(self, piece: str) -> bool:
        return self.sp.piece_to_id(piece) != self.sp.unk_id()

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts)


def load_vocab(path: Path) -> Vocab:
    return Vocab(spm.SentencePieceProcessor(model_file=str(path)))


def directions_of(pairs: Iterable[Pair]) -> list[tuple[str, str]]:
    """English-centric: every stored en-X pair trains en->X and X->en; X<->Y stay zero-shot on purpose."""
    out: set[tuple[str, str]] = set()
    for p in pairs:
        out.add((p.src_lang, p.tgt_lang))
        out.add((p.tgt_lang, p.src_lang))
    return sorted(out)


def build_examples(
    pairs: list[Pair],
    vocab: Vocab,
    *,
    augment: float = 0.0,
    seed: int = 0,
    max_examples: int = 2,
    min_overlap: float = EXAMPLE_OVERLAP,
) -> dict[tuple[str, str], list[Example]]:
    """Examples for both directions of every pair; a share ``augment`` gets 1-2 retrieved examples prepended.

    Neighbours are looked up among the training pairs of the same language pair, by English word-set Jaccard of at
    least ``min_overlap``, so the model learns to copy what fits from a similar translation and to ignore what does
    not. A higher ``min_overlap`` gives closer examples, nearer to what a memory's fuzzy matches bring.
    """
    rng = random.Random(seed)
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        by_lang[p.tgt_lang].append(i)
    en_ids = vocab.encode([p.src for p in pairs])
    x_ids = vocab.encode([p.tgt for p in pairs])
    ex, to, sep, eos = vocab.sym("<ex>"), vocab.sym("<to>"), vocab.sym("<sep>"), vocab.eos
    bt = _bt_tag(vocab, pairs)
    dirs = directions_of(pairs)
    index_of = {d: k for k, d in enumerate(dirs)}
    out: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for lang, members in by_lang.items():
        neighbours: dict[int, list[int]] = {}
        if augment > 0:
            chosen = [m for m in members if rng.random() < augment]
            index = WordIndex([pairs[m].src for m in members])
            local = {m: k for k, m in enumerate(members)}
            for m in chosen:
                found = index.neighbours(local[m], k=max_examples, min_overlap=min_overlap)
                if found:
                    neighbours[m] = [members[j] for j in found[: rng.randint(1, max_examples)]]
        for m in members:
            for forward in (True, False):
                src_lang, tgt_lang = ("en", lang) if forward else (lang, "en")
                s_ids, t_ids = (en_ids, x_ids) if forward else (x_ids, en_ids)
                shots = [(s_ids[n], t_ids[n]) for n in neighbours.get(m, [])]
                tagged = SYNTHETIC_SIDE.get(pairs[m].origin) == ("src" if forward else "tgt")
                out[(src_lang, tgt_lang)].append(
                    Example(
                        source_ids([bt, *s_ids[m]] if tagged else s_ids[m], eos, shots, ex=ex, to=to, sep=sep),
                        target_ids(vocab.tag(tgt_lang), t_ids[m], eos),
                        index_of[(src_lang, tgt_lang)],
                    )
                )
    return dict(out)


def _bt_tag(vocab: Vocab, pairs: list[Pair]) -> int:
    """The id of ``<bt>``, which marks a machine-made source side; -1 where no pair has one."""
    if not any(p.origin in SYNTHETIC_SIDE for p in pairs):
        return -1
    if not vocab.has(BT_TAG):
        raise ValueError(
            f"the corpus has machine-made sides ({', '.join(sorted(SYNTHETIC_SIDE))}) but the vocabulary has no "
            f"{BT_TAG} piece: add it with python -m training.vocab_extend"
        )
    return vocab.sym(BT_TAG)


def one_way_examples(pairs: list[Pair], vocab: Vocab, first_index: int = 0) -> dict[tuple[str, str], list[Example]]:
    """Examples read one way only, source -> target, without retrieved examples: for pairs whose source side is
    synthetic (``training.data.synthetic``), which would teach nonsense if read backwards."""
    src_ids, tgt_ids = vocab.encode([p.src for p in pairs]), vocab.encode([p.tgt for p in pairs])
    index_of = {d: first_index + k for k, d in enumerate(sorted({(p.src_lang, p.tgt_lang) for p in pairs}))}
    out: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for p, s, t in zip(pairs, src_ids, tgt_ids, strict=True):
        d = (p.src_lang, p.tgt_lang)
        out[d].append(Example(source_ids(s, vocab.eos), target_ids(vocab.tag(p.tgt_lang), t, vocab.eos), index_of[d]))
    return dict(out)


def oriented(pairs: Iterable[Pair], src: str, tgt: str) -> list[tuple[str, str]]:
    """(source, target) texts of the pairs between ``src`` and ``tgt``, turned to read ``src`` -> ``tgt``."""
    return [
        (p.src, p.tgt) if p.src_lang == src else (p.tgt, p.src) for p in pairs if {p.src_lang, p.tgt_lang} == {src, tgt}
    ]


def read_split(path: Path, langs: set[str] | None = None) -> list[Pair]:
    return [p for p in read_pairs(path) if langs is None or {p.src_lang, p.tgt_lang} <= langs]


def without_identical(pairs: list[Pair]) -> list[Pair]:
    """The pairs whose target is not their source (spaces aside). Why: a catalog string left as it was (an ISO
    name, an option, an untranslated message; 12% of the catalog pairs) teaches only copying, and copying the input
    is what the model's off-target outputs on catalog strings do. The corpus keeps them; fine-tuning may leave
    them out. (Leaving them out for the shipped model's last 2,100 steps did not lower its off-target rate.)"""
    return [p for p in pairs if p.src.strip() != p.tgt.strip()]
