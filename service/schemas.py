"""Request and response models of the native API (``/translate``, ``/languages``, ``/models``, health).

Why separate from routes: the wire format is a contract; keeping it in one module makes the OpenAPI schema
and the tests read the same definitions. Limits that depend on settings (text length, item count) are checked
by the pipeline, which raises the matching error codes; here only the shape is checked.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

AUTO = "auto"
MAX_ALTERNATIVES = 10  # the LibreTranslate route's bound from the start; the beam is widened to one more than asked
MEMORY_ID = "3f2b9c0e8d7a4c1b9e6f5a4d3c2b1a09"  # an example memory id (uuid4 hex), for the OpenAPI examples


def _examples(*examples: dict[str, Any], forbid: bool = False) -> ConfigDict:
    """A model config showing ``examples`` in the OpenAPI schema (and so in ``/docs``)."""
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid" if forbid else "ignore")


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(value: str) -> str:
    """JSON escapes can smuggle lone surrogates (``"\\ud800"``) into a str; no tokenizer, database or JSON
    encoder accepts them, so they are refused here as a 422 instead of failing later as a 500."""
    found = _SURROGATE.search(value)
    if found is not None:
        raise ValueError(f"lone surrogate U+{ord(found.group()):04X} at position {found.start()}: not valid Unicode")
    return value


Text = Annotated[str, AfterValidator(valid_unicode)]  # every client string that reaches an engine or a store


class TranslateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beam_size: int | None = Field(default=None, ge=1, le=16, description="beam width; default from XLT_BEAM_SIZE")
    max_length: int | None = Field(
        default=None, ge=1, description="max target tokens per sentence; at most XLT_MAX_DECODING_LENGTH"
    )
    return_scores: bool = Field(default=False, description="add the mean per-token log-probability as `score`")
    alternatives: int = Field(
        default=0,
        ge=0,
        le=MAX_ALTERNATIVES,
        description="other translations to add, best first, from the beam (widened to hold them); fewer when the "
        "beam finds fewer distinct ones",
    )


Strategy = Literal["direct", "pivot", "auto"]
TextFormat = Literal["text", "html"]


class ExamplePair(BaseModel):
    """A translation example shown to the model (few-shot); limits come from XLT_MAX_EXAMPLE*."""

    model_config = ConfigDict(extra="forbid")

    source: Text = Field(description="example sentence in the source language")
    target: Text = Field(description="its translation in the target language")


class TranslateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Hello world.", "source": "en", "target": "de"}]},
    )

    text: Text | list[Text] = Field(description="one text or a list of texts; each may hold several sentences")
    source: Text = Field(default=AUTO, min_length=1, max_length=16, description='ISO 639-1 code, or "auto"')
    target: Text = Field(min_length=1, max_length=16, description="ISO 639-1 code")
    model: Text | None = Field(default=None, min_length=1, max_length=64, description="model name; default if omitted")
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
    memory: Text | None = Field(
        default=None,
        max_length=64,
        description="translation memory id: exact matches are returned as stored, fuzzy ones become examples",
    )
    format: TextFormat = Field(
        default="text",
        description="`html`: translate the text nodes (not script/style) and return the markup unchanged",
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
    reviewed: bool | None = Field(
        default=None,
        description="`origin: memory`: true when every memory entry it came from was written by a person, false "
        "when one is a machine translation a file's `store` wrote back and nobody has reviewed (absent for "
        "`origin: model`)",
    )
    via: str | None = Field(default=None, description="the pivot language, when translated through it")
    score: float | None = None
    alternatives: list[str] | None = Field(default=None, description="with `options.alternatives`: other translations")
    off_target: bool | None = Field(
        default=None,
        description="`strategy: auto` on a zero-shot direction: whether the text served is still in another language "
        "than the target by the service's language identifier (absent when not judged: trained directions, short "
        "texts, other strategies)",
    )


class TranslateResponse(BaseModel):
    model_config = _examples(
        {
            "translations": [
                {"text": "Hallo Welt.", "source": "en", "target": "de", "model": "opus-mt", "zero_shot": False}
            ]
        }
    )

    translations: list[Translation]


class DetectRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Das Haus ist klein."}, {"text": ["Hi", "Salut"]}]}
    )

    text: Text | list[Text] = Field(description="one text or a list of texts")
    model: Text | None = Field(
        default=None, min_length=1, max_length=64, description="choose among this model's languages; default model"
    )
    format: TextFormat = Field(default="text", description="`html`: look at the text nodes only")


class LanguageScore(BaseModel):
    language: str = Field(description="ISO 639-1 code")
    confidence: float = Field(ge=0, le=1, description="probability among the model's languages")


class Detection(BaseModel):
    language: str = Field(description="the most likely language")
    confidence: float = Field(ge=0, le=1)
    candidates: list[LanguageScore] = Field(description="the model's languages, most likely first")


class DetectResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detections": [
                        {
                            "language": "de",
                            "confidence": 0.97,
                            "candidates": [
                                {"language": "de", "confidence": 0.97},
                                {"language": "en", "confidence": 0.03},
                            ],
                        }
                    ]
                }
            ]
        }
    )

    model: str
    detections: list[Detection] = Field(description="one per input text, in order")


class Direction(BaseModel):
    source: str
    target: str
    zero_shot: bool


class ModelLanguages(BaseModel):
    model: str
    languages: list[str]
    directions: list[Direction]


class LanguagesResponse(BaseModel):
    model_config = _examples(
        {
            "models": [
                {
                    "model": "opus-mt",
                    "languages": ["en", "de", "fr"],
                    "directions": [
                        {"source": "en", "target": "de", "zero_shot": False},
                        {"source": "de", "target": "fr", "zero_shot": True},
                    ],
                }
            ]
        }
    )

    models: list[ModelLanguages]


class ModelInfo(BaseModel):
    name: str
    description: str
    languages: list[str]
    quantization: str
    few_shot: bool
    default: bool


class ModelsResponse(BaseModel):
    model_config = _examples(
        {
            "default": "opus-mt",
            "models": [
                {
                    "name": "opus-mt",
                    "description": "en/de/fr Marian, int8",
                    "languages": ["en", "de", "fr"],
                    "quantization": "int8",
                    "few_shot": True,
                    "default": True,
                }
            ],
        }
    )

    default: str | None
    models: list[ModelInfo]


class Health(BaseModel):
    model_config = _examples({"status": "ready", "models": ["opus-mt"]})

    status: Literal["ok", "ready"]
    models: list[str] = Field(default_factory=list)


class MemoryCreate(BaseModel):
    model_config = _examples({"name": "product glossary"}, forbid=True)

    name: Text = Field(min_length=1, max_length=200)


class MemoryPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Text = Field(min_length=1)
    target: Text = Field(min_length=1)


class MemoryEntries(BaseModel):
    model_config = _examples(
        {"source_lang": "en", "target_lang": "de", "pairs": [{"source": "Add to cart", "target": "In den Warenkorb"}]},
        forbid=True,
    )

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


class MemoryPairStats(MemoryPairCount):
    unreviewed: int = Field(
        default=0,
        description="of them, entries a job wrote back (`store: true`) that no person has written since; writing "
        "the same source through `/entries` or an import marks it reviewed",
    )


class Memory(BaseModel):
    model_config = _examples(
        {
            "id": MEMORY_ID,
            "name": "product glossary",
            "created_at": 1767225600.0,
            "revision": 3,
            "pairs": [{"source_lang": "en", "target_lang": "de", "entries": 120, "unreviewed": 0}],
        }
    )

    id: str
    name: str
    created_at: float = Field(description="Unix time")
    revision: int = Field(description="bumped by every write")
    pairs: list[MemoryPairStats] = Field(default_factory=list)


class MemoryList(BaseModel):
    model_config = _examples(
        {"memories": [{"id": MEMORY_ID, "name": "product glossary", "created_at": 1767225600.0, "revision": 3}]}
    )

    memories: list[Memory]


class MemoryWrite(BaseModel):
    model_config = _examples(
        {"id": MEMORY_ID, "revision": 4, "written": [{"source_lang": "en", "target_lang": "de", "entries": 1}]}
    )

    id: str
    revision: int
    written: list[MemoryPairCount] = Field(description="entries written per language pair")


class ReloadFailure(BaseModel):
    folder: str
    error: str


class ReloadResponse(BaseModel):
    model_config = _examples(
        {
            "added": ["nllb-small"],
            "updated": [],
            "removed": [],
            "unchanged": ["opus-mt"],
            "failed": [{"folder": "broken", "error": "invalid manifest.json"}],
            "models": ["nllb-small", "opus-mt"],
        }
    )

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    failed: list[ReloadFailure]
    models: list[str]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable error code (the `code` label of xlt_requests_total), e.g. `overloaded`")
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: ``{"error": {"code", "message"}}`` (see service/errors.py)."""

    error: ErrorDetail


