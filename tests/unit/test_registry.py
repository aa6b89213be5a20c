"""The registry: good folders load, bad ones are skipped with a clear log, default model selection."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from service.app import ctranslate2_loader
from service.engines.manifest import Manifest
from service.engines.registry import ModelRegistry
from service.errors import ModelNotFound
from service.settings import Settings
from tests.fakes import FakeEngine


def fake_loader(folder: Path, manifest: Manifest) -> FakeEngine:
    if (folder / "broken").exists():
        raise RuntimeError("model.bin is corrupt")
    trained = tuple((s, t) for s, t in manifest.trained_directions)
    return FakeEngine(model_name=manifest.name, languages=tuple(manifest.languages), trained=trained)


def model_folder(root: Path, name: str, **manifest: object) -> Path:
    folder = root / name
    folder.mkdir()
    Manifest.model_validate({"name": name, "languages": ["en", "de"], **manifest}).save(folder)
    return folder


def test_bad_folders_are_skipped_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model_folder(tmp_path, "good")
    model_folder(tmp_path, "zeta")
    (tmp_path / "no-manifest").mkdir()
    (tmp_path / "bad-json").mkdir()
    (tmp_path / "bad-json" / "manifest.json").write_text("{not json")
    (tmp_path / "bad-lang").mkdir()
    (tmp_path / "bad-lang" / "manifest.json").write_text(json.dumps({"name": "bad-lang", "languages": ["eng"]}))
    (model_folder(tmp_path, "broken") / "broken").touch()
    (tmp_path / "stray-file.txt").write_text("ignored")
    with caplog.at_level(logging.INFO):
        registry = ModelRegistry.load(tmp_path, fake_loader)
    assert registry.names() == ["good", "zeta"]
    errors = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    for folder in ("bad-json", "bad-lang", "broken"):
        assert folder in errors
    assert "ISO 639-1" in errors and "corrupt" in errors


def test_duplicate_names_keep_the_first(tmp_path: Path) -> None:
    model_folder(tmp_path, "a")
    folder = tmp_path / "b"
    folder.mkdir()
    Manifest(name="a", languages=["en", "fr"]).save(folder)
    registry = ModelRegistry.load(tmp_path, fake_loader)
    assert registry.names() == ["a"] and registry.get("a").manifest.languages == ["en", "de"]


def test_default_model(tmp_path: Path) -> None:
    model_folder(tmp_path, "beta")
    model_folder(tmp_path, "alpha")
    assert ModelRegistry.load(tmp_path, fake_loader).get().name == "alpha"
    chosen = ModelRegistry.load(tmp_path, fake_loader, default_model="beta")
    assert chosen.get().name == "beta" and chosen.default_name == "beta"
    missing = ModelRegistry.load(tmp_path, fake_loader, default_model="gamma")
    with pytest.raises(ValueError, match="gamma"):
        missing.check_default()


def test_unknown_model_and_empty_registry() -> None:
    registry = ModelRegistry()
    with pytest.raises(ModelNotFound):
        registry.get()
    registry.register(FakeEngine())
    with pytest.raises(ModelNotFound, match="fake"):
        registry.get("other")
    with pytest.raises(ValueError):
        registry.register(FakeEngine())


def test_missing_models_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ModelRegistry.load(tmp_path / "nope", fake_loader)


def test_real_loader_skips_a_folder_without_engine_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model_folder(tmp_path, "empty")
    loader = ctranslate2_loader(Settings(models_dir=tmp_path, device="cpu"))
    with caplog.at_level(logging.ERROR):
        registry = ModelRegistry.load(tmp_path, loader)
    assert len(registry) == 0 and "empty" in caplog.text
