"""The off-target rate: judged by a language identifier, optionally only where it gets the reference right;
and the ``auto`` choice the zero-shot evaluation makes as the service does."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import evaluate
from training.evaluate import language_judgements, off_target_rate
from training.evaluate_zeroshot import auto_choice

GERMAN = "Das kleine Haus steht am Ufer des Flusses und ist sehr alt."
ENGLISH = "The little house stands on the bank of the river and is very old."


def test_outputs_in_another_language_count_and_short_ones_are_not_judged() -> None:
    assert language_judgements([GERMAN, ENGLISH, "Ja"], "de", ["en", "de"]) == [False, True, None]
    assert off_target_rate([GERMAN, ENGLISH, "Ja"], "de", ["en", "de"]) == 0.5


def test_only_the_items_the_identifier_can_judge_on_the_reference_count() -> None:
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[True, False]) == 0.0
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[False, True]) == 1.0
    assert off_target_rate([GERMAN, ENGLISH], "de", ["en", "de"], only=[False, False]) is None


def test_lingua_judges_too_and_unknown_identifiers_are_refused() -> None:
    assert language_judgements([GERMAN, ENGLISH, "Ja"], "de", ["en", "de"], "lingua") == [False, True, None]
    with pytest.raises(ValueError, match="unknown language identifier"):
        language_judgements([GERMAN], "de", ["en", "de"], "cld3")


def test_auto_choice_prefers_an_on_target_alternative_then_an_on_target_pivot_then_the_direct_output() -> None:
    def german(text: str) -> bool:
        return text.startswith("de")

    long = " and more words to judge"
    assert auto_choice(["de best" + long, "de 2"], ["de pivot"], german, 20) == ("de best" + long, "direct")
    assert auto_choice(["short"], ["de pivot"], german, 20) == ("short", "direct")  # too short to judge
    assert auto_choice(["en best" + long, "en 2", "de 3"], ["de pivot"], german, 20) == ("de 3", "alternative")
    assert auto_choice(["en best" + long, "en 2"], ["de pivot"], german, 20) == ("de pivot", "pivot")
    assert auto_choice(["en best" + long], ["en pivot" + long, "de p2"], german, 20) == ("de p2", "pivot")
    assert auto_choice(["en best" + long], ["en pivot" + long, "en p2"], german, 20) == ("en best" + long, "direct")


def test_the_everyday_sets_are_taken_whole_when_asked_and_the_others_capped(tmp_path: Path) -> None:
    """X->Y sets join en-X and en-Y rows on their English side; ``max_per_set`` caps every origin but ``whole``."""
    lines = []
    for origin in ("bible", "everyday"):
        for i in range(5):
            for lang in ("de", "es"):
                lines.append(f"{origin}\tg\ten\t{lang}\tsentence {i}\t{lang} {i}")
    path = tmp_path / "test.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    sets = {
        (s.origin, s.src_lang, s.tgt_lang): s
        for s in evaluate.test_sets(path, ["en", "de", "es"], 2, evaluate.WHOLE_ORIGINS)
    }

    assert len(sets) == 12  # 2 origins x 6 directions
    assert len(sets[("bible", "de", "es")].sources) == 2
    assert sets[("everyday", "de", "es")].sources == [f"de {i}" for i in range(5)]
    assert sets[("everyday", "de", "es")].references == [f"es {i}" for i in range(5)]
    assert all(len(s.sources) == 2 for s in evaluate.test_sets(path, ["en", "de", "es"], 2))
