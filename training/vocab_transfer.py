"""Move a trained checkpoint onto a new SentencePiece vocabulary, keeping what its embeddings learned.

Why: the shipped vocabulary was built from Bible verses and interface strings, so everyday words break into
fragments ("coffee" -> co ff e e, about two pieces a word on the everyday dev set against 1.6 on the Bible), and the
model must learn each word as a sequence of pieces that mean nothing on their own. A vocabulary trained on the
everyday corpus has pieces for those words; training a model for it from scratch would throw away the ~30 hours the
shipped one holds. So the transformer body is kept, a piece both vocabularies share keeps its embedding, and a new
piece starts from the mean of the embeddings of the old pieces that the old vocabulary splits it into (fast
vocabulary transfer, Gee et al. 2022). Fine-tuning on the new segmentation then adapts the rest.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import MarianMTModel

WORD = "\u2581"  # SentencePiece's word-start mark


@dataclass(frozen=True)
class Transfer:
    """How the new vocabulary's pieces were initialised (for the log and the model card)."""

    pieces: int
    kept: int  # the same piece in both vocabularies: its row is copied
    composed: int  # a new piece: the mean of the rows of its old segmentation


def old_segmentation(old: spm.SentencePieceProcessor, piece: str) -> list[int]:
    """The old ids a new piece is made of; an in-word piece ("ffee") is split without the word-start mark."""
    same = old.piece_to_id(piece)
    if old.id_to_piece(same) == piece:
        return [same]
    text = piece.replace(WORD, " ")
    ids = [i for i in old.encode(text) if old.id_to_piece(i) != WORD]
    if not piece.startswith(WORD) and ids:
        first = old.id_to_piece(ids[0])
        inside = old.piece_to_id(first.removeprefix(WORD))
        if first.startswith(WORD) and old.id_to_piece(inside) == first.removeprefix(WORD):
            ids[0] = inside
    return ids or [old.unk_id()]


def transfer(checkpoint: Path, old_tokenizer: Path, new_tokenizer: Path, out: Path) -> Transfer:
    """Write ``checkpoint`` re-embedded for ``new_tokenizer`` (and that tokenizer) to ``out``.

    Rows are laid out as :mod:`training.tokenizer` does: the pieces, then the padding row Marian also uses as the
    decoder's start token. Embeddings are tied, so the output layer follows; the output bias is carried the same way.
    """
    old = spm.SentencePieceProcessor(model_file=str(old_tokenizer))
    new = spm.SentencePieceProcessor(model_file=str(new_tokenizer))
    model = MarianMTModel.from_pretrained(checkpoint).float()
    emb = model.get_input_embeddings().weight.data.clone()
    bias = model.final_logits_bias.data.clone()
    old_size, new_size = old.get_piece_size(), new.get_piece_size()
    if emb.shape[0] != old_size + 1:
        raise ValueError(f"{checkpoint}: {emb.shape[0]} embedding rows, expected {old_size} pieces + padding")
    rows, biases, kept = [], [], 0
    for i in range(new_size):
        ids = old_segmentation(old, new.id_to_piece(i))
        kept += len(ids) == 1 and old.id_to_piece(ids[0]) == new.id_to_piece(i)
        rows.append(emb[ids].mean(dim=0))
        biases.append(bias[0, ids].mean())
    rows.append(emb[old_size])  # padding / decoder start
    biases.append(bias[0, old_size])
    model.resize_token_embeddings(new_size + 1, mean_resizing=False)
    model.get_input_embeddings().weight.data.copy_(torch.stack(rows))
    model.register_buffer("final_logits_bias", torch.stack(biases).unsqueeze(0))
    for key in ("pad_token_id", "decoder_start_token_id"):
        setattr(model.config, key, new_size)
    model.config.vocab_size = model.config.decoder_vocab_size = new_size + 1
    model.generation_config.pad_token_id = model.generation_config.decoder_start_token_id = new_size
    model.tie_weights()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    shutil.copyfile(new_tokenizer, out / "sentencepiece.model")
    return Transfer(pieces=new_size, kept=kept, composed=new_size - kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a Marian checkpoint folder (ours)")
    parser.add_argument("--tokenizer", type=Path, required=True, help="its sentencepiece.model")
    parser.add_argument("--new-tokenizer", type=Path, required=True, help="from xlt train tokenizer")
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoint and sentencepiece.model")
    args = parser.parse_args(argv)
    done = transfer(args.checkpoint, args.tokenizer, args.new_tokenizer, args.out)
    print(f"{done.pieces} pieces: {done.kept} kept, {done.composed} composed from old pieces -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
