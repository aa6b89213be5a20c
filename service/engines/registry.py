"""Every servable model, loaded from the folders under ``models_dir`` that carry a ``manifest.json``.

Why skip instead of stop: one broken folder (a half-copied engine, a manifest from a newer format) must not
take down the models next to it; it is logged with the reason and left out. Extra engines (the in-test fake,
later other backends) are registered beside the loaded ones through ``register``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from service.engines.base import Engine
from service.engines.manifest import MANIFEST_FILE, Manifest
from service.errors import ModelNotFound

log = logging.getLogger(__name__)

EngineLoader = Callable[[Path, Manifest], Engine]


def scan(models_dir: Path) -> list[tuple[Path, Manifest]]:
    """The engine folders of ``models_dir`` with valid manifests, first folder (by name) winning a name clash."""
    if not models_dir.is_dir():
        raise FileNotFoundError(f"models directory {models_dir} does not exist")
    found: dict[str, tuple[Path, Manifest]] = {}
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if not (folder / MANIFEST_FILE).is_file():
            log.info("skipping %s: no %s", folder, MANIFEST_FILE)
            continue
        try:
            manifest = Manifest.load(folder)
        except (OSError, ValueError, ValidationError) as exc:
            log.error("skipping model folder %s: invalid %s: %s", folder, MANIFEST_FILE, exc)
            continue
        if manifest.name in found:
            log.error("skipping model folder %s: a model named %r is already loaded", folder, manifest.name)
            continue
        if manifest.name != folder.name:
            log.warning("model folder %s holds model %r: serving it as %r", folder, manifest.name, manifest.name)
        found[manifest.name] = (folder, manifest)
    return list(found.values())


class ModelRegistry:
    """Name -> engine, plus the default model."""

    def __init__(self, default_model: str | None = None) -> None:
        self._engines: dict[str, Engine] = {}
        self._default = default_model

    @classmethod
    def load(cls, models_dir: Path, loader: EngineLoader, default_model: str | None = None) -> ModelRegistry:
        """Load every valid engine folder in ``models_dir``; a missing directory is a configuration error."""
        registry = cls(default_model)
        for folder, manifest in scan(models_dir):
            try:
                engine = loader(folder, manifest)
            except Exception as exc:  # a broken engine folder must not stop the others
                log.error("skipping model folder %s: engine failed to load: %s", folder, exc)
                continue
            registry.register(engine)
        return registry

    def register(self, engine: Engine) -> None:
        if engine.name in self._engines:
            raise ValueError(f"a model named {engine.name!r} is already registered")
        self._engines[engine.name] = engine

    def replace(self, engine: Engine) -> Engine | None:
        """Serve ``engine`` under its name from now on (hot reload); returns the engine it replaced, if any."""
        old = self._engines.get(engine.name)
        self._engines[engine.name] = engine
        return old

    def unregister(self, name: str) -> Engine | None:
        return self._engines.pop(name, None)

    def __len__(self) -> int:
        return len(self._engines)

    def __iter__(self) -> Iterator[Engine]:
        return iter(self._engines[name] for name in self.names())

    def names(self) -> list[str]:
        return sorted(self._engines)

    @property
    def default_name(self) -> str | None:
        if self._default is not None:
            return self._default if self._default in self._engines else None
        names = self.names()
        return names[0] if names else None

    def check_default(self) -> None:
        """Fail loudly when the configured default model was not loaded."""
        if self._default is not None and self._default not in self._engines:
            raise ValueError(
                f"default model {self._default!r} is not loaded (loaded: {', '.join(self.names()) or 'none'})"
            )

    def get(self, name: str | None = None) -> Engine:
        key = name if name is not None else self.default_name
        if key is None or key not in self._engines:
            if name is None:
                raise ModelNotFound("no model is loaded")
            raise ModelNotFound(f"model {name!r} not found (available: {', '.join(self.names()) or 'none'})")
        return self._engines[key]

    def close(self) -> None:
        for engine in self._engines.values():
            try:
                engine.close()
            except Exception:
                log.exception("closing engine %s failed", engine.name)