class JobProgress(BaseModel):
    done: int = Field(description="segments translated (or left as they were) and saved")
    total: int = Field(description="segments in the file")


class JobErrorInfo(BaseModel):
    code: str = Field(description="stable code: the job's failure (`segment` null) or why a segment was skipped")
    message: str
    segment: int | None = Field(default=None, description="the segment's index, for a segment left untranslated")


class JobStatus(BaseModel):
    """A background job (``POST /jobs``): where it stands, what went wrong, how long it took."""

    model_config = _examples(
        {
            "id": "7c9e6679742540de944be07fc1f70e2a",
            "state": "running",
            "filename": "app.po",
            "source": "en",
            "target": "de",
            "progress": {"done": 640, "total": 5000},
            "errors": [],
            "created_at": 1767225600.0,
            "started_at": 1767225600.5,
            "attempts": 1,
        }
    )

    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    filename: str
    source: str = Field(description='the source language (detected when the job was created with "auto")')
    target: str
    model: str | None = None
    memory: str | None = None
    options: dict[str, bool] = Field(default_factory=dict)
    progress: JobProgress
    errors: list[JobErrorInfo] = Field(
        default_factory=list, description="the job's failure, and segments left untranslated (the first 50)"
    )
    more_errors: int = Field(default=0, description="segment errors past those listed")
    created_at: float = Field(description="Unix time")
    started_at: float | None = Field(default=None, description="when a replica first took it")
    finished_at: float | None = None
    duration_s: float | None = Field(default=None, description="from creation to its end (or to now)")
    attempts: int = Field(default=0, description="times a replica took it (resumed after a restart: one more)")
    result: str | None = Field(default=None, description="where to download the file, once done")
