"""TensorBoard curves of a training run, so that a run can be watched live and two runs compared
(``tensorboard --logdir runs/``); the PNG curve stays for the model card.

Tags: ``loss/total`` (the summed loss) and ``loss/<pair>`` (its terms), ``lr``, ``throughput/tokens_per_s``
(source + target tokens per second of the steps themselves, dev evaluations and checkpoints left out), and at each
dev evaluation ``dev_chrf/<direction>``, ``dev_bleu/<direction>`` and their means ``dev/chrf``, ``dev/bleu``.
Training scalars are means over a window of steps: one point per window keeps the files small over a long run and
the per-step noise out of the curves.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

BLEU_PREFIX = "bleu:"  # dev evaluators report a direction's BLEU as "bleu:<src>-<tgt>", beside its chrF "<src>-<tgt>"


class TrainingBoard:
    """Writes one run's scalars. A resumed run passes ``purge_step`` (the step after its saved state's): TensorBoard
    then drops the events that the interrupted run wrote after its last save, so the curves do not fork."""

    def __init__(self, logdir: Path, purge_step: int | None = None, every: int = 10) -> None:
        self.writer = SummaryWriter(str(logdir), purge_step=purge_step)
        self.every = every
        self._losses: dict[str, list[float]] = {}
        self._steps = 0
        self._tokens = 0
        self._seconds = 0.0
        self._lr, self._last = 0.0, 0

    def step(self, step: int, losses: dict[str, float], lr: float, tokens: int, seconds: float) -> None:
        """Record one optimizer step (``seconds`` it took); every ``every`` steps the window's means are written."""
        for name, value in losses.items():
            self._losses.setdefault(name, []).append(value)
        self._losses.setdefault("total", []).append(sum(losses.values()))
        self._steps += 1
        self._tokens += tokens
        self._seconds += seconds
        self._lr, self._last = lr, step
        if self._steps >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self._steps:
            return
        for name, values in self._losses.items():
            self.writer.add_scalar(f"loss/{name}", sum(values) / len(values), self._last)
        self.writer.add_scalar("lr", self._lr, self._last)
        self.writer.add_scalar("throughput/tokens_per_s", self._tokens / max(self._seconds, 1e-9), self._last)
        self._losses, self._steps, self._tokens, self._seconds = {}, 0, 0, 0.0
        self.writer.flush()

    def evaluation(self, step: int, scores: dict[str, float]) -> None:
        """Dev scores as the evaluators name them: ``en-de`` (chrF) and ``bleu:en-de`` per direction, maybe under a
        set's prefix (``everyday:en-de``, ``everyday:bleu:en-de``); other keys (means, a loss) go under ``dev/``."""
        for key, value in scores.items():
            parts = key.split(":")
            if "-" not in parts[-1]:
                tag = f"dev/{key}"
            elif BLEU_PREFIX[:-1] in parts[:-1]:
                tag = "dev_bleu/" + ":".join(p for p in parts if p != BLEU_PREFIX[:-1])
            else:
                tag = f"dev_chrf/{key}"
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.flush()
        self.writer.close()
