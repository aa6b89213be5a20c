"""The pretraining ablation compares two runs' dev scores at the steps both evaluated, and renders a table."""

from __future__ import annotations

import json
from pathlib import Path

from training.ablation import compare, markdown


def write_run(folder: Path, evals: dict[int, dict[str, float]]) -> Path:
    folder.mkdir(parents=True)
    history = [{"step": 20, "loss": 9.0}] + [{"step": s, "eval": e} for s, e in evals.items()]
    (folder / "summary.json").write_text(json.dumps({"history": history}), encoding="utf-8")
    return folder


def test_compares_at_equal_steps_only(tmp_path: Path) -> None:
    pre = write_run(tmp_path / "pre", {400: {"en-de": 8.0, "chrf": 8.0}, 800: {"en-de": 11.0, "chrf": 11.0}})
    scratch = write_run(tmp_path / "scratch", {400: {"en-de": 7.0, "chrf": 7.0}})
    result = compare(pre, scratch)
    assert list(result["steps"]) == ["400"]
    assert result["steps"]["400"] == {
        "pretrained": {"en-de": 8.0, "chrf": 8.0},
        "from_scratch": {"en-de": 7.0, "chrf": 7.0},
    }
    table = markdown(result)
    assert "| en-de | 8.0 | 7.0 |" in table and "| **mean** | 8.0 | 7.0 |" in table
    # The table names the two runs it compares: a model that continues an earlier one carries its ablation.
    assert f"(runs `{pre}` and `{scratch}`)" in table[0]
