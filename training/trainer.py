"""The one training loop shared by pretraining, fine-tuning and adaptation: read it top to bottom.

Each step draws sub-batches, one per sampled language pair (or language, when pretraining), and the step's loss is
their sum, ``L = sum_pairs l_pair``, each ``l_pair`` the mean token loss of that pair's sub-batch. Runs are
resumable: ``state.pt`` (model, optimizer, step, elapsed time, RNG, history) is written atomically every few
minutes, so an interrupted run loses minutes, not hours. The best dev checkpoint is kept in ``best/``, and the
TensorBoard curves in ``tensorboard/`` (``training.tensorboard_log``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from training.batching import Example, collate
from training.tensorboard_log import TrainingBoard

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    out: Path
    minutes: float = 60.0  # wall-clock budget; the run stops itself when it is spent (counted across resumes)
    max_steps: int = 10**9
    lr: float = 5e-4  # peak learning rate, reached after warmup, then inverse-sqrt decay
    warmup: int = 200
    cooldown: int = 0  # the last steps before max_steps, over which the rate falls linearly to zero (0: none)
    restart: int = 0  # a warm restart: warmup and inverse-sqrt decay count again from this step (0: from the start)
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    clip: float = 1.0
    save_every_s: float = 300.0  # checkpoint period: the most an interruption can lose
    eval_every: int = 300  # steps between dev evaluations
    seed: int = 1
    threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    tensorboard: Path | None = None  # folder of the TensorBoard event files (default OUT/tensorboard)


SubBatch = tuple[str, list[Example]]  # (pair name, examples)
Sampler = Callable[[random.Random], list[SubBatch]]
Evaluator = Callable[[nn.Module], dict[str, float]]


def pair_loss(model: nn.Module, batch: list[Example], pad: int, smoothing: float) -> torch.Tensor:
    t = collate(batch, pad)
    decoder_input_ids = decoder_inputs(model, t["labels"], pad)
    out = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"], decoder_input_ids=decoder_input_ids)
    logits = out.logits.view(-1, out.logits.size(-1))
    return nn.functional.cross_entropy(logits, t["labels"].view(-1), ignore_index=-100, label_smoothing=smoothing)


def decoder_inputs(model: nn.Module, labels: torch.Tensor, pad: int) -> torch.Tensor:
    """Teacher-forcing decoder input the way the model's family shifts labels (mBART rotates its last token);
    families without that hook (M2M100/NLLB) shift right behind ``decoder_start_token_id``."""
    prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)
    if prepare is not None:
        return prepare(labels=labels)  # type: ignore[no-any-return]
    shifted = labels.new_full(labels.shape, pad)
    shifted[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, pad)
    shifted[:, 0] = model.config.decoder_start_token_id  # type: ignore[union-attr]
    return shifted


def _lr(step: int, cfg: TrainConfig) -> float:
    """Warmup, inverse-sqrt decay, and an optional linear cooldown to zero at ``max_steps``: inverse-sqrt never
    settles, and ending a run at a rate of zero is the cheap way to take the weights to the bottom of the valley.
    A warm restart (``restart``) counts warmup and decay again from that step, so that a cooled-down run can learn
    again at a higher rate and cool down once more (Loshchilov & Hutter's SGDR)."""
    since = max(step - cfg.restart, 1)
    lr = cfg.lr * min(since / cfg.warmup, math.sqrt(cfg.warmup / since))
    if cfg.cooldown:
        lr *= min(1.0, max(0, cfg.max_steps - step + 1) / cfg.cooldown)
    return lr


def _save_state(path: Path, state: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_history(out: Path) -> list[dict[str, Any]]:
    """A run's history: from ``summary.json`` once it has stopped, from ``state.pt`` while it is still going."""
    summary = out / "summary.json"
    if summary.exists():
        return list(json.loads(summary.read_text(encoding="utf-8"))["history"])
    return list(torch.load(out / "state.pt", weights_only=False)["history"])


def train(
    model: nn.Module,
    sampler: Sampler,
    cfg: TrainConfig,
    pad: int,
    evaluate: Evaluator | None = None,
    resume: bool = False,
    save_model: Callable[[nn.Module, Path], None] | None = None,
) -> dict[str, object]:
    """Train until the step or time budget is spent; returns the run summary (also in ``summary.json``)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    cfg.out.mkdir(parents=True, exist_ok=True)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
    rng = random.Random(cfg.seed)
    step, elapsed, history, best = 0, 0.0, [], -1.0
    state_path = cfg.out / "state.pt"
    if resume and state_path.exists():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        step, elapsed, history, best = state["step"], state["elapsed"], state["history"], state["best"]
        rng.setstate(state["rng"])
        log.info("resumed %s at step %d (%.1f min spent)", cfg.out, step, elapsed / 60)
    save = save_model or (lambda m, p: m.save_pretrained(p))  # type: ignore[operator]
    board = TrainingBoard(cfg.tensorboard or cfg.out / "tensorboard", purge_step=step + 1 if step else None)

    def checkpoint() -> None:
        _save_state(
            state_path,
            {
                "model": model.state_dict(),
                "optim": optim.state_dict(),
                "step": step,
                "elapsed": elapsed,
                "history": history,
                "best": best,
                "rng": rng.getstate(),
                "config": {k: str(v) for k, v in asdict(cfg).items()},
            },
        )

    def run_eval() -> None:
        nonlocal best
        if evaluate is None:
            return
        model.eval()
        with torch.no_grad():
            scores = evaluate(model)
        model.train()
        history.append({"step": step, "eval": scores})
        board.evaluation(step, scores)
        score = scores.get("chrf", -scores.get("loss", 0.0))
        log.info("step %d dev %s", step, json.dumps(scores))
        if score > best:
            best = score
            save(model, cfg.out / "best")

    model.train()
    budget = cfg.minutes * 60
    stop = _StopFlag()
    started, last_save = time.monotonic() - elapsed, time.monotonic()
    bar = tqdm(total=int(budget), initial=int(elapsed), unit="s", desc=cfg.out.name, mininterval=10)
    while step < cfg.max_steps and elapsed < budget and not stop.requested:
        step_started, tokens = time.monotonic(), 0
        for group in optim.param_groups:
            group["lr"] = _lr(step + 1, cfg)
        optim.zero_grad(set_to_none=True)
        losses: dict[str, float] = {}
        for name, batch in sampler(rng):
            loss = pair_loss(model, batch, pad, cfg.label_smoothing)
            loss.backward()  # gradients add up across pairs: the step's loss is the sum of per-pair losses
            losses[name] = losses.get(name, 0.0) + loss.item()
            tokens += sum(len(e.source) + len(e.target) for e in batch)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optim.step()
        step += 1
        now = time.monotonic()
        elapsed = now - started
        bar.n = int(elapsed)
        board.step(step, losses, optim.param_groups[0]["lr"], tokens, now - step_started)
        if step % 20 == 0:
            history.append({"step": step, "loss": sum(losses.values()), "pairs": losses, "minutes": elapsed / 60})
            bar.set_postfix(step=step, loss=f"{sum(losses.values()) / max(len(losses), 1):.3f}")
        if cfg.eval_every and step % cfg.eval_every == 0:
            run_eval()
        if now - last_save > cfg.save_every_s:
            checkpoint()
            last_save = now
    bar.close()
    stop.restore()
    run_eval()
    board.close()
    checkpoint()
    save(model, cfg.out / "last")
    if evaluate is None:
        save(model, cfg.out / "best")
    summary = {"steps": step, "minutes": round(elapsed / 60, 2), "best_dev": best, "history": history}
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    plot_curve(history, cfg.out / "training_curve.png")
    return summary


class _StopFlag:
    """SIGTERM/SIGINT end the run at the next step boundary, with the usual final eval and checkpoint, so a
    stopped run can be resumed with other settings (threads, minutes) without losing the steps since the last save."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._request)
        except ValueError:  # not the main thread: keep the default handlers
            self._previous = {}

    def _request(self, signum: int, frame: object) -> None:
        log.warning("signal %d: stopping after this step", signum)
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def plot_curve(history: list[dict[str, object]], path: Path) -> None:
    """Loss and dev chrF against steps: the first thing to look at when a run went wrong."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history if "loss" in h]
    loss = [h["loss"] for h in history if "loss" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, label="train loss (sum over pairs)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    evals = [(h["step"], h["eval"]) for h in history if "eval" in h]
    if evals and any("chrf" in e for _, e in evals):
        ax2 = ax.twinx()
        ax2.plot(
            [s for s, _ in evals],
            [e.get("chrf", 0) for _, e in evals],
            "o-",
            color="tab:red",
            label="dev chrF",
        )
        ax2.set_ylabel("dev chrF")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
