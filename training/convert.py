"""``xlt convert``: Hugging Face checkpoint -> CTranslate2 engine folder (engine, tokenizer, manifest).

Like CTranslate2's own ``Converter.convert``: refuse to overwrite without ``force``, convert into a temporary
folder, validate, then move into place, so a failed conversion never leaves a half-written model behind. The
quantization is always chosen explicitly (int8 for serving on CPU).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import ctranslate2
import sentencepiece as spm

from service.engines.manifest import Manifest, load_suppressed_tokens, target_vocabulary

if TYPE_CHECKING:
    from training.evaluate import Translate


class ConversionError(RuntimeError):
    """The checkpoint could not become an engine folder; the message says why."""


class _LanguageTokens:
    """A tokenizer view whose ``special_tokens_map`` lists the language codes again.

    CTranslate2 4.x reads M2M100's language tokens from ``special_tokens_map["additional_special_tokens"]``;
    transformers 5 keeps them elsewhere (``lang_token_to_id``), and the engine would lose them.
    """

    def __init__(self, tokenizer: object) -> None:
        self._tokenizer = tokenizer

    def __getattr__(self, name: str) -> object:
        return getattr(self._tokenizer, name)

    @property
    def special_tokens_map(self) -> dict[str, object]:
        mapping = dict(self._tokenizer.special_tokens_map)  # type: ignore[attr-defined]
        codes = getattr(self._tokenizer, "lang_token_to_id", None) or {}
        extra = list(mapping.get("additional_special_tokens", []) or [])
        mapping["additional_special_tokens"] = extra + [t for t, _ in sorted(codes.items(), key=lambda kv: kv[1])]
        return mapping


class _Converter(ctranslate2.converters.TransformersConverter):
    def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):  # type: ignore[no-untyped-def]
        tokenizer = super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs)
        return _LanguageTokens(tokenizer) if getattr(tokenizer, "lang_token_to_id", None) else tokenizer


def export_marian_tokenizer(sp_model: Path, checkpoint: Path) -> None:
    """Write the files ``MarianTokenizer`` (and so CTranslate2's converter) reads: vocab.json + source/target.spm.

    ``<pad>`` is appended after the last piece, as in opus-mt; the converter removes it from the engine again.
    """
    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab["<pad>"] = sp.get_piece_size()
    checkpoint.mkdir(parents=True, exist_ok=True)
    (checkpoint / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    for name in ("source.spm", "target.spm"):
        shutil.copyfile(sp_model, checkpoint / name)
    (checkpoint / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "MarianTokenizer",
                "source_lang": "mul",
                "target_lang": "mul",
                "model_max_length": 512,
                "separate_vocabs": False,
            }
        ),
        encoding="utf-8",
    )


def convert_checkpoint(
    checkpoint: Path | str,
    out: Path,
    manifest: Manifest,
    *,
    sp_model: Path | None = None,
    quantization: str = "int8",
    force: bool = False,
    tokenizer_dir: Path | None = None,
) -> Path:
    """Convert ``checkpoint`` (a folder or a hub id) into ``out``; ``sp_model`` is copied as the tokenizer, or
    the manifest's tokenizer files are copied from ``tokenizer_dir``."""
    if out.exists() and not force:
        raise ConversionError(f"{out} exists: pass force=True (--force) to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staging = Path(tmp) / "engine"
        try:
            _Converter(str(checkpoint)).convert(str(staging), quantization=quantization, force=True)
        except (ValueError, OSError, KeyError, NotImplementedError) as e:
            raise ConversionError(f"cannot convert {checkpoint}: {e}") from e
        _fix_mbart50_start(staging, manifest)
        tok = manifest.tokenizer
        if sp_model is not None:
            shutil.copyfile(sp_model, staging / tok.source_model)
        if tokenizer_dir is not None:
            for f in {tok.source_model, tok.target_model}:
                shutil.copyfile(tokenizer_dir / f, staging / f)
        manifest = manifest.model_copy(update={"quantization": quantization, "source_checkpoint": str(checkpoint)})
        manifest.save(staging)
        validate_engine_folder(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    return out


def _fix_mbart50_start(engine: Path, manifest: Manifest) -> None:
    """mBART-50 decodes from ``</s>`` then the forced language code. CTranslate2 4.x tells mBART-25 from
    mBART-50 by ``config.tokenizer_class``, which transformers 5 no longer keeps, so it leaves no start token."""
    if manifest.architecture.get("family") != "mbart":
        return
    config_file = engine / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    defaults = {"decoder_start_token": manifest.tokenizer.eos_token, "bos_token": "<s>"}
    missing = {k: v for k, v in defaults.items() if k in config and config[k] is None}
    if missing:
        config_file.write_text(json.dumps({**config, **missing}, indent=2), encoding="utf-8")


def engine_vocabulary(folder: Path) -> set[str]:
    """The pieces an engine folder's decoder knows (``target_vocabulary``): a piece outside it cannot be held back
    or used as a prefix."""
    return set(target_vocabulary(folder))


def validate_engine_folder(folder: Path) -> Manifest:
    """Load the manifest, check the tokenizer files exist and every language tag is in the engine vocabulary."""
    manifest = Manifest.load(folder)
    for name in {manifest.tokenizer.source_model, manifest.tokenizer.target_model}:
        if not (folder / name).is_file():
            raise ConversionError(f"{folder}: tokenizer file {name} is missing")
    vocab = engine_vocabulary(folder)
    for lang in manifest.languages:
        token = manifest.target_signal.token(lang)
        if token is not None and token not in vocab:
            raise ConversionError(f"{folder}: target-language token {token} is not in the engine vocabulary")
    if manifest.tokenizer.eos_token not in vocab:
        raise ConversionError(f"{folder}: {manifest.tokenizer.eos_token} is not in the engine vocabulary")
    try:
        held = load_suppressed_tokens(folder, manifest)
    except ValueError as exc:
        raise ConversionError(str(exc)) from exc
    unknown = sorted({t for pieces in held.values() for t in pieces} - vocab)
    if unknown:
        name = manifest.decoding.suppressed_tokens
        raise ConversionError(f"{folder}: {name} holds back pieces the engine lacks: {unknown[:5]}")
    return manifest


def _family_manifest(checkpoint: Path | str, name: str, langs: list[str], staging: Path) -> tuple[Manifest, Path]:
    """Manifest and SentencePiece file for a pretrained family checkpoint (opus-mt, M2M100, NLLB, mBART-50)."""
    from transformers import AutoConfig, AutoTokenizer

    from service.engines.manifest import TargetSignal, TokenizerSpec
    from training.families import detect

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    config = AutoConfig.from_pretrained(str(checkpoint))
    family = detect(config.model_type, tokenizer)
    tokenizer.save_pretrained(staging)
    local = Path(checkpoint) if Path(checkpoint).is_dir() else staging
    if family.name == "marian":
        spm_files = ("source.spm", "target.spm")
    else:
        spm_files = ("sentencepiece.bpe.model", "sentencepiece.bpe.model")
    for f in set(spm_files):
        found = next((d / f for d in (local, staging) if (d / f).is_file()), None)
        if found is None:
            raise ConversionError(
                f"{checkpoint}: no {f} beside the checkpoint: the service tokenizes with SentencePiece"
            )
        if found.parent != staging:
            shutil.copyfile(found, staging / f)
    codes = {lang: family.code(lang) for lang in langs}
    known = {lang: c for lang, c in codes.items() if c}
    if family.name == "marian" and not known:  # bilingual opus-mt: one direction, no language token
        pair = [str(tokenizer.source_lang)[:2], str(tokenizer.target_lang)[:2]]
        signal, languages, source_prefix = TargetSignal(kind="none"), pair, {}
        trained = [(pair[0], pair[1])]
    elif family.name == "marian":
        signal, languages, source_prefix = TargetSignal(kind="source_prefix", tokens=known), sorted(known), {}
        trained = [(s, t) for s in languages for t in languages if s != t]
    else:
        signal, languages, source_prefix = TargetSignal(kind="target_prefix", tokens=known), sorted(known), known
        trained = [(s, t) for s in languages for t in languages if s != t]  # many-to-many as pretrained
    manifest = Manifest(
        name=name,
        languages=languages,
        trained_directions=trained,
        target_signal=signal,
        source_prefix=source_prefix,
        tokenizer=TokenizerSpec(source_model=spm_files[0], target_model=spm_files[1], eos_token=tokenizer.eos_token),
        architecture={
            "model_type": config.model_type,
            "family": family.name,
            "max_position_embeddings": getattr(config, "max_position_embeddings", 512),
        },
    )
    return manifest, staging


def _manifest_for(checkpoint: Path | str, name: str, langs: list[str], directions: Path | None) -> Manifest:
    from service.engines.manifest import FewShotFormat

    trained: list[tuple[str, str]] = []
    if directions is not None:
        trained = [(s, t) for s, t in json.loads(directions.read_text(encoding="utf-8"))]
    architecture: dict[str, object] = {}
    config_file = Path(checkpoint) / "config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        keys = (
            "model_type",
            "d_model",
            "encoder_layers",
            "decoder_layers",
            "encoder_attention_heads",
            "encoder_ffn_dim",
            "vocab_size",
            "max_position_embeddings",
        )
        architecture = {k: config[k] for k in keys if k in config}
    return Manifest(
        name=name,
        languages=langs,
        trained_directions=trained,
        few_shot=FewShotFormat(),
        architecture=architecture,
    )


def parity(int8_dir: Path, f32_dir: Path, dev: Path, per_direction: int = 40) -> dict[str, float]:
    """chrF of the int8 engine against the float32 engine on the dev set: quantization must not cost quality."""
    from training.evaluate import engine_translator, evaluate, test_sets

    manifest = Manifest.load(int8_dir)
    trained = {(s, t) for s, t in manifest.trained_directions}
    sets = [s for s in test_sets(dev, manifest.languages, per_direction) if (s.src_lang, s.tgt_lang) in trained]
    if not sets:
        raise ConversionError(f"{dev} holds no sentences for the trained directions: cannot check parity")
    scores = {}
    for label, folder in (("int8", int8_dir), ("float32", f32_dir)):
        results = evaluate(engine_translator(folder, beam_size=2), sets, trained, manifest.languages)
        total = sum(int(r["n"]) for r in results)  # type: ignore[call-overload]
        scores[label] = round(sum(float(r["chrf"]) * int(r["n"]) for r in results) / total, 2)  # type: ignore[arg-type,call-overload]
    scores["delta"] = round(scores["float32"] - scores["int8"], 2)
    return scores


def convert_with_parity(
    checkpoint: Path | str,
    out: Path,
    *,
    name: str,
    tokenizer: Path | None,
    langs: list[str],
    directions: Path | None = None,
    quantization: str = "int8",
    dev: Path | None = None,
    force: bool = False,
    max_delta: float = 0.5,
    with_checkpoint: bool = False,
) -> dict[str, object]:
    """``xlt convert``: checkpoint -> engine, then the parity check.

    With ``tokenizer`` (our SentencePiece model) the checkpoint is one of ours: the Marian tokenizer files are
    written beside it. Without, the checkpoint brings its own tokenizer (opus-mt, M2M100, NLLB, mBART-50).
    """
    if out.exists() and not force:
        raise ConversionError(f"{out} exists: pass --force to overwrite it")
    local = Path(checkpoint)
    if directions is None and (local / ".." / "directions.json").is_file():
        directions = local / ".." / "directions.json"
    tmp_tok = tempfile.TemporaryDirectory(prefix="xlt-tok-")
    tokenizer_dir: Path | None = None
    if tokenizer is not None:
        if local.is_dir() and not (local / "vocab.json").exists():
            export_marian_tokenizer(tokenizer, local)
        manifest = _manifest_for(checkpoint, name, langs, directions)
    else:
        manifest, tokenizer_dir = _family_manifest(checkpoint, name, langs, Path(tmp_tok.name))
        if directions is not None:
            trained = [(s, t) for s, t in json.loads(directions.read_text(encoding="utf-8"))]
            manifest = Manifest.model_validate({**manifest.model_dump(), "trained_directions": trained})
    kwargs = {"sp_model": tokenizer, "tokenizer_dir": tokenizer_dir}
    convert_checkpoint(checkpoint, out, manifest, quantization=quantization, force=force, **kwargs)  # type: ignore[arg-type]
    result: dict[str, object] = {"engine": str(out), "quantization": quantization}
    if dev is not None and quantization != "float32":
        with tempfile.TemporaryDirectory(prefix="xlt-f32-") as tmp:
            f32 = convert_checkpoint(
                checkpoint, Path(tmp) / "f32", manifest, quantization="float32", force=True, **kwargs
            )  # type: ignore[arg-type]
            scores = parity(out, f32, dev)
        result["parity"] = scores
        if scores["delta"] > max_delta:
            shutil.rmtree(out)
            raise ConversionError(f"int8 loses {scores['delta']} chrF against float32 (limit {max_delta}): {scores}")
        m = Manifest.load(out)
        m.metrics["parity_chrf"] = scores
        m.save(out)
    tmp_tok.cleanup()
    if with_checkpoint:
        from training.adapt import ship_checkpoint

        ship_checkpoint(Path(checkpoint), out)
    return result


@contextmanager
def checkpoint_translator(checkpoint: Path, tokenizer: Path, name: str, langs: list[str]) -> Iterator[Translate]:
    """``checkpoint``'s translations at beam 2 through a throwaway int8 engine (converted with the parity check,
    deleted on exit): how ``make model`` makes its machine-translated data with a checkpoint of its own."""
    from training.evaluate import engine_translator

    with tempfile.TemporaryDirectory(prefix=f"xlt-{name}-") as tmp:
        engine = Path(tmp) / "engine"
        convert_with_parity(checkpoint, engine, name=name, tokenizer=tokenizer, langs=langs)
        yield engine_translator(engine, beam_size=2)
