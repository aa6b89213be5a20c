"""``make model``'s fine-tuning phases: which still run after a given step, and with which settings."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.pipeline import FINETUNE_PHASES, FINETUNE_STEPS, finetune_phases


def test_a_fresh_run_goes_through_every_phase_to_the_shipped_length() -> None:
    todo = finetune_phases(0, FINETUNE_STEPS)
    assert todo[-1].end == FINETUNE_STEPS
    assert [p.end for p in todo] == sorted({min(p.end, FINETUNE_STEPS) for p in FINETUNE_PHASES})
    assert [p._replace(end=0) for p in todo] == [p._replace(end=0) for p in FINETUNE_PHASES]


def test_a_resumed_run_skips_the_phases_it_has_done() -> None:
    first_end = FINETUNE_PHASES[0].end
    assert all(p.end > first_end for p in finetune_phases(first_end, FINETUNE_STEPS + 100))
    assert finetune_phases(FINETUNE_STEPS, FINETUNE_STEPS) == []


def test_a_short_limit_cuts_the_first_phase() -> None:
    assert finetune_phases(0, 40) == [FINETUNE_PHASES[0]._replace(end=40)]


def test_a_longer_limit_goes_on_with_the_last_phase_settings() -> None:
    last = finetune_phases(0, FINETUNE_STEPS + 500)[-1]
    assert last == FINETUNE_PHASES[-1]._replace(end=FINETUNE_STEPS + 500)
