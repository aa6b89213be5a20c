"""Capacity at equal hours: two or more fine-tuning runs of different sizes, compared on dev at the same minutes.

Why by minutes and not by steps: a deeper model takes longer per step, so equal steps would favour it. Issue 28 asks
for the choice between continuing the shipped model and a larger one "at equal hours". The runs train side by side
with one thread each, so both see the same machine; each dev evaluation is placed at the wall-clock minutes its
run had reached at that step (the trainer logs them every 20 steps; the evaluations fall on those steps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from training.trainer import read_history


def evaluations(run: Path) -> list[dict[str, float]]:
    """Each dev evaluation of ``run`` in order: step, minutes reached by then, mean chrF, everyday chrF."""
    rows: list[dict[str, float]] = []
    minutes = 0.0
    for entry in read_history(run):
        if "minutes" in entry:
            minutes = float(entry["minutes"])
        if "eval" in entry and (not rows or rows[-1]["step"] != entry["step"]):  # a stop re-evaluates its step
            scores = entry["eval"]
            row = {"step": int(entry["step"]), "minutes": round(minutes, 1), "chrf": scores["chrf"]}
            if "chrf_everyday" in scores:
                row["chrf_everyday"] = scores["chrf_everyday"]
            rows.append(row)
    return rows


def compare(runs: dict[str, Path], described: dict[str, str] | None = None, setup: str = "") -> dict[str, Any]:
    """Every run's evaluations, and each run's last one within the minutes all runs reached (equal hours)."""
    series = {name: evaluations(path) for name, path in runs.items()}
    reached = min((rows[-1]["minutes"] for rows in series.values() if rows), default=0.0)
    at_equal = {name: [r for r in rows if r["minutes"] <= reached][-1:] for name, rows in series.items()}
    return {
        "metric": "chrF on the dev split (greedy, PyTorch), at the wall-clock minutes each run had reached",
        "runs": {name: str(path) for name, path in runs.items()},
        "described": described or {},
        "setup": setup,
        "evaluations": series,
        "equal_minutes": reached,
        "at_equal_minutes": {name: rows[0] if rows else None for name, rows in at_equal.items()},
    }


def markdown(capacity: dict[str, Any]) -> list[str]:
    """The model card's table: each run's evaluations in time order, then the figures at equal minutes."""
    lines = ["| run | step | minutes | dev chrF, all sets | everyday sets |", "|---|---|---|---|---|"]
    rows = [(name, r) for name, series in capacity["evaluations"].items() for r in series]
    for name, r in sorted(rows, key=lambda item: (item[1]["minutes"], item[0])):
        lines.append(f"| {name} | {r['step']} | {r['minutes']} | {r['chrf']} | {r.get('chrf_everyday', '-')} |")
    described = [f"`{name}`: {text}" for name, text in capacity.get("described", {}).items()]
    equal = capacity["at_equal_minutes"]
    last = "; ".join(
        f"{name} {r['chrf']} / {r.get('chrf_everyday', '-')} (step {r['step']})" for name, r in equal.items() if r
    )
    setup = capacity.get("setup", "")
    return [
        f"{capacity['metric']}." + (f" {setup}" if setup else ""),
        *(["", "; ".join(described) + "."] if described else []),
        "",
        *lines,
        "",
        f"At {capacity['equal_minutes']} minutes, the time every run reached (all sets / everyday): {last}.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="NAME=FOLDER", help="a run, named")
    parser.add_argument("--describe", action="append", default=[], metavar="NAME=TEXT", help="what a run is")
    parser.add_argument("--setup", default="", help="how the runs trained (one sentence for the card)")
    parser.add_argument("--out", type=Path, required=True, help="the comparison's JSON (capacity.json)")
    args = parser.parse_args(argv)
    runs = {name: Path(folder) for name, folder in (r.split("=", 1) for r in args.run)}
    described = dict(d.split("=", 1) for d in args.describe)
    compared = compare(runs, described, args.setup)
    args.out.write_text(json.dumps(compared, indent=1) + "\n", encoding="utf-8")
    print("\n".join(markdown(compared)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
