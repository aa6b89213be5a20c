"""Deepen a trained checkpoint by stacking copies of its layers, keeping what it learned.

Why: issue 28 asks whether the everyday gap is one of capacity, and to decide it at equal hours against continuing
the shipped model. A deeper model trained from random weights would need days on two cores to reach the shipped
one's ~33 hours; one grown from it starts where it stands. Each new layer is a copy of a trained one (layer i of
the old stack becomes layers ``i * new // old`` onwards, so copies sit next to their original: progressive
stacking, Gong et al. 2019), and the embeddings, the output layer and the layer norms at either end are carried
unchanged. The grown model is not the same function (a post-norm layer applied twice is not applied once), so it
needs fine-tuning, which the comparison pays for within its hours.
"""

from __future__ import annotations

import argparse
import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from transformers import MarianMTModel


@dataclass(frozen=True)
class Growth:
    """Which old layer each new layer copies, per stack (for the log and the model card)."""

    encoder: list[int]
    decoder: list[int]


def layer_map(old: int, new: int) -> list[int]:
    """The old layer each of ``new`` layers copies: in order, each old layer used ``new // old`` or one more times."""
    if old < 1 or new < old:
        raise ValueError(f"can only grow a stack of {old} layers to as many or more, not {new}")
    return [i * old // new for i in range(new)]


def _stack(layers: nn.ModuleList, new: int) -> tuple[nn.ModuleList, list[int]]:
    sources = layer_map(len(layers), new)
    return nn.ModuleList(copy.deepcopy(layers[i]) for i in sources), sources


def grow(checkpoint: Path, out: Path, encoder_layers: int, decoder_layers: int) -> Growth:
    """Write ``checkpoint`` grown to the given depths (and its tokenizer files) to ``out``.

    Copies keep their original's attention-cache index in memory; the saved model is rebuilt from its config when
    loaded, which numbers every layer afresh (the test decodes with and without the cache to hold that).
    """
    model = MarianMTModel.from_pretrained(checkpoint).float()  # a shipped checkpoint/ is float16
    encoder, decoder = model.get_encoder(), model.get_decoder()
    encoder.layers, enc = _stack(encoder.layers, encoder_layers)
    decoder.layers, dec = _stack(decoder.layers, decoder_layers)
    model.config.encoder_layers, model.config.decoder_layers = encoder_layers, decoder_layers
    model.config.num_hidden_layers = encoder_layers
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for name in ("sentencepiece.model", "source.spm", "target.spm", "vocab.json", "tokenizer_config.json"):
        if (checkpoint / name).exists():
            shutil.copyfile(checkpoint / name, out / name)
    return Growth(encoder=enc, decoder=dec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a Marian checkpoint folder (ours)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the grown checkpoint")
    parser.add_argument("--encoder-layers", type=int, required=True)
    parser.add_argument("--decoder-layers", type=int, required=True)
    args = parser.parse_args(argv)
    done = grow(args.checkpoint, args.out, args.encoder_layers, args.decoder_layers)
    print(f"encoder layers from {done.encoder}, decoder layers from {done.decoder} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
