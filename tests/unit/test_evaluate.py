"""The off-target rate: judged by a language identifier, optionally only where it gets the reference right."""

from __future__ import annotations

from training.evaluate import language_judgements, off_target_rate

GERMAN = "Das kleine Haus steht am Ufer des Flusses und ist sehr alt."
ENGLISH = "The little house stands on the bank of the river and is very old."


def test_outputs_in_another_language_count_and_short_ones_are_not_judged() -> None:
    assert language_judgements([GERMAN, ENGLISH, "Ja"], "de", ["en", "de"]) == [False, True, None]
    assert off_target_rate([GERMAN, ENGLISH, "Ja"], "de", ["en", "de"]) == 0.5


def test_only_the_items_the_identifier_can_judge_on_the_reference_count() -> None:
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[True, False]) == 0.0
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[False, True]) == 1.0
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[False, False]) is None
