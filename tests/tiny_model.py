"""Build a tiny real engine folder in seconds: SentencePiece + random-weight Marian, converted to int8.

Why: the integration tests and the benchmark smoke run must exercise the real path (SentencePiece, the real
CTranslate2 converter and ``Translator``, ``target_prefix``, ``</s>``) without downloading anything. Random
weights translate into garbage, so tests check behaviour, never quality. The id layout follows opus-mt
(``</s>`` = 0, ``<unk>`` = 1, ``<pad>`` appended last) because CTranslate2's Marian converter drops the last
vocabulary row as the pad. Conversion uses the project's own ``training.convert`` (the real
``TransformersConverter`` underneath). Imports torch, transformers and training lazily: only this builder
needs them.
"""

from __future__ import annotations

import io
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from service.engines.manifest import FewShotFormat, Manifest

LANGUAGES = ("en", "de", "fr")
TRAINED = (("en", "de"), ("de", "en"), ("en", "fr"), ("fr", "en"))
MAX_POSITIONS = 256
SYMBOLS = [f"<2{lang}>" for lang in LANGUAGES] + ["<ex>", "<to>", "<sep>"]

_SENTENCES = {
    "en": "the house is small and the garden is green we see a dog near the river today",
    "de": "das haus ist klein und der garten ist grün wir sehen einen hund am fluss heute",
    "fr": "la maison est petite et le jardin est vert nous voyons un chien près de la rivière",
}


def _corpus(lines_per_lang: int = 150, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for lang in LANGUAGES:
        words = _SENTENCES[lang].split()
        for _ in range(lines_per_lang):
            out.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))).capitalize() + ".")
    return out


def _train_sentencepiece(path: Path, vocab_size: int) -> None:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        user_defined_symbols=SYMBOLS,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


@dataclass(frozen=True)
class Size:
    d_model: int = 32
    layers: int = 1  # encoder and decoder each
    heads: int = 2
    ffn: int = 64


TINY = Size()
OPUS_MT = Size(d_model=512, layers=6, heads=8, ffn=2048)  # the shape of Helsinki-NLP opus-mt models
OPUS_MT_BIG = Size(d_model=1024, layers=6, heads=16, ffn=4096)  # opus-mt-tc-big (transformer-big)


def build_tiny_model(
    out_dir: Path,
    work_dir: Path,
    name: str = "tiny",
    vocab_size: int = 200,
    size: Size = TINY,
    sp_model: Path | None = None,
    logit_bias: dict[int, float] | None = None,
) -> Path:
    """Write a servable engine folder at ``out_dir`` (CTranslate2 int8 + sentencepiece.model + manifest).

    ``size`` and ``sp_model`` (a SentencePiece with ``<2en>``, ``<2de>``, ``<2fr>``, ``<ex>``, ``<to>``, ``<sep>``,
    eos 0, unk 1) make larger random engines for benchmarks: the engine's cost then matches a real model's.
    ``logit_bias`` (piece id -> bias on its output logit) makes the engine favour some pieces, as a trained model
    favours ``<unk>`` where its vocabulary lacks a character."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    from training.convert import convert_checkpoint, export_marian_tokenizer

    work_dir.mkdir(parents=True, exist_ok=True)
    sp_path = work_dir / "sentencepiece.model"
    if sp_model is None:
        _train_sentencepiece(sp_path, vocab_size)
    else:
        shutil.copyfile(sp_model, sp_path)
    import sentencepiece as spm

    pieces = spm.SentencePieceProcessor(model_file=str(sp_path)).get_piece_size()
    pad = pieces  # appended after the last piece (opus-mt layout)
    torch.manual_seed(0)
    config = MarianConfig(
        vocab_size=pieces + 1,
        decoder_vocab_size=pieces + 1,
        d_model=size.d_model,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.heads,
        decoder_attention_heads=size.heads,
        encoder_ffn_dim=size.ffn,
        decoder_ffn_dim=size.ffn,
        max_position_embeddings=MAX_POSITIONS,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
    )
    checkpoint = work_dir / "checkpoint"
    model = MarianMTModel(config).eval()
    for piece, bias in (logit_bias or {}).items():
        model.final_logits_bias[0, piece] = bias  # the converter carries it into the engine's output layer
    model.save_pretrained(checkpoint)
    export_marian_tokenizer(sp_path, checkpoint)
    manifest = Manifest(
        name=name,
        description="random-weight test model",
        languages=list(LANGUAGES),
        trained_directions=list(TRAINED),
        few_shot=FewShotFormat(),  # its SentencePiece has <ex>, <to>, <sep> as symbols
        architecture={
            "d_model": size.d_model,
            "encoder_layers": size.layers,
            "decoder_layers": size.layers,
            "max_positions": MAX_POSITIONS,
        },
    )
    return convert_checkpoint(checkpoint, out_dir, manifest, sp_model=sp_path, quantization="int8", force=True)
