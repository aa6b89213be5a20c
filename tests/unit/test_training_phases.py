"""``make model``'s fine-tuning phases: which still run after a given step, and with which settings."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.pipeline import FINETUNE_PHASES, FINETUNE_STEPS, finetune_phases


def test_a_fresh_run_goes_through_every_phase_to_the_shipped_length() -> None:
    todo = finetune_phases(0, FINETUNE_STEPS)
    assert todo[-1][0] == FINETUNE_STEPS
    assert [end for end, _, _ in todo] == sorted({min(end, FINETUNE_STEPS) for end, _, _ in FINETUNE_PHASES})


def test_a_resumed_run_skips_the_phases_it_has_done() -> None:
    first_end = FINETUNE_PHASES[0][0]
    assert all(end > first_end for end, _, _ in finetune_phases(first_end, FINETUNE_STEPS + 100))
    assert finetune_phases(FINETUNE_STEPS, FINETUNE_STEPS) == []


def test_a_short_limit_cuts_the_first_phase() -> None:
    assert finetune_phases(0, 40) == [(40, *FINETUNE_PHASES[0][1:])]


def test_a_longer_limit_goes_on_with_the_last_phase_settings() -> None:
    end, augment, overlap = finetune_phases(0, FINETUNE_STEPS + 500)[-1]
    assert (end, augment, overlap) == (FINETUNE_STEPS + 500, *FINETUNE_PHASES[-1][1:])
