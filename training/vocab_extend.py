"""Add symbols to a trained SentencePiece vocabulary and to a checkpoint's embeddings, keeping everything else.

Why: tagged back-translation needs a ``<bt>`` piece that the shipped model's vocabulary lacks, and retraining the
vocabulary would throw away ~26 hours of training. New pieces are appended after the last one; the padding row
(which Marian also uses as the decoder's start token) moves up by as many rows. The new pieces never appear in
the model's output: their output bias is set very low, and training never asks the decoder to write them.

Characters the vocabulary lacks are added the same way, but writable (output bias 0): a 16k vocabulary trained with
SentencePiece's default character coverage has no piece for "¡", "À", "€" or "–", so the model reads them as
``<unk>`` and can never write them (``unknown_characters`` finds them in a corpus; the next phase trains their rows).
"""

from __future__ import annotations

import argparse
import shutil
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from transformers import MarianMTModel

from training.data.records import read_pairs

NEVER = -1e4  # output bias of a piece that must not be written


def extend_tokenizer(spm_in: Path, spm_out: Path, symbols: Sequence[str]) -> list[str]:
    """Append ``symbols`` as user-defined pieces (those already there are skipped); returns the ones added."""
    proto = model_pb2.ModelProto()
    proto.ParseFromString(spm_in.read_bytes())
    have = {p.piece for p in proto.pieces}
    added = [s for s in symbols if s not in have]
    for symbol in added:
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = symbol, 0.0, model_pb2.ModelProto.SentencePiece.USER_DEFINED
    spm_out.parent.mkdir(parents=True, exist_ok=True)
    spm_out.write_bytes(proto.SerializeToString())
    return added


def extend_checkpoint(checkpoint: Path, out: Path, old_size: int, added: int, output_bias: float = NEVER) -> None:
    """Insert ``added`` rows before the padding row (id ``old_size``) of a tied Marian checkpoint, with output bias
    ``output_bias`` (a buffer, never trained: ``NEVER`` keeps a piece out of the output for good)."""
    model = MarianMTModel.from_pretrained(checkpoint).float()
    emb = model.get_input_embeddings().weight.data.clone()
    bias = model.final_logits_bias.data.clone()
    if emb.shape[0] != old_size + 1:
        raise ValueError(f"{checkpoint}: {emb.shape[0]} embedding rows, expected {old_size} pieces + padding")
    fresh = emb[:old_size].mean(dim=0, keepdim=True).repeat(added, 1)
    weight = torch.cat([emb[:old_size], fresh, emb[old_size:]])
    new_size = old_size + added + 1
    model.resize_token_embeddings(new_size, mean_resizing=False)
    model.get_input_embeddings().weight.data.copy_(weight)
    new_bias = torch.cat([bias[:, :old_size], torch.full((1, added), output_bias), bias[:, old_size:]], dim=1)
    model.register_buffer("final_logits_bias", new_bias)
    pad = old_size + added
    for key in ("pad_token_id", "decoder_start_token_id"):
        setattr(model.config, key, pad)
    model.config.vocab_size = model.config.decoder_vocab_size = new_size
    model.generation_config.pad_token_id = model.generation_config.decoder_start_token_id = pad
    model.tie_weights()
    model.save_pretrained(out)


def add_symbols(
    checkpoint: Path, tokenizer: Path, out: Path, symbols: Sequence[str], *, writable: bool = False
) -> tuple[list[str], int]:
    """``checkpoint`` and ``tokenizer`` with ``symbols`` added, written to ``out``; returns the ones added (none:
    ``out`` is a copy) and the size of the vocabulary before. ``writable``: the decoder may write them."""
    import sentencepiece as spm

    old_size = spm.SentencePieceProcessor(model_file=str(tokenizer)).get_piece_size()
    added = extend_tokenizer(tokenizer, out / "sentencepiece.model", symbols)
    if added:
        extend_checkpoint(checkpoint, out, old_size, len(added), 0.0 if writable else NEVER)
    else:
        shutil.copytree(checkpoint, out, dirs_exist_ok=True)
    return added, old_size


def _wanted(char: str) -> bool:
    """Latin letters, punctuation and symbols: the characters of our languages' text and of interface strings
    (not other scripts, IPA modifiers or invisible format characters such as the soft hyphen)."""
    category = unicodedata.category(char)
    if category[0] == "L":
        return unicodedata.name(char, "").startswith("LATIN ")
    return category[0] in "PS"


def unknown_characters(corpus: Path, tokenizer: Path, min_count: int) -> list[str]:
    """The characters of ``corpus`` (a corpus TSV, as ``xlt data build`` writes it) that ``tokenizer`` reads as
    ``<unk>``, seen ``min_count`` times or more, commonest first."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer))
    counts: Counter[str] = Counter()
    for pair in read_pairs(corpus):
        counts.update(pair.src)
        counts.update(pair.tgt)
    return [
        char for char, n in counts.most_common() if n >= min_count and _wanted(char) and sp.unk_id() in sp.encode(char)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a Marian checkpoint folder (ours)")
    parser.add_argument("--tokenizer", type=Path, required=True, help="its sentencepiece.model")
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoint and sentencepiece.model")
    parser.add_argument("--symbols", nargs="+", default=["<bt>"])
    parser.add_argument(
        "--unknown-from", type=Path, help="instead: the characters of this corpus TSV read as <unk>, writable"
    )
    parser.add_argument("--min-count", type=int, default=50, help="with --unknown-from: seen this often or more")
    args = parser.parse_args(argv)
    if args.unknown_from is not None:
        chars = unknown_characters(args.unknown_from, args.tokenizer, args.min_count)
        added, old_size = add_symbols(args.checkpoint, args.tokenizer, args.out, chars, writable=True)
    else:
        added, old_size = add_symbols(args.checkpoint, args.tokenizer, args.out, args.symbols)
    print(f"added {added} to {old_size} pieces -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
