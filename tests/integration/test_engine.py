"""The CTranslate2 engine on the tiny real model: tokens, target prefixes, mixed batches, scores."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from service.app import ctranslate2_loader
from service.engines.base import DecodeOptions
from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Manifest
from service.settings import Settings


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> CTranslate2Engine:
    folder = tiny_models_dir / "tiny"
    return CTranslate2Engine(folder, Manifest.load(folder), device="cpu", intra_threads=1)


def test_tokenize_appends_eos(engine: CTranslate2Engine) -> None:
    tokens = engine.tokenize("The house is small.")
    assert tokens[-1] == "</s>" and len(tokens) > 2


def test_one_batch_mixes_targets_and_strips_prefixes(engine: CTranslate2Engine) -> None:
    sources = [engine.tokenize("The house is small."), engine.tokenize("We see a dog.")]
    hyps = engine.translate_batch(sources, ["de", "fr"], DecodeOptions(beam_size=2, max_length=8), 1600)
    assert len(hyps) == 2
    for hyp in hyps:
        assert 0 < len(hyp.tokens) <= 8
        assert hyp.tokens[0] not in {"<2de>", "<2fr>"} and hyp.score is None
        assert isinstance(engine.detokenize(hyp.tokens), str)


def test_scores_on_request(engine: CTranslate2Engine) -> None:
    (hyp,) = engine.translate_batch(
        [engine.tokenize("Hello")], ["en"], DecodeOptions(beam_size=1, max_length=4, return_scores=True), 64
    )
    assert isinstance(hyp.score, float)


def test_alternative_hypotheses_on_request(engine: CTranslate2Engine) -> None:
    """The off-target guard's candidates: the beam's next-best hypotheses, prefix stripped, scored, and distinct."""
    sources = [engine.tokenize("The house is small."), engine.tokenize("We see a dog.")]
    options = DecodeOptions(beam_size=3, max_length=8, return_scores=True, num_hypotheses=3)
    for hyp in engine.translate_batch(sources, ["de", "fr"], options, 1600):
        assert len(hyp.alternatives) == 2 and not any(alt.alternatives for alt in hyp.alternatives)
        candidates = [hyp, *hyp.alternatives]
        assert all(c.tokens[:1] not in (["<2de>"], ["<2fr>"]) and isinstance(c.score, float) for c in candidates)
        assert len({tuple(c.tokens) for c in candidates}) == 3
        scores = [c.score for c in candidates if c.score is not None]
        assert scores == sorted(scores, reverse=True)
    (single,) = engine.translate_batch(sources[:1], ["de"], DecodeOptions(beam_size=3, max_length=8), 1600)
    assert single.alternatives == ()


def test_repetition_penalty_reaches_the_engine_and_defaults_to_the_manifest(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    """A random model loops; a strong penalty changes what it writes, and an engine whose manifest asks for that
    penalty uses it when the request leaves it unset."""
    import shutil

    folder = tmp_path / "penalised"
    shutil.copytree(tiny_models_dir / "tiny", folder)
    manifest = Manifest.load(folder)
    manifest.model_copy(update={"decoding": manifest.decoding.model_copy(update={"repetition_penalty": 3.0})}).save(
        folder
    )
    plain = CTranslate2Engine(tiny_models_dir / "tiny", Manifest.load(tiny_models_dir / "tiny"), intra_threads=1)
    penalised = CTranslate2Engine(folder, Manifest.load(folder), intra_threads=1)
    sources = [plain.tokenize(t) for t in ("The house is small.", "We see a dog.", "Hello")]

    def run(engine: CTranslate2Engine, penalty: float | None) -> list[list[str]]:
        options = DecodeOptions(beam_size=1, max_length=24, repetition_penalty=penalty)
        return [h.tokens for h in engine.translate_batch(sources, ["de"] * 3, options, 1600)]

    looping = run(plain, None)
    assert any(len(set(t)) < len(t) for t in looping)  # the random model repeats itself
    assert run(plain, 1.0) == looping
    assert run(plain, 3.0) != looping
    assert run(penalised, None) == run(plain, 3.0)


def test_detokenize_drops_control_tokens(engine: CTranslate2Engine) -> None:
    assert engine.detokenize(["<2de>", "▁the", "▁house", "</s>"]) == "the house"


def test_lengths_are_capped_by_the_position_table(engine: CTranslate2Engine) -> None:
    """max_length 256 + the target prefix would need position 256 of a 256-position model."""
    long_source = engine.tokenize(" ".join(["house"] * 400))
    (hyp,) = engine.translate_batch([long_source], ["de"], DecodeOptions(beam_size=1, max_length=256), 4096)
    assert len(hyp.tokens) <= 255


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is read from /proc on Linux")
def test_the_servers_loader_starts_engine_threads_at_lower_priority(tiny_models_dir: Path) -> None:
    """The threads CTranslate2 starts for a model (one per inter_threads) run at ``engine_nice``."""
    folder = tiny_models_dir / "tiny"
    tasks = Path("/proc/self/task")
    before = {int(t) for t in os.listdir(tasks)}
    settings = Settings(models_dir=tiny_models_dir, inter_threads=2, intra_threads=1, engine_nice=7, device="cpu")
    engine = ctranslate2_loader(settings)(folder, Manifest.load(folder))
    try:
        started = {int(t) for t in os.listdir(tasks)} - before
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert len(started) >= 2
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in started} == {min(19, base + 7)}
        (hyp,) = engine.translate_batch(
            [engine.tokenize("Hello")], ["de"], DecodeOptions(beam_size=1, max_length=4), 64
        )
        assert hyp.tokens
    finally:
        engine.close()


@pytest.mark.parametrize(("compute_type", "runs_as"), [("default", "int8_float32"), ("float32", "float32")])
def test_the_compute_type_setting_reaches_ctranslate2(tiny_models_dir: Path, compute_type: str, runs_as: str) -> None:
    folder = tiny_models_dir / "tiny"
    settings = Settings(device="cpu", compute_type=compute_type, inter_threads=1, intra_threads=1, engine_nice=0)
    engine = ctranslate2_loader(settings)(folder, Manifest.load(folder))
    try:
        assert engine._translator.compute_type == runs_as  # type: ignore[attr-defined]
        (hyp,) = engine.translate_batch(
            [engine.tokenize("Hello")], ["de"], DecodeOptions(beam_size=1, max_length=4), 64
        )
        assert hyp.tokens
    finally:
        engine.close()


def test_held_back_pieces_never_come_out_for_their_target_only(tiny_models_dir: Path, tmp_path: Path) -> None:
    """``decoding.suppressed_tokens``: the pieces held back for German stay out of German output, while French in
    the same batch decodes exactly as without them; a missing or path-like file name is refused."""
    import json
    import shutil

    from pydantic import ValidationError

    from service.engines.manifest import Decoding

    folder = tmp_path / "tiny"
    shutil.copytree(tiny_models_dir / "tiny", folder)
    plain = CTranslate2Engine(folder, Manifest.load(folder), intra_threads=1)
    sources = [plain.tokenize("The house is small."), plain.tokenize("We see a dog.")]
    options = DecodeOptions(beam_size=2, max_length=8)
    before = plain.translate_batch(sources, ["de", "fr"], options, 1600)
    held = sorted(set(before[0].tokens))
    (folder / "held.json").write_text(json.dumps({"tokens": {"de": held, "it": []}}), encoding="utf-8")
    manifest = Manifest.load(folder)
    manifest = manifest.model_copy(update={"decoding": Decoding(suppressed_tokens="held.json")})
    masked = CTranslate2Engine(folder, manifest, intra_threads=1)
    after = masked.translate_batch(sources, ["de", "fr"], options, 1600)
    assert after[0].tokens and not set(after[0].tokens) & set(held)
    assert after[1].tokens == before[1].tokens
    # Decoded through a vocabulary map (a Translator of its own for German only), it is exactly what masking the
    # pieces with CTranslate2's suppress_sequences gives (the unknown piece left out of both), scores included.
    assert set(masked._restricted) == {"de"}  # type: ignore[attr-defined]
    scored = DecodeOptions(beam_size=2, max_length=8, num_hypotheses=2, return_scores=True)
    mapped = masked.translate_batch(sources[:1], ["de"], scored, 1600)[0]
    (reference,) = masked._translator.translate_batch(  # type: ignore[attr-defined]
        sources[:1], target_prefix=[["<2de>"]], beam_size=2, num_hypotheses=2, return_scores=True,
        max_decoding_length=9, repetition_penalty=1.0, suppress_sequences=[[p] for p in held], disable_unk=True,
    )  # fmt: skip
    assert [mapped.tokens, *(h.tokens for h in mapped.alternatives)] == [h[1:] for h in reference.hypotheses]
    assert mapped.score == pytest.approx(reference.scores[0], abs=1e-4)
    masked.close()
    with pytest.raises(ValueError, match="suppressed_tokens"):
        CTranslate2Engine(folder, manifest.model_copy(update={"decoding": Decoding(suppressed_tokens="gone.json")}))
    with pytest.raises(ValidationError):
        Decoding(suppressed_tokens="../held.json")


def test_the_unknown_piece_never_comes_out(tmp_path: Path) -> None:
    """A model that favours ``<unk>`` (as xlt-base does for characters its vocabulary lacks: " ⁇ " in the text)
    still answers in real pieces, with and without held-back pieces; CTranslate2 itself would emit it."""
    import json

    import ctranslate2

    from service.engines.manifest import Decoding
    from tests.tiny_model import build_tiny_model

    folder = build_tiny_model(tmp_path / "unk", tmp_path / "work", logit_bias={1: 20.0})
    plain = CTranslate2Engine(folder, Manifest.load(folder), intra_threads=1)
    sources = [plain.tokenize("The house is small."), plain.tokenize("We see a dog.")]
    (raw,) = ctranslate2.Translator(str(folder), intra_threads=1).translate_batch(
        sources[:1], target_prefix=[["<2de>"]], beam_size=2, max_decoding_length=8
    )
    assert "<unk>" in raw.hypotheses[0]
    options = DecodeOptions(beam_size=2, max_length=8, num_hypotheses=2)
    (folder / "held.json").write_text(json.dumps({"tokens": {"de": ["▁the"]}}), encoding="utf-8")
    held = Manifest.load(folder).model_copy(update={"decoding": Decoding(suppressed_tokens="held.json")})
    for engine in (plain, CTranslate2Engine(folder, held, intra_threads=1)):
        for hyp in engine.translate_batch(sources, ["de", "fr"], options, 1600):
            for found in (hyp, *hyp.alternatives):
                assert found.tokens and "<unk>" not in found.tokens and "⁇" not in engine.detokenize(found.tokens)
        engine.close()
