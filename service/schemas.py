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


Strategy = Literal["direct", "pivot", "auto"]


class ExamplePair(BaseModel):
    """A translation example shown to the model (few-shot); limits come from XLT_MAX_EXAMPLE*."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="example sentence in the source language")
    target: str = Field(description="its translation in the target language")


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
    strategy: Strategy = Field(
        default="auto",
        description="zero-shot directions: `direct` through the target-language signal; `pivot` through "
        "XLT_PIVOT_LANGUAGE (two engine passes); `auto` direct, retranslated via the pivot when the output is "
        "found in the wrong language",
    )
    examples: list[ExamplePair] | None = Field(
        default=None,
        description="few-shot examples applied to every text (models with `few_shot` only; not used on pivot legs)",
    )
    memory: str | None = Field(
        default=None,
        max_length=64,
        description="translation memory id: exact matches are returned as stored, fuzzy ones become examples",
    )

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
    origin: Literal["model", "memory"] = Field(
        default="model", description="`memory`: every sentence was an exact match in the translation memory"
    )
    via: str | None = Field(default=None, description="the pivot language, when translated through it")
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


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class MemoryPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    target: str = Field(min_length=1)


class MemoryEntries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_lang: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code")
    target_lang: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code")
    pairs: list[MemoryPair] = Field(min_length=1, max_length=10_000)

    @field_validator("source_lang", "target_lang", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class MemoryPairCount(BaseModel):
    source_lang: str
    target_lang: str
    entries: int


class Memory(BaseModel):
    id: str
    name: str
    created_at: float = Field(description="Unix time")
    revision: int = Field(description="bumped by every write")
    pairs: list[MemoryPairCount] = Field(default_factory=list)


class MemoryList(BaseModel):
    memories: list[Memory]


class MemoryWrite(BaseModel):
    id: str
    revision: int
    written: list[MemoryPairCount] = Field(description="entries written per language pair")


class ReloadFailure(BaseModel):
    folder: str
    error: str


class ReloadResponse(BaseModel):
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    failed: list[ReloadFailure]
    models: list[str]
