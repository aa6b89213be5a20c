"""Training tools of the everyday-data work: ``<bt>`` added to a trained vocabulary and checkpoint without
changing what the model does, a checkpoint moved onto a new vocabulary keeping its embeddings, and data groups
drawn their own share of the time."""

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


def test_characters_the_vocabulary_lacks_are_found_and_added_writable(tmp_path: Path) -> None:
    """``--unknown-from``: the corpus's Latin letters, punctuation and symbols read as ``<unk>`` (seen often enough;
    not other scripts, not the soft hyphen) become pieces of their own that the decoder may write."""
    import sentencepiece as spm
    from transformers import MarianMTModel

    from tests.tiny_model import build_tiny_model
    from training.vocab_extend import main, unknown_characters

    build_tiny_model(tmp_path / "engine", tmp_path / "work")
    sp_in, checkpoint = tmp_path / "work" / "sentencepiece.model", tmp_path / "work" / "checkpoint"
    corpus = tmp_path / "train.tsv"
    rows = ["gettext\t1\ten\tes\tThe house & the dog\t¡La casa és ÀÀ!"] * 3 + ["x\t1\ten\tde\tthe\t中\xad ¿"] * 3
    corpus.write_text("\n".join(rows) + "\n", encoding="utf-8")
    sp = spm.SentencePieceProcessor(model_file=str(sp_in))
    assert sp.unk_id() in sp.encode("¡")  # the tiny vocabulary knows only a few letters
    found = unknown_characters(corpus, sp_in, min_count=3)
    assert set(found) >= {"&", "¡", "À"} and found[0] == "À" and not set(found) & {"中", "\xad", "t", "h", " "}
    assert "é" not in unknown_characters(corpus, sp_in, min_count=4)  # seen 3 times: below the count

    out = tmp_path / "chars"
    argv = ["--checkpoint", str(checkpoint), "--tokenizer", str(sp_in), "--out", str(out)]
    assert main([*argv, "--unknown-from", str(corpus), "--min-count", "3"]) == 0
    extended = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.model"))
    assert extended.get_piece_size() == sp.get_piece_size() + len(found)
    assert extended.unk_id() not in extended.encode("¡La casa ÀÀ & the dog!")
    after = MarianMTModel.from_pretrained(out).eval()
    assert all(after.final_logits_bias[0, extended.piece_to_id(c)].item() == 0.0 for c in found)


def test_a_new_vocabulary_keeps_shared_rows_and_composes_new_ones_from_the_old_segmentation(tmp_path: Path) -> None:
    import sentencepiece as spm
    from transformers import MarianMTModel

    from tests.tiny_model import _train_sentencepiece, build_tiny_model
    from training.vocab_transfer import main, old_segmentation

    build_tiny_model(tmp_path / "engine", tmp_path / "work", vocab_size=70)
    old_path, checkpoint = tmp_path / "work" / "sentencepiece.model", tmp_path / "work" / "checkpoint"
    new_path = tmp_path / "sp200.model"
    _train_sentencepiece(new_path, 200)
    old, new = (spm.SentencePieceProcessor(model_file=str(p)) for p in (old_path, new_path))
    out = tmp_path / "moved"
    argv = ["--checkpoint", str(checkpoint), "--tokenizer", str(old_path), "--new-tokenizer", str(new_path)]
    assert main([*argv, "--out", str(out)]) == 0

    before = MarianMTModel.from_pretrained(checkpoint).eval()
    after = MarianMTModel.from_pretrained(out).eval()
    size = new.get_piece_size()
    assert (out / "sentencepiece.model").read_bytes() == new_path.read_bytes()
    assert after.config.pad_token_id == after.config.decoder_start_token_id == size
    assert after.get_input_embeddings().weight.shape[0] == after.final_logits_bias.shape[1] == size + 1
    w0, w1 = before.get_input_embeddings().weight, after.get_input_embeddings().weight
    assert torch.equal(w1[size], w0[old.get_piece_size()])  # the padding row, also the decoder's start
    shared = [i for i in range(size) if old.id_to_piece(old.piece_to_id(new.id_to_piece(i))) == new.id_to_piece(i)]
    fresh = [i for i in range(size) if i not in shared]
    assert len(shared) > 30 and len(fresh) > 30  # both cases are exercised
    for i in shared:
        assert torch.equal(w1[i], w0[old.piece_to_id(new.id_to_piece(i))])
    for i in fresh:
        parts = old_segmentation(old, new.id_to_piece(i))
        assert torch.allclose(w1[i], w0[parts].mean(dim=0))
        assert "".join(old.id_to_piece(p) for p in parts).lstrip("\u2581") == new.id_to_piece(i).lstrip("\u2581")

    # A sentence whose pieces are all shared reads the same to the encoder under either vocabulary.
    text = next(t for t in ("the house", "the", "a") if all(i in shared for i in new.encode(t)))
    a_ids, b_ids = [[old.piece_to_id(new.id_to_piece(i)) for i in new.encode(text)]], [new.encode(text)]
    with torch.no_grad():
        a = before.get_encoder()(input_ids=torch.tensor(a_ids)).last_hidden_state
        b = after.get_encoder()(input_ids=torch.tensor(b_ids)).last_hidden_state
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.equal(after.get_output_embeddings().weight, w1)  # the output layer stays tied


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
