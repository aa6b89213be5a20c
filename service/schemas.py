"""Request and response models of the native API (``/translate``, ``/languages``, ``/models``, health).

Why separate from routes: the wire format is a contract; keeping it in one module makes the OpenAPI schema
and the tests read the same definitions. Limits that depend on settings (text length, item count) are checked
by the pipeline, which raises the matching error codes; here only the shape is checked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AUTO = "auto"


class TranslateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beam_size: int | None = Field(default=None, ge=1, le=16, description="beam width; default from XLT_BEAM_SIZE")
    max_length: int | None = Field(
        default=None, ge=1, description="max target tokens per sentence; at most XLT_MAX_DECODING_LENGTH"
    )
    return_scores: bool = Field(default=False, description="add the mean per-token log-probability as `score`")


class TranslateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Hello world.", "source": "en", "target": "de"}]},
    )

    text: str | list[str] = Field(description="one text or a list of texts; each may hold several sentences")
    source: str = Field(default=AUTO, min_length=1, max_length=16, description='ISO 639-1 code, or "auto"')
    target: str = Field(min_length=1, max_length=16, description="ISO 639-1 code")
    model: str | None = Field(default=None, min_length=1, max_length=64, description="model name; default if omitted")
    options: TranslateOptions = Field(default_factory=lambda: TranslateOptions())

    @field_validator("source", "target")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    def texts(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


class Translation(BaseModel):
    text: str
    source: str
    target: str
    model: str
    zero_shot: bool = Field(description="true when the model was not trained on this direction")
    score: float | None = None


class TranslateResponse(BaseModel):
    translations: list[Translation]


class Direction(BaseModel):
    source: str
    target: str
    zero_shot: bool


class ModelLanguages(BaseModel):
    model: str
    languages: list[str]
    directions: list[Direction]


class LanguagesResponse(BaseModel):
    models: list[ModelLanguages]


class ModelInfo(BaseModel):
    name: str
    description: str
    languages: list[str]
    quantization: str
    few_shot: bool
    default: bool


class ModelsResponse(BaseModel):
    default: str | None
    models: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok", "ready"]
    models: list[str] = Field(default_factory=list)
