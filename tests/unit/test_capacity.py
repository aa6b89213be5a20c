"""Capacity at equal hours (training.capacity): runs of different speeds compared at the same minutes."""

from __future__ import annotations

import json
from pathlib import Path

from training.capacity import compare, evaluations, main, markdown


def _run(folder: Path, seconds_per_step: float, scores: dict[int, float]) -> Path:
    """A run folder as the trainer leaves it: a log entry every 20 steps with its minutes, and dev evaluations."""
    history: list[dict[str, object]] = []
    for step in range(20, max(scores) + 1, 20):
        history.append({"step": step, "loss": 1.0, "minutes": step * seconds_per_step / 60})
        if step in scores:
            history.append({"step": step, "eval": {"chrf": scores[step], "chrf_everyday": scores[step] - 5}})
    history.append(dict(history[-1]))  # the final evaluation after a stop repeats the last step's
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"steps": max(scores), "history": history}))
    return folder


def test_evaluations_carry_the_minutes_their_run_had_reached(tmp_path: Path) -> None:
    run = _run(tmp_path / "a", 3.0, {200: 30.0, 400: 31.0})
    assert evaluations(run) == [
        {"step": 200, "minutes": 10.0, "chrf": 30.0, "chrf_everyday": 25.0},
        {"step": 400, "minutes": 20.0, "chrf": 31.0, "chrf_everyday": 26.0},
    ]


def test_runs_are_compared_at_the_minutes_every_run_reached_not_at_equal_steps(tmp_path: Path) -> None:
    fast = _run(tmp_path / "same", 3.0, {200: 30.0, 400: 31.0, 600: 31.5})  # 10, 20, 30 minutes
    slow = _run(tmp_path / "grown", 6.0, {120: 29.0, 240: 32.0})  # 12, 24 minutes
    compared = compare({"same": fast, "grown": slow}, {"grown": "8+6 layers"}, "One thread each.")
    assert compared["equal_minutes"] == 24.0
    assert compared["at_equal_minutes"]["same"]["step"] == 400  # 30 minutes is past what the slow run reached
    assert compared["at_equal_minutes"]["grown"]["step"] == 240
    table = "\n".join(markdown(compared))
    assert "| same | 200 | 10.0 | 30.0 | 25.0 |\n| grown | 120 | 12.0 | 29.0 | 24.0 |" in table  # time order
    assert "At 24.0 minutes" in table and "same 31.0 / 26.0 (step 400); grown 32.0 / 27.0 (step 240)" in table
    assert "`grown`: 8+6 layers." in table and "had reached. One thread each." in table

    out = tmp_path / "capacity.json"
    assert main(["--run", f"same={fast}", "--run", f"grown={slow}", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["at_equal_minutes"]["grown"]["chrf"] == 32.0
