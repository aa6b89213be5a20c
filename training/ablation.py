"""The pretraining ablation: fine-tuning from the denoising-pretrained checkpoint vs from random weights.

Both runs use the same data, sampler, seed, learning-rate schedule and dev evaluation; only the initial weights
differ. They are compared at equal fine-tuning steps from the dev evaluations both runs record in their history
(``summary.json``), so the long run needs no extra checkpoints and the ablation run stops at ``steps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.finetune import finetune
from training.tensorboard_log import BLEU_PREFIX
from training.trainer import read_history


def dev_scores(run: Path) -> dict[int, dict[str, float]]:
    """Step -> dev scores (per direction and the mean ``chrf``) from a run's ``summary.json`` or ``state.pt``."""
    return {int(h["step"]): h["eval"] for h in read_history(run) if "eval" in h}


def compare(pretrained: Path, scratch: Path, dev_per_direction: int = 40) -> dict[str, Any]:
    """Dev chrF of both runs at every step where both were evaluated."""
    with_pre, without = dev_scores(pretrained), dev_scores(scratch)
    steps = sorted(set(with_pre) & set(without))
    return {
        "metric": f"chrF on the dev split ({dev_per_direction} sentences per direction, greedy, PyTorch)",
        "runs": {"pretrained": str(pretrained), "from_scratch": str(scratch)},
        "steps": {str(s): {"pretrained": with_pre[s], "from_scratch": without[s]} for s in steps},
    }


def run(corpus: Path, dev: Path, tokenizer: Path, work: Path, steps: int, **finetune_args: Any) -> Path:
    """Fine-tune from random weights for ``steps`` into ``work/ablation`` (resumable); ``compare`` reads it."""
    out = work / "ablation"
    finetune(corpus, dev, tokenizer, out, init=None, max_steps=steps, minutes=10**6, resume=True, **finetune_args)
    return out


def markdown(ablation: dict[str, Any]) -> list[str]:
    """The model card's table: one row per direction, pretrained vs from scratch at each compared step."""
    steps = list(ablation["steps"])
    if not steps:
        return ["No step at which both runs were evaluated."]
    scores = ablation["steps"][steps[0]]["pretrained"]
    directions = sorted(k for k in scores if "-" in k and BLEU_PREFIX not in k)  # chrF per direction
    head = " | ".join(f"pretrained @{s} | scratch @{s}" for s in steps)
    lines = [f"| direction | {head} |", "|---|" + "---|---|" * len(steps)]
    means = {"chrf": "**mean**", "chrf_everyday": "**mean, everyday sets**"}
    for d in [*directions, *(m for m in means if m in scores)]:
        cells = " | ".join(
            f"{ablation['steps'][s]['pretrained'].get(d, '')} | {ablation['steps'][s]['from_scratch'].get(d, '')}"
            for s in steps
        )
        lines.append(f"| {means.get(d, d)} | {cells} |")
    runs = ablation.get("runs") or {}
    compared = f" (runs `{runs['pretrained']}` and `{runs['from_scratch']}`)" if runs else ""
    return [f"{ablation['metric']}; equal fine-tuning steps{compared}.", "", *lines]
