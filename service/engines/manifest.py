"""The model-folder schema: every engine folder under ``models/`` carries a ``manifest.json``.

Why: a folder must describe itself (sockeye's ``args.yaml`` + version) so the service never guesses which
languages an engine speaks, which directions were trained (the rest are zero-shot), how the target language is
signalled, or how few-shot examples are joined to the source. Training writes it; the service reads and checks it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


class TargetSignal(BaseModel):
    """How the model is told the target language.

    ``target_prefix``: the first decoder token is the language token (``<2de>``, M2M100's ``__de__``, NLLB's
    ``deu_Latn``); the service passes it as CTranslate2's per-example ``target_prefix`` so one batch can mix
    target languages. ``source_prefix``: the token goes in front of the source (multilingual opus-mt ``>>deu<<``).
    ``none``: a bilingual engine with exactly one target language. ``tokens`` maps a language to its token where
    a template cannot (NLLB, mBART); otherwise ``token_template`` is filled with the ISO 639-1 code.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["target_prefix", "source_prefix", "none"] = "target_prefix"
    token_template: str = "<2{lang}>"
    tokens: dict[str, str] = Field(default_factory=dict)

    def token(self, lang: str) -> str | None:
        if self.kind == "none":
            return None
        return self.tokens.get(lang) or self.token_template.format(lang=lang)


class FewShotFormat(BaseModel):
    """Separator symbols that join examples to the source: ``<ex> src <to> tgt ... <sep> source``.

    Mirrors the example-augmented inputs the model was trained with (fuzzy-match augmentation).
    """

    model_config = ConfigDict(extra="forbid")

    example_token: str = "<ex>"
    target_token: str = "<to>"
    source_token: str = "<sep>"
    # Whether fuzzy matches from a translation memory become examples on their own. ``finish`` turns it off when
    # the model's few-shot evaluation found examples lowering chrF: a memory must not make translations worse.
    # Examples a request sends itself are always used (the caller asked for them).
    memory_examples: bool = True


class Decoding(BaseModel):
    """Decoding defaults that belong to the model rather than to the request.

    Why: a small model degenerates into loops ("se-se-se", "--s, --s") that cost it chrF, placeholders and the
    target language; a repetition penalty (CTranslate2's, CTRL-style) chosen on the dev split fixes much of that
    without touching the weights. 1.0 is no penalty, the default for any engine that does not say otherwise.
    Both are chosen on dev by ``training.tune_decoding``.
    """

    model_config = ConfigDict(extra="forbid")

    repetition_penalty: float = Field(default=1.0, ge=1.0, le=3.0)
    # A JSON file in the model folder, ``{"tokens": {lang: [piece, ...]}}``: pieces the decoder may not produce
    # when it translates into ``lang`` (they are rare in that language's training text and common in the others'),
    # which keeps a small model from drifting into another language. None: no piece is held back.
    suppressed_tokens: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*\.json$")

    @property
    def one_call_per_target(self) -> bool:
        """Whether the engine decodes each target language in a call of its own: held-back pieces apply to a
        whole CTranslate2 call, so a batch that mixes target languages becomes several calls, one after another."""
        return self.suppressed_tokens is not None


class TokenizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sentencepiece"] = "sentencepiece"
    source_model: str = "sentencepiece.model"
    target_model: str = "sentencepiece.model"
    append_eos: bool = True  # Marian-converted engines need </s> at the end of the source: CTranslate2 won't add it.
    eos_token: str = "</s>"


class Manifest(BaseModel):
    """Self-description of one engine folder (``models/<name>/manifest.json``)."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    languages: list[str] = Field(min_length=1)
    trained_directions: list[tuple[str, str]] = Field(default_factory=list)
    target_signal: TargetSignal = Field(default_factory=TargetSignal)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    few_shot: FewShotFormat | None = None
    decoding: Decoding = Field(default_factory=Decoding)
    # Language -> token that starts the source (M2M100 ``__en__``, NLLB ``eng_Latn``, mBART-50 ``en_XX``).
    source_prefix: dict[str, str] = Field(default_factory=dict)
    engine: Literal["ctranslate2"] = "ctranslate2"
    quantization: str = "int8"
    architecture: dict[str, Any] = Field(default_factory=dict)
    source_checkpoint: str = ""
    training: dict[str, Any] = Field(default_factory=dict)
    data_sources: list[dict[str, Any]] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _iso639_1(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 2 or not code.isascii() or not code.islower():
                raise ValueError(f"language {code!r} is not an ISO 639-1 code")
        if len(set(value)) != len(value):
            raise ValueError("languages contain duplicates")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if self.format_version != FORMAT_VERSION:
            raise ValueError(f"format_version {self.format_version} is not supported (expected {FORMAT_VERSION})")
        langs = set(self.languages)
        for src, tgt in self.trained_directions:
            if src not in langs or tgt not in langs or src == tgt:
                raise ValueError(f"trained direction {src}->{tgt} is not between two distinct model languages")
        if self.target_signal.kind == "none" and len(self.languages) > 2:
            raise ValueError("a model without a target-language signal can serve only one direction")
        return self

    def directions(self) -> list[tuple[str, str, bool]]:
        """Every servable direction as ``(source, target, zero_shot)``."""
        trained = {tuple(d) for d in self.trained_directions}
        if self.target_signal.kind == "none":
            return [(s, t, False) for s, t in sorted(trained)]
        return [(s, t, (s, t) not in trained) for s in self.languages for t in self.languages if s != t]

    def is_zero_shot(self, source: str, target: str) -> bool:
        return (source, target) not in {tuple(d) for d in self.trained_directions}

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        return cls.model_validate(json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")))

    def save(self, folder: Path) -> None:
        (folder / MANIFEST_FILE).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


def target_vocabulary(folder: Path) -> list[str]:
    """The pieces an engine folder's decoder knows, in id order: CTranslate2 writes a shared vocabulary, or a source
    and a target one (never both). One reader for the engine's vocabulary maps and the converter's checks."""
    path = folder / "shared_vocabulary.json"
    if not path.exists():
        path = folder / "target_vocabulary.json"
    return [str(piece) for piece in json.loads(path.read_text(encoding="utf-8"))]


def load_suppressed_tokens(folder: Path, manifest: Manifest) -> dict[str, list[str]]:
    """Per target language, the pieces the manifest's ``decoding.suppressed_tokens`` file holds back ({}: none).

    One reader for the engine that decodes with them and the converter that checks them against the vocabulary."""
    name = manifest.decoding.suppressed_tokens
    if name is None:
        return {}
    try:
        tokens = json.loads((folder / name).read_text(encoding="utf-8"))["tokens"]
        return {str(lang): [str(t) for t in pieces] for lang, pieces in tokens.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{folder / name} (decoding.suppressed_tokens) is missing or malformed: {exc}") from exc
