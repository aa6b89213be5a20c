"""``make model``'s fine-tuning phases: which still run after a given step, and with which settings."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")

from training.pipeline import FINETUNE_PHASES, FINETUNE_STEPS, WHEELS, finetune_phases, synthetic_set_name


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


def test_the_wheels_a_phase_reads_are_pinned_by_version_and_hash() -> None:
    """pip download --require-hashes refuses an unpinned line; this says which line, without the network."""
    lines = [line for line in WHEELS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^ ]* --hash=sha256:[0-9a-f]{64}", line), line


def test_each_round_of_synthetic_pairs_has_its_own_file() -> None:
    """A later round is made by a later checkpoint; reusing an earlier round's file would skip making it."""
    rounds = sorted({p.synthetic_round for p in FINETUNE_PHASES if p.synthetic})
    names = [synthetic_set_name(r) for r in rounds]
    assert names[0] == "synthetic.tsv"  # the name the first round had before there were rounds
    assert len(set(names)) == len(rounds) > 1
