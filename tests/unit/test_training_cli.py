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
            seen.append((name, {**kwargs, "_args": args}))
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


def test_the_corpus_folder_from_data_build_is_taken(calls: list[Any], tmp_path: Any) -> None:
    """``--corpus data/corpus`` (what ``xlt data build --out`` writes) means its train.tsv, and its dev.tsv."""
    for split in ("train", "dev"):
        (tmp_path / f"{split}.tsv").write_text("", encoding="utf-8")
    assert main(["train", "finetune", "--corpus", str(tmp_path)]) == 0
    [(_, kwargs)] = calls
    corpus, dev = kwargs["_args"][:2]
    assert (corpus, dev) == (tmp_path / "train.tsv", tmp_path / "dev.tsv")
    other = tmp_path / "other-dev.tsv"
    assert main(["train", "finetune", "--corpus", str(tmp_path), "--dev", str(other)]) == 0
    assert calls[1][1]["_args"][:2] == (tmp_path / "train.tsv", other)  # a --dev given is kept


def test_a_folder_without_the_split_is_a_clear_error(calls: list[Any], tmp_path: Any, capsys: Any) -> None:
    assert main(["train", "finetune", "--corpus", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is a folder without train.tsv" in err and "Traceback" not in err
    assert calls == []


def test_group_flag_reaches_the_trainer_and_bad_values_are_refused(calls: list[Any], capsys: Any) -> None:
    assert main(["train", "finetune", "--group", "teacher,freedict=0.4"]) == 0
    [(_, kwargs)] = calls
    assert (kwargs["group_origins"], kwargs["group_share"]) == (("freedict", "teacher"), 0.4)
    for bad in ("teacher", "teacher=1.5", "=0.3", "teacher=x"):
        with pytest.raises(SystemExit):
            main(["train", "finetune", "--group", bad])
    assert "expected ORIGIN,...=SHARE" in capsys.readouterr().err


def test_threads_reach_our_trainer(calls: list[Any]) -> None:
    """``--threads 1`` leaves a core to other work; without it the trainer picks (None)."""
    assert main(["train", "finetune", "--threads", "1"]) == 0
    assert main(["train", "finetune"]) == 0
    assert [kwargs["threads"] for _, kwargs in calls] == [1, None]
