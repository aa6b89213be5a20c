"""Request and response models: accepted shapes and refused ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.schemas import TranslateRequest, TranslateResponse, Translation


def test_text_or_list() -> None:
    one = TranslateRequest.model_validate({"text": "hi", "target": "de"})
    many = TranslateRequest.model_validate({"text": ["a", "b"], "target": "de"})
    assert one.texts() == ["hi"] and many.texts() == ["a", "b"]
    assert one.source == "auto" and one.model is None and one.options.beam_size is None


def test_language_codes_are_normalised() -> None:
    assert TranslateRequest.model_validate({"text": "x", "source": " EN", "target": "De"}).target == "de"


@pytest.mark.parametrize(
    "body",
    [
        {"text": 5, "target": "de"},
        {"text": [1, 2], "target": "de"},
        {"text": "x"},
        {"text": "x", "target": ""},
        {"text": "x", "target": "de", "extra": True},
        {"text": "x", "target": "de", "options": {"beam_size": 17}},
        {"text": "x", "target": "de", "options": {"max_length": 0}},
        {"text": "x", "target": "de", "options": {"temperature": 1}},
    ],
)
def test_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TranslateRequest.model_validate(body)


def test_score_is_optional() -> None:
    response = TranslateResponse(
        translations=[Translation(text="t", source="en", target="de", model="m", zero_shot=False)]
    )
    assert "score" not in response.model_dump(exclude_none=True)["translations"][0]
