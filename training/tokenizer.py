"""``xlt train tokenizer``: one SentencePiece vocabulary over every language, language tags as symbols.

Id layout follows opus-mt so the HF Marian checkpoint converts unchanged: ``</s>`` = 0, ``<unk>`` = 1, and the
``<pad>`` the Marian model needs is appended after the last piece (CTranslate2's converter drops it again).
"""

from __future__ import annotations

import io
import random
from collections import defaultdict
from pathlib import Path

import sentencepiece as spm

from training.data.records import BT_TAG, read_pairs

# Every unrestricted Bible language gets a tag now, so a later model can add languages without a new vocabulary.
TAG_LANGS = ("en", "de", "fr", "es", "it", "pt", "ar", "ru", "ko", "fa", "vi", "tl")
FEWSHOT_SYMBOLS = ("<ex>", "<to>", "<sep>")
MASK = "<mask>"


def lang_tag(lang: str) -> str:
    return f"<2{lang}>"


def special_symbols(langs: tuple[str, ...] = TAG_LANGS) -> list[str]:
    """Tags, few-shot markers, the denoising mask and the tagged back-translation mark, each one piece."""
    return [lang_tag(lang) for lang in langs] + [*FEWSHOT_SYMBOLS, MASK, BT_TAG]


def sample_sentences(corpus: Path, per_lang: int, seed: int = 0) -> list[str]:
    """A language-balanced sample, so the vocabulary is not all French and German."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for p in read_pairs(corpus):
        by_lang[p.src_lang].append(p.src)
        by_lang[p.tgt_lang].append(p.tgt)
    rng = random.Random(seed)
    out: list[str] = []
    for lang in sorted(by_lang):
        texts = sorted(set(by_lang[lang]))
        rng.shuffle(texts)
        out.extend(texts[:per_lang])
    return out


def train_tokenizer(
    corpus: Path, out: Path, vocab_size: int = 8000, per_lang: int = 60000, langs: tuple[str, ...] = TAG_LANGS
) -> Path:
    sentences = sample_sentences(corpus, per_lang)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=0.9999,
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        user_defined_symbols=special_symbols(langs),
        byte_fallback=False,
        hard_vocab_limit=False,  # tiny corpora (tests) cannot fill a large vocabulary
        num_threads=2,
        minloglevel=2,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model.getvalue())
    return out
