"""``xlt train finetune``: every schedule flag reaches the trainer, with our checkpoints and with pretrained ones;
synthetic pairs reach ours and are refused for pretrained ones."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")

import training.finetune
from training.cli import main

SCHEDULE = ["--cooldown", "300", "--restart-at", "1000", "--lr", "2e-4", "--warmup", "100"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(name: str) -> Any:
        def fake(*args: object, **kwargs: Any) -> dict[str, object]:
            seen.append((name, kwargs))
            return {"steps": 0, "minutes": 0.0, "best_dev": None, "family": "marian"}

        return fake

    monkeypatch.setattr(training.finetune, "finetune", record("ours"))
    monkeypatch.setattr(training.finetune, "finetune_pretrained", record("pretrained"))
    return seen


@pytest.mark.parametrize(("extra", "which"), [([], "ours"), (["--pretrained", "some/checkpoint"], "pretrained")])
def test_schedule_flags_reach_the_trainer(extra: list[str], which: str, calls: list[Any]) -> None:
    assert main(["train", "finetune", *extra, *SCHEDULE]) == 0
    [(name, kwargs)] = calls
    assert name == which
    assert (kwargs["cooldown"], kwargs["restart"], kwargs["lr"], kwargs["warmup"]) == (300, 1000, 2e-4, 100)


@pytest.mark.parametrize("extra", [[], ["--pretrained", "some/checkpoint"]])
def test_without_lr_or_warmup_each_path_keeps_its_own_defaults(extra: list[str], calls: list[Any]) -> None:
    assert main(["train", "finetune", *extra]) == 0
    [(_, kwargs)] = calls
    assert "lr" not in kwargs and "warmup" not in kwargs
    assert (kwargs["cooldown"], kwargs["restart"]) == (0, 0)


def test_synthetic_pairs_reach_our_trainer_and_are_refused_for_a_pretrained_checkpoint(
    calls: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "finetune", "--synthetic", "syn.tsv", "--synthetic-share", "0.2"]) == 0
    [(_, kwargs)] = calls
    assert (str(kwargs["synthetic"]), kwargs["synthetic_share"]) == ("syn.tsv", 0.2)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "finetune", "--pretrained", "some/checkpoint", "--synthetic", "syn.tsv"])
    assert exit_.value.code == 2 and "--synthetic trains our own checkpoints only" in capsys.readouterr().err
    assert len(calls) == 1
