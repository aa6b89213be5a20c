"""Language detection restricted to a model's languages."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

pytest.importorskip("langid")

from service.langid import LangidDetector, rank_languages


@pytest.fixture(scope="module")
def detector() -> LangidDetector:
    return LangidDetector()


def test_detects_among_candidates(detector: LangidDetector) -> None:
    assert detector.detect("Das Haus ist klein und der Garten ist grün.", ["en", "de", "fr"]) == "de"
    assert detector.detect("La maison est petite et le jardin est vert.", ["en", "de", "fr"]) == "fr"


def test_never_answers_outside_the_candidates(detector: LangidDetector) -> None:
    assert detector.detect("Das Haus ist klein und der Garten ist grün.", ["en", "fr"]) in {"en", "fr"}


def test_single_or_unknown_candidates(detector: LangidDetector) -> None:
    assert detector.detect("anything", ["de"]) == "de"
    assert detector.detect("anything", ["zz", "qq"]) is None


def test_rank_gives_probabilities_over_the_candidates(detector: LangidDetector) -> None:
    ranked = rank_languages(detector, "Das Haus ist klein und der Garten ist grün.", ["en", "de", "fr", "zz"])
    assert ranked[0][0] == "de" and {lang for lang, _ in ranked} == {"en", "de", "fr"}
    assert abs(sum(p for _, p in ranked) - 1) < 1e-9
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
    assert rank_languages(detector, "anything", ["de"]) == [("de", 1.0)]


def test_rank_falls_back_to_detect_for_other_detectors() -> None:
    class Fixed:
        def detect(self, text: str, candidates: Sequence[str]) -> str | None:
            return None if text == "?" else "fr"

    assert rank_languages(Fixed(), "x", ["en", "fr"]) == [("fr", 1.0)]
    assert rank_languages(Fixed(), "?", ["en", "fr"]) == []
