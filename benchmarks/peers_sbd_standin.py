"""A stand-in for LibreTranslate's sentence splitter model (MiniSBD), so that LibreTranslate translates offline.

Why: argostranslate 1.12 (LibreTranslate 1.9.6) splits every paragraph with MiniSBD, a character-level ONNX model
it downloads on first use (no network here: HTTP 500). An argos package may carry its own model in ``minisbd/``.
This one has no weights: per character, label 2 (end of sentence) where ``. ! ?`` (or ``。！？``) is followed by
whitespace, 0 elsewhere, the rule xlt's own splitter (``service/text.py``) uses, so both servers cut the same
sentences. MiniSBD reads the same inputs (``units``: character ids, ``features``) and metadata (``config``,
``vocab``) as from its real models. It costs LibreTranslate less than the real model would, which favours it.

Runs where ``onnx`` is installed (``benchmarks/peers.py`` keeps a venv of its own for it, because onnx needs
numpy 2 and LibreTranslate pins numpy 1):

    python benchmarks/peers_sbd_standin.py OUT.onnx
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ENDS = ".!?。！？"
SPACE = " "  # MiniSBD turns every whitespace character into a space before looking characters up
UNITS = ["<PAD>", "<UNK>", SPACE, *ENDS]  # every other character is <UNK>
LABELS = 5  # MiniSBD's classes: 0 inside a token, 1 token end, 2 sentence end, 3-4 multi-word tokens


def build() -> onnx.ModelProto:
    ids = {unit: i for i, unit in enumerate(UNITS)}
    is_end = np.zeros(len(UNITS), np.float32)
    is_end[[ids[c] for c in ENDS]] = 1.0
    is_space = np.zeros(len(UNITS), np.float32)
    is_space[ids[SPACE]] = 1.0
    # logits = base + flag * lift: argmax is 2 where the flag is set, 0 elsewhere
    base = np.array([1, 0, 0, 0, 0], np.float32)
    lift = np.array([0, 0, 2, 0, 0], np.float32)
    init = [
        numpy_helper.from_array(is_end, "is_end"),
        numpy_helper.from_array(is_space, "is_space"),
        numpy_helper.from_array(base, "base"),
        numpy_helper.from_array(lift, "lift"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2**62], np.int64), "end"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
    ]
    nodes = [
        helper.make_node("Gather", ["is_end", "units"], ["end_here"]),  # [B, T]
        helper.make_node("Gather", ["is_space", "units"], ["space_here"]),
        # space at t+1: drop column 0, append a zero column (the row's last character has no successor)
        helper.make_node("Slice", ["space_here", "one", "end", "one"], ["space_after"]),
        helper.make_node("Slice", ["space_here", "zero", "one", "one"], ["first_col"]),
        helper.make_node("Mul", ["first_col", "zero_f"], ["zero_col"]),
        helper.make_node("Concat", ["space_after", "zero_col"], ["space_next"], axis=1),
        helper.make_node("Mul", ["end_here", "space_next"], ["flag"]),
        helper.make_node("Unsqueeze", ["flag", "axis2"], ["flag3"]),
        helper.make_node("Mul", ["flag3", "lift"], ["lifted"]),
        helper.make_node("Add", ["lifted", "base"], ["logits"]),
    ]
    init.append(numpy_helper.from_array(np.array(0, np.float32), "zero_f"))
    graph = helper.make_graph(
        nodes,
        "sentence-punctuation-standin",
        [
            helper.make_tensor_value_info("units", TensorProto.INT64, ["batch", "chars"]),
            # MiniSBD always feeds its features (none with this config); the graph does not need them
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", "chars", "feats"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "chars", LABELS])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="xlt-benchmarks")
    model.ir_version = 8  # readable by any onnxruntime of the last years
    config = {"max_seqlen": 1000, "batch_size": 32, "feat_funcs": [], "use_dictionary": False, "num_dict_feat": 0}
    vocab = {"lang": "en", "idx": 0, "cutoff": 0, "lower": False, "_id2unit": UNITS, "_unit2id": ids}
    helper.set_model_props(
        model, {"lang_code": "en", "config": json.dumps(config), "vocab": json.dumps(vocab), "lexicon": "null"}
    )
    onnx.checker.check_model(model)
    return model


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), str(out))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
