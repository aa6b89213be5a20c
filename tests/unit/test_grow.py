"""Growing a checkpoint's depth (training.grow): copies of trained layers, the rest carried unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def test_layer_map_uses_each_old_layer_in_order_next_to_its_copies() -> None:
    from training.grow import layer_map

    assert layer_map(4, 8) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert layer_map(3, 6) == [0, 0, 1, 1, 2, 2]
    assert layer_map(2, 3) == [0, 0, 1]
    assert layer_map(3, 3) == [0, 1, 2]
    with pytest.raises(ValueError, match="grow a stack of 4 layers"):
        layer_map(4, 3)


def test_a_grown_checkpoint_copies_trained_layers_and_still_decodes(tmp_path: Path) -> None:
    from transformers import MarianMTModel

    from tests.tiny_model import build_tiny_model
    from training.grow import main

    build_tiny_model(tmp_path / "engine", tmp_path / "work")
    checkpoint, out = tmp_path / "work" / "checkpoint", tmp_path / "grown"
    argv = ["--checkpoint", str(checkpoint), "--out", str(out)]
    before = MarianMTModel.from_pretrained(checkpoint).float().eval()
    old_enc, old_dec = before.config.encoder_layers, before.config.decoder_layers
    assert main([*argv, "--encoder-layers", str(2 * old_enc), "--decoder-layers", str(2 * old_dec + 1)]) == 0

    after = MarianMTModel.from_pretrained(out).eval()
    assert (after.config.encoder_layers, after.config.decoder_layers) == (2 * old_enc, 2 * old_dec + 1)
    assert len(after.get_encoder().layers) == 2 * old_enc
    assert len(after.get_decoder().layers) == 2 * old_dec + 1
    old_state, new_state = before.state_dict(), after.state_dict()
    for i in range(2 * old_enc):
        for key, value in before.get_encoder().layers[i // 2].state_dict().items():
            assert torch.equal(new_state[f"model.encoder.layers.{i}.{key}"], value)
    for name in ("model.shared.weight", "final_logits_bias", "model.decoder.embed_positions.weight"):
        assert torch.equal(new_state[name], old_state[name])
    assert (out / "source.spm").read_bytes() == (checkpoint / "source.spm").read_bytes()
    # The decoder's cache is indexed by layer: once loaded, each copy has its own slot, so cached decoding agrees.
    ids = torch.tensor([[5, 6, 7, 0]])
    with torch.no_grad():
        cached = after.generate(input_ids=ids, max_new_tokens=6, num_beams=1, do_sample=False)
        plain = after.generate(input_ids=ids, max_new_tokens=6, num_beams=1, do_sample=False, use_cache=False)
    assert torch.equal(cached, plain)
