"""The pretrained-checkpoint path: tiny random opus-mt, M2M100 and mBART-50 models go through ``finetune``
(same loop, summed per-pair loss) and ``convert`` (int8 + parity), then translate through the service engine."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch

from service.engines.base import DecodeOptions
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from tests import tiny_hf
from training.convert import convert_with_parity
from training.data.records import Pair, write_pairs
from training.finetune import finetune_pretrained


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("families")
    rows = [
        Pair("t", "g", "en", "de", "the house is small", "das haus ist klein"),
        Pair("t", "g", "en", "de", "the house is green", "das haus ist grün"),
        Pair("t", "g", "en", "fr", "the house is small", "la maison est petite"),
        Pair("t", "g", "en", "fr", "the house is green", "la maison est verte"),
    ] * 5
    write_pairs(root / "train.tsv", rows)
    write_pairs(root / "dev.tsv", rows[:4])
    return root


@pytest.mark.parametrize(("family", "expect_prefix"), [("marian", None), ("m2m100", "__en__"), ("mbart", "en_XX")])
def test_finetune_and_convert(family: str, expect_prefix: str | None, corpus: Path, tmp_path: Path) -> None:
    checkpoint = tiny_hf.build(family, tmp_path / "ckpt")
    summary = finetune_pretrained(
        checkpoint,
        corpus / "train.tsv",
        corpus / "dev.tsv",
        tmp_path / "ft",
        langs={"en", "de", "fr"},
        max_steps=2,
        eval_every=2,
        dev_per_direction=2,
        cooldown=2,
    )
    assert summary["steps"] == 2 and summary["family"] == family
    optim = torch.load(tmp_path / "ft" / "state.pt", weights_only=False)["optim"]
    assert optim["param_groups"][0]["lr"] == pytest.approx(5e-5 * 2 / 50 / 2)  # warmup's rate, halved by cooldown
    assert ("en", "de") in summary["trained_directions"]
    out = tmp_path / "engine"
    result = convert_with_parity(
        tmp_path / "ft" / "best",
        out,
        name=f"tiny-{family}",
        tokenizer=None,
        langs=["en", "de", "fr"],
        dev=corpus / "dev.tsv",
        max_delta=100.0,
    )
    assert "parity" in result
    manifest = Manifest.load(out)
    assert {"en", "de"} <= set(manifest.languages)
    assert ("en", "de") in {tuple(d) for d in manifest.trained_directions}
    engine = CTranslate2Engine(out, manifest)
    tokens = engine.tokenize("the house is small", "en", "de")
    if expect_prefix:
        assert tokens[0] == expect_prefix
    else:
        assert tokens[0] == ">>deu<<"  # opus-mt: the target token leads the source
    assert tokens[-1] == "</s>"
    (hyp,) = engine.translate_batch([tokens], ["de"], DecodeOptions(beam_size=1, max_length=5), 256)
    assert isinstance(engine.detokenize(hyp.tokens), str)
