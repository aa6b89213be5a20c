"""A tiny run of the training loop leaves TensorBoard event files that TensorBoard's own reader reads back: the
summed loss and its per-pair terms, the learning rate, tokens/s, and dev chrF/BLEU per direction; a resumed run
drops what the interrupted one wrote after its last save."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("torch")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from transformers import MarianConfig, MarianMTModel  # noqa: E402

from training.batching import Example  # noqa: E402
from training.finetune import dev_scores  # noqa: E402
from training.tensorboard_log import TrainingBoard  # noqa: E402
from training.trainer import SubBatch, TrainConfig, train  # noqa: E402

PAD = 15


def _model() -> MarianMTModel:
    config = MarianConfig(
        vocab_size=16, decoder_vocab_size=16, d_model=8, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=1, decoder_attention_heads=1, encoder_ffn_dim=8, decoder_ffn_dim=8,
        max_position_embeddings=32, pad_token_id=PAD, eos_token_id=0, decoder_start_token_id=PAD,
    )  # fmt: skip
    return MarianMTModel(config)


def _sampler(rng: random.Random) -> list[SubBatch]:
    batch = [Example([3, 4, 5, 0], [6, 7, 0], 0), Example([8, 9, 0], [10, 11, 12, 0], 0)]
    return [("en-de", batch), ("de-en", batch[:1])]


def _scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_a_tiny_run_writes_loss_per_pair_lr_throughput_and_dev_scores(tmp_path: Path) -> None:
    def evaluate(model: object) -> dict[str, float]:
        return dev_scores(
            {("en", "de"): (["das Haus ist klein"], ["das Haus ist klein"]), ("de", "en"): (["a"], ["the house"])}
        )

    cfg = TrainConfig(out=tmp_path / "run", max_steps=3, warmup=2, eval_every=2, threads=1)
    train(_model(), _sampler, cfg, pad=PAD, evaluate=evaluate, save_model=lambda m, p: p.mkdir(exist_ok=True))
    scalars = _scalars(tmp_path / "run" / "tensorboard")
    assert {"loss/total", "loss/en-de", "loss/de-en", "lr", "throughput/tokens_per_s"} <= set(scalars)
    [(step, total)] = scalars["loss/total"]  # one window: the run's three steps
    [(_, en_de)] = scalars["loss/en-de"]
    [(_, de_en)] = scalars["loss/de-en"]
    assert step == 3 and total == pytest.approx(en_de + de_en, rel=1e-5) and total > 0
    assert scalars["lr"] == [(3, pytest.approx(cfg.lr * (2 / 3) ** 0.5))]
    assert scalars["throughput/tokens_per_s"][0][1] > 0
    # Dev scores at step 2 and at the end: chrF and BLEU per direction and their means.
    for tag in ("dev_chrf/en-de", "dev_chrf/de-en", "dev_bleu/en-de", "dev_bleu/de-en", "dev/chrf", "dev/bleu"):
        assert [s for s, _ in scalars[tag]] == [2, 3], tag
    assert scalars["dev_chrf/en-de"][0][1] == 100.0 and scalars["dev_chrf/de-en"][0][1] < 100.0
    assert scalars["dev_bleu/en-de"][0][1] == 100.0


def test_dev_scores_of_a_named_set_get_tags_of_their_own(tmp_path: Path) -> None:
    board = TrainingBoard(tmp_path)
    board.evaluation(5, {"en-de": 40.0, "everyday:en-de": 30.0, "everyday:bleu:en-de": 9.0, "chrf_everyday": 30.0})
    board.close()
    assert _scalars(tmp_path) == {
        "dev_chrf/en-de": [(5, 40.0)],
        "dev_chrf/everyday:en-de": [(5, 30.0)],
        "dev_bleu/everyday:en-de": [(5, 9.0)],
        "dev/chrf_everyday": [(5, 30.0)],
    }


def test_a_resumed_run_drops_the_events_written_after_the_last_save(tmp_path: Path) -> None:
    first = TrainingBoard(tmp_path, every=1)
    for step in (1, 2, 3, 4):
        first.step(step, {"en": float(step)}, lr=0.1, tokens=10, seconds=1.0)
    first.close()
    resumed = TrainingBoard(tmp_path, purge_step=3, every=1)  # the state saved at step 2
    resumed.step(3, {"en": 30.0}, lr=0.1, tokens=10, seconds=1.0)
    resumed.close()
    assert _scalars(tmp_path)["loss/en"] == [(1, 1.0), (2, 2.0), (3, 30.0)]
