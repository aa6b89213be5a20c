"""Synthetic X->Y pairs: the en->X output of an en->Y pair's English side, beside its real Y text; sources the
identifier puts in another language, copies and empty outputs are dropped; the sampler draws them at a fixed share."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from training.data.records import DataError, Pair, read_pairs, write_pairs
from training.data.synthetic import SYNTHETIC, sample_english_sides, synthesize

pytest.importorskip("torch")  # the sampler's examples and batches are tensors' inputs

from training.batching import Example
from training.sampling import PairSampler

LANGS = ["de", "en", "fr"]


def _corpus(path: Path) -> Path:
    pairs = [Pair("bible", "57", "en", lang, f"Verse {i} in English.", f"Vers {i} {lang}") for i in range(6)
             for lang in ("de", "fr")]  # fmt: skip
    pairs += [Pair("gettext", "tool", "en", lang, f"Open file {i}", f"{lang} file {i}") for i in range(6)
              for lang in ("de", "fr")]  # fmt: skip
    pairs += [Pair("gettext", "tool", "en", "de", "OK", "OK")]  # a copy teaches nothing: never drawn
    write_pairs(path, pairs)
    return path


def _fake_translate(texts: list[str], src: str, tgt: str) -> list[str]:
    """Stands in for the model's en->X direction: marks the text with its target; copies "Open file 0"."""
    assert src == "en"
    return [t if t == "Open file 0" else f"[{tgt}] {t}" for t in texts]


def test_only_zero_shot_directions_are_drawn_evenly_across_origins(tmp_path: Path) -> None:
    chosen = sample_english_sides(_corpus(tmp_path / "train.tsv"), LANGS, per_direction=4)
    assert set(chosen) == {("de", "fr"), ("fr", "de")}
    for (_x, y), pairs in chosen.items():
        assert len(pairs) == 4 and all(p.tgt_lang == y and p.src_lang == "en" for p in pairs)
        assert sorted(p.origin for p in pairs) == ["bible", "bible", "gettext", "gettext"]
        assert all(p.src != p.tgt for p in pairs)


def test_origin_weights_set_each_origin_s_share_and_leave_out_unnamed_origins(tmp_path: Path) -> None:
    train = _corpus(tmp_path / "train.tsv")
    for weights, origins in (({"gettext": 3.0, "bible": 1.0}, ["bible", "gettext", "gettext", "gettext"]),
                             ({"gettext": 1.0}, ["gettext"] * 4)):  # fmt: skip
        chosen = sample_english_sides(train, LANGS, per_direction=4, weights=weights)
        assert all(sorted(p.origin for p in pairs) == origins for pairs in chosen.values())
    with pytest.raises(DataError, match="no en->X pairs of origin gettxt"):  # misspelt: it would draw no catalog string
        sample_english_sides(train, LANGS, per_direction=4, weights={"gettxt": 3.0, "bible": 1.0})


@pytest.mark.parametrize("bad", ["gettext", "gettext=x", "gettext=-1", "gettext=nan", "gettext=0,bible=0", "a=1=2"])
def test_the_cli_refuses_bad_origin_weights(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    from training.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["data", "synthesize", "--model", "m", "--origin-weights", "gettext=3, bible=1"]
                             ).origin_weights == {"gettext": 3.0, "bible": 1.0}  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["data", "synthesize", "--model", "m", "--origin-weights", bad])
    assert exit_.value.code == 2 and "--origin-weights" in capsys.readouterr().err


def test_synthetic_pairs_keep_the_real_target_and_drop_bad_sources(tmp_path: Path) -> None:
    train, out = _corpus(tmp_path / "train.tsv"), tmp_path / "synthetic.tsv"

    def judge(text: str, lang: str) -> bool:  # says "Verse 3" is not in its language
        return "Verse 3" not in text

    counts = synthesize(train, out, _fake_translate, LANGS, per_direction=12, judge=judge)
    rows = list(read_pairs(out))
    english = {(p.tgt_lang, p.tgt): p.src for p in read_pairs(train)}
    assert rows and all(r.origin == SYNTHETIC for r in rows)
    for r in rows:
        assert (r.src_lang, r.tgt_lang) in {("de", "fr"), ("fr", "de")}
        assert r.src == f"[{r.src_lang}] {english[(r.tgt_lang, r.tgt)]}"  # en->X of the pair's English side
        assert r.group.split(":")[0] in ("bible", "gettext")
    assert not any("Verse 3" in r.src or "Open file 0" in r.src for r in rows)
    assert counts == {"de-fr": {"kept": 10, "dropped": 2}, "fr-de": {"kept": 10, "dropped": 2}}


def _examples(n: int, pair: int) -> list[Example]:
    return [Example([5, 6, 0], [7, 8, 0], pair) for _ in range(n)]


def test_the_sampler_draws_extra_pairs_at_their_share_and_refuses_a_pair_in_both() -> None:
    real = {("en", "de"): _examples(400, 0), ("de", "en"): _examples(400, 1)}
    extra = {("de", "fr"): _examples(5, 2), ("fr", "de"): _examples(5, 3)}
    sampler = PairSampler(real, 100, 4, 5.0, 0, extra, extra_share=0.2)  # type: ignore[arg-type]
    rng = random.Random(0)
    labels = [name for _ in range(2000) for name, _batch in sampler(rng)]
    share = sum(label in ("de-fr", "fr-de") for label in labels) / len(labels)
    assert 0.17 < share < 0.23  # by temperature over all four, the two small pairs would get ~0.29
    assert PairSampler(real, 100, 4).probs == pytest.approx([0.5, 0.5])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pairs in two groups"):
        PairSampler(real, 100, 4, extra={("en", "de"): _examples(1, 0)}, extra_share=0.1)  # type: ignore[arg-type]
