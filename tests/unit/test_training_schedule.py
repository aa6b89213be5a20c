"""The trainer's learning rate: warmup, inverse-sqrt decay, and the optional linear cooldown to zero."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from training.trainer import TrainConfig, _lr


def config(**kw: int) -> TrainConfig:
    return TrainConfig(out=Path("unused"), lr=1e-3, warmup=100, **kw)


def test_warmup_then_inverse_sqrt() -> None:
    cfg = config()
    assert _lr(50, cfg) == pytest.approx(5e-4)
    assert _lr(100, cfg) == pytest.approx(1e-3)
    assert _lr(400, cfg) == pytest.approx(5e-4)  # sqrt(100 / 400)


def test_cooldown_falls_linearly_to_zero_at_max_steps() -> None:
    plain, cooled = config(max_steps=1000), config(max_steps=1000, cooldown=400)
    for step in (100, 400, 600):  # before the cooldown the schedule is untouched
        assert _lr(step, cooled) == _lr(step, plain)
    assert _lr(801, cooled) == pytest.approx(_lr(801, plain) * 200 / 400)
    assert _lr(1000, cooled) == pytest.approx(_lr(1000, plain) / 400)  # the last step
    assert _lr(1001, cooled) == 0.0
    rates = [_lr(s, cooled) for s in range(601, 1001)]
    assert rates == sorted(rates, reverse=True)


def test_without_a_step_bound_a_cooldown_never_starts() -> None:
    assert _lr(5000, config(cooldown=400)) == _lr(5000, config())


def test_a_warm_restart_counts_warmup_and_decay_again_from_its_step() -> None:
    plain, restarted = config(), config(restart=2000)
    assert _lr(1500, restarted) < _lr(2000, plain)  # before it: barely above zero (the restart's first steps)
    assert _lr(2050, restarted) == pytest.approx(_lr(50, plain))  # warming up again
    assert _lr(2100, restarted) == pytest.approx(1e-3)  # back at the peak
    assert _lr(2400, restarted) == pytest.approx(_lr(400, plain))
    assert _lr(2100, restarted) > 4 * _lr(2100, plain)


def test_a_restarted_run_cools_down_to_zero_again() -> None:
    cfg = config(restart=2000, max_steps=3000, cooldown=500)
    assert _lr(2400, cfg) == pytest.approx(_lr(400, config()))
    assert _lr(2751, cfg) == pytest.approx(_lr(751, config()) * 250 / 500)
    assert _lr(3001, cfg) == 0.0
