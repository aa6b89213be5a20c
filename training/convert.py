"""``xlt convert``: Hugging Face checkpoint -> CTranslate2 engine folder (engine, tokenizer, manifest).

Like CTranslate2's own ``Converter.convert``: refuse to overwrite without ``force``, convert into a temporary
folder, validate, then move into place, so a failed conversion never leaves a half-written model behind. The
quantization is always chosen explicitly (int8 for serving on CPU).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import ctranslate2
import sentencepiece as spm

from service.engines.manifest import Manifest


class ConversionError(RuntimeError):
    """The checkpoint could not become an engine folder; the message says why."""


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
) -> Path:
    """Convert ``checkpoint`` (a folder or a hub id) into ``out``; ``sp_model`` is copied as the tokenizer."""
    if out.exists() and not force:
        raise ConversionError(f"{out} exists: pass force=True (--force) to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staging = Path(tmp) / "engine"
        try:
            ctranslate2.converters.TransformersConverter(str(checkpoint)).convert(
                str(staging), quantization=quantization, force=True
            )
        except (ValueError, OSError, KeyError, NotImplementedError) as e:
            raise ConversionError(f"cannot convert {checkpoint}: {e}") from e
        tok = manifest.tokenizer
        if sp_model is not None:
            shutil.copyfile(sp_model, staging / tok.source_model)
        manifest = manifest.model_copy(update={"quantization": quantization, "source_checkpoint": str(checkpoint)})
        manifest.save(staging)
        validate_engine_folder(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    return out


def validate_engine_folder(folder: Path) -> Manifest:
    """Load the manifest, check the tokenizer files exist and every language tag is in the engine vocabulary."""
    manifest = Manifest.load(folder)
    for name in {manifest.tokenizer.source_model, manifest.tokenizer.target_model}:
        if not (folder / name).is_file():
            raise ConversionError(f"{folder}: tokenizer file {name} is missing")
    vocab_file = folder / "shared_vocabulary.json"
    if not vocab_file.exists():
        vocab_file = folder / "target_vocabulary.json"
    vocab = set(json.loads(vocab_file.read_text(encoding="utf-8")))
    for lang in manifest.languages:
        token = manifest.target_signal.token(lang)
        if token is not None and token not in vocab:
            raise ConversionError(f"{folder}: target-language token {token} is not in the engine vocabulary")
    if manifest.tokenizer.eos_token not in vocab:
        raise ConversionError(f"{folder}: {manifest.tokenizer.eos_token} is not in the engine vocabulary")
    return manifest


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
    tokenizer: Path,
    langs: list[str],
    directions: Path | None = None,
    quantization: str = "int8",
    dev: Path | None = None,
    force: bool = False,
    max_delta: float = 0.5,
) -> dict[str, object]:
    """``xlt convert``: our checkpoint (tokenizer files are written next to it) -> engine, then the parity check."""
    if out.exists() and not force:
        raise ConversionError(f"{out} exists: pass --force to overwrite it")
    local = Path(checkpoint)
    if local.is_dir() and not (local / "vocab.json").exists():
        export_marian_tokenizer(tokenizer, local)
    if directions is None and (local / ".." / "directions.json").is_file():
        directions = local / ".." / "directions.json"
    manifest = _manifest_for(checkpoint, name, langs, directions)
    convert_checkpoint(checkpoint, out, manifest, sp_model=tokenizer, quantization=quantization, force=force)
    result: dict[str, object] = {"engine": str(out), "quantization": quantization}
    if dev is not None and quantization != "float32":
        with tempfile.TemporaryDirectory(prefix="xlt-f32-") as tmp:
            f32 = convert_checkpoint(
                checkpoint,
                Path(tmp) / "f32",
                manifest,
                sp_model=tokenizer,
                quantization="float32",
                force=True,
            )
            scores = parity(out, f32, dev)
        result["parity"] = scores
        if scores["delta"] > max_delta:
            shutil.rmtree(out)
            raise ConversionError(f"int8 loses {scores['delta']} chrF against float32 (limit {max_delta}): {scores}")
        m = Manifest.load(out)
        m.metrics["parity_chrf"] = scores
        m.save(out)
    return result
