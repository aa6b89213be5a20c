"""Language detection restricted to a model's languages."""

from __future__ import annotations

import pytest

pytest.importorskip("langid")

from service.langid import LangidDetector


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
