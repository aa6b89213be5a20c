"""Tiny random checkpoints of the pretrained families we support (opus-mt Marian, M2M100, mBART-50), built
from ``transformers`` config classes and a tiny SentencePiece model: the pretrained-checkpoint path of
fine-tuning and conversion is tested without downloading anything."""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

WORDS = [
    "the",
    "house",
    "is",
    "small",
    "and",
    "green",
    "das",
    "haus",
    "ist",
    "klein",
    "und",
    "grün",
    "la",
    "maison",
    "est",
    "petite",
    "et",
    "verte",
]
SIZES = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 256,
}


def _spm(path: Path, user_symbols: tuple[str, ...] = ()) -> None:
    import sentencepiece as spm

    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(300)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=80,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
        user_defined_symbols=list(user_symbols),
        num_threads=1,
    )
    path.write_bytes(model.getvalue())


def _fit_vocab(config_cls, model_cls, tokenizer, **kwargs):
    """A model whose vocabulary size is the one CTranslate2's converter derives from the tokenizer."""
    from ctranslate2.converters.transformers import _MODEL_LOADERS

    from training.convert import _LanguageTokens

    config = config_cls(vocab_size=len(tokenizer), **SIZES, **kwargs)
    loader = _MODEL_LOADERS[config_cls.__name__]
    view = _LanguageTokens(tokenizer) if getattr(tokenizer, "lang_token_to_id", None) else tokenizer
    size = len(loader.get_vocabulary(model_cls(config), view))
    if config_cls.__name__ == "MarianConfig":
        size += 1  # the converter drops Marian's trailing <pad> row
    config = config_cls(vocab_size=size, **SIZES, **kwargs)
    return model_cls(config)


def build(family: str, out: Path) -> Path:
    import sentencepiece as spm
    import torch

    torch.manual_seed(0)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if family == "marian":  # multilingual opus-mt style: >>deu<< tokens in front of the source
        from transformers import MarianConfig, MarianMTModel, MarianTokenizer

        _spm(out / "source.spm", (">>deu<<", ">>fra<<", ">>eng<<"))
        shutil.copyfile(out / "source.spm", out / "target.spm")
        sp = spm.SentencePieceProcessor(model_file=str(out / "source.spm"))
        vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
        vocab["</s>"], vocab["<pad>"] = vocab.get("</s>", len(vocab)), len(vocab)
        (out / "vocab.json").write_text(json.dumps(vocab))
        tok = MarianTokenizer(
            str(out / "source.spm"),
            str(out / "target.spm"),
            str(out / "vocab.json"),
            source_lang="en",
            target_lang="mul",
        )
        model = _fit_vocab(
            MarianConfig,
            MarianMTModel,
            tok,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.pad_token_id,
        )
    elif family == "m2m100":
        from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

        _spm(out / "sentencepiece.bpe.model")
        sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
        (out / "vocab.json").write_text(json.dumps(vocab))
        tok = M2M100Tokenizer(str(out / "vocab.json"), str(out / "sentencepiece.bpe.model"))
        model = _fit_vocab(
            M2M100Config,
            M2M100ForConditionalGeneration,
            tok,
            pad_token_id=1,
            eos_token_id=2,
            bos_token_id=0,
            decoder_start_token_id=2,
        )
    elif family == "mbart":
        from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

        _spm(out / "sentencepiece.bpe.model")
        sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
        # The fast mBART-50 tokenizer adds fairseq's <s> <pad> </s> <unk> itself: give it the raw pieces.
        pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
        tok = MBart50Tokenizer(vocab=pieces, src_lang="en_XX", tgt_lang="de_DE")
        model = _fit_vocab(
            MBartConfig,
            MBartForConditionalGeneration,
            tok,
            normalize_before=True,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            bos_token_id=0,
            decoder_start_token_id=tok.eos_token_id,
        )
    else:
        raise ValueError(family)
    model.eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out
