"""The architecture of our own models: a small Marian (post-norm Transformer, sinusoidal positions, tied
embeddings), chosen because CTranslate2 converts HF Marian checkpoints directly and opus-mt users already know it.

Sizes come from ``../shared/MEASURED.md``: on 2 CPU cores a ~10M-parameter model sees ~4M target tokens an hour,
so the model is small and the vocabulary (8k, shared by all languages) smaller still.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sentencepiece as spm
from transformers import MarianConfig, MarianMTModel


@dataclass(frozen=True)
class Architecture:
    d_model: int = 256  # width: 256 keeps a step ~3 s on two cores
    encoder_layers: int = 4  # encoder depth is cheap at inference (run once per sentence)
    decoder_layers: int = 3  # decoder depth costs at every generated token
    attention_heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_positions: int = 512

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


def vocab_size_with_pad(sp: spm.SentencePieceProcessor) -> int:
    return sp.get_piece_size() + 1  # <pad> is appended after the last piece (opus-mt layout)


def build_model(sp: spm.SentencePieceProcessor, arch: Architecture) -> MarianMTModel:
    pad = sp.get_piece_size()
    config = MarianConfig(
        vocab_size=vocab_size_with_pad(sp),
        decoder_vocab_size=vocab_size_with_pad(sp),
        d_model=arch.d_model,
        encoder_layers=arch.encoder_layers,
        decoder_layers=arch.decoder_layers,
        encoder_attention_heads=arch.attention_heads,
        decoder_attention_heads=arch.attention_heads,
        encoder_ffn_dim=arch.ffn_dim,
        decoder_ffn_dim=arch.ffn_dim,
        dropout=arch.dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        activation_function="swish",
        max_position_embeddings=arch.max_positions,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        max_length=256,
        num_beams=1,
    )
    return MarianMTModel(config)
