"""Two training tools of the everyday-data work: ``<bt>`` added to a trained vocabulary and checkpoint without
changing what the model does, and data groups drawn their own share of the time."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.batching import Example  # noqa: E402
from training.sampling import PairSampler  # noqa: E402


def test_bt_is_added_after_the_last_piece_and_the_model_translates_as_before(tmp_path: Path) -> None:
    import sentencepiece as spm
    from transformers import MarianMTModel

    from tests.tiny_model import build_tiny_model
    from training.vocab_extend import NEVER, main

    build_tiny_model(tmp_path / "engine", tmp_path / "work")
    sp_in = tmp_path / "work" / "sentencepiece.model"
    old = spm.SentencePieceProcessor(model_file=str(sp_in)).get_piece_size()
    out = tmp_path / "extended"
    checkpoint = tmp_path / "work" / "checkpoint"
    assert main(["--checkpoint", str(checkpoint), "--tokenizer", str(sp_in), "--out", str(out)]) == 0

    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.model"))
    assert sp.get_piece_size() == old + 1 and sp.id_to_piece(old) == "<bt>"
    assert sp.encode("<bt> the house", out_type=str)[:2] == ["▁", "<bt>"]  # one piece, as corpus.py prepends it
    before = MarianMTModel.from_pretrained(checkpoint).eval()
    after = MarianMTModel.from_pretrained(out).eval()
    assert after.config.pad_token_id == after.config.decoder_start_token_id == old + 1
    assert after.final_logits_bias[0, old].item() == NEVER
    ids = torch.tensor([[*sp.encode("the house is small")[:8], 0]])
    with torch.no_grad():
        a = before(input_ids=ids, decoder_input_ids=torch.tensor([[old, 3]])).logits[0, -1]
        b = after(input_ids=ids, decoder_input_ids=torch.tensor([[old + 1, 3]])).logits[0, -1]
    assert torch.allclose(a[:old], b[:old], atol=1e-5)  # the same next-piece scores for every old piece
    assert b[old] < a.min() - 1000  # <bt> is never written

    # Run again on the extended one: nothing to add, nothing changes.
    again = tmp_path / "again"
    assert main(["--checkpoint", str(out), "--tokenizer", str(out / "sentencepiece.model"), "--out", str(again)]) == 0
    assert spm.SentencePieceProcessor(model_file=str(again / "sentencepiece.model")).get_piece_size() == old + 1


def _examples(n: int, pair: int) -> list[Example]:
    return [Example([5, 6, 0], [3, 7, 0], pair) for _ in range(n)]


def test_a_group_is_drawn_its_share_whatever_its_size() -> None:
    base = {("en", "de"): _examples(5000, 0), ("de", "en"): _examples(5000, 1)}
    group = {("en", "de", "teacher"): _examples(50, 2)}
    sampler = PairSampler(base, 100, 4, temperature=5.0, seed=0, more=[(group, 0.4)])
    rng = random.Random(0)
    labels = [label for _ in range(3000) for label, _ in sampler(rng)]
    share = sum(label == "en-de-teacher" for label in labels) / len(labels)
    assert 0.37 < share < 0.43  # by size alone (T=5) it would be ~0.17


def test_groups_that_ask_for_more_than_everything_are_refused() -> None:
    base = {("en", "de"): _examples(10, 0)}
    with pytest.raises(ValueError, match=r"add up to 1\.20"):
        PairSampler(base, 100, 4, more=[({("x", "y"): _examples(5, 1)}, 0.6), ({("y", "x"): _examples(5, 2)}, 0.6)])
    with pytest.raises(ValueError, match="pairs in two groups"):
        PairSampler(base, 100, 4, more=[({("en", "de"): _examples(5, 1)}, 0.5)])
