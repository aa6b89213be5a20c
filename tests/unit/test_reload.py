"""Hot reload: new, changed and removed folders; requests in flight finish on the old engine; broken folders keep
the previous version; SIGHUP."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.engines.manifest import Manifest
from service.settings import Settings
from service.state import AppState
from tests.fakes import FakeEngine
from tests.unit.conftest import serve_in_process
from tests.unit.test_errors import assert_error


class Loader:
    """Builds fake engines from folders; the next one it builds can be gated."""

    def __init__(self) -> None:
        self.engines: list[FakeEngine] = []
        self.next_gate: threading.Event | None = None

    def __call__(self, folder: Path, manifest: Manifest) -> FakeEngine:
        if (folder / "broken").exists():
            raise RuntimeError("model.bin is corrupt")
        trained = tuple((s, t) for s, t in manifest.trained_directions)
        engine = FakeEngine(model_name=manifest.name, languages=tuple(manifest.languages), trained=trained)
        engine.gate, self.next_gate = self.next_gate, None
        self.engines.append(engine)
        return engine


def write_model(root: Path, name: str, description: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    Manifest(name=name, languages=["en", "de"], trained_directions=[("en", "de")], description=description).save(folder)
    return folder


@asynccontextmanager
async def serving(
    tmp_path: Path, loader: Loader, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:
    settings = Settings(
        models_dir=tmp_path / "models", data_dir=tmp_path / "data", language_detection=False, **overrides
    )
    app = create_app(settings, engine_loader=loader)
    async with serve_in_process(app) as client:
        yield client, app.state.xlt


async def reload(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/models/reload")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def until(condition: Any, tries: int = 1000) -> bool:
    """Poll a condition of background work (bounded), without asserting on time."""
    for _ in range(tries):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


TRANSLATE = {"text": "a", "source": "en", "target": "de"}


async def test_added_changed_and_removed_folders(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_model(models, "a")
    loader = Loader()
    async with serving(tmp_path, loader) as (client, _):
        assert await reload(client) == {
            "added": [], "updated": [], "removed": [], "unchanged": ["a"], "failed": [], "models": ["a"],
        }  # fmt: skip
        write_model(models, "b")
        assert (await reload(client))["added"] == ["b"]
        write_model(models, "a", description="version 2")
        assert (await reload(client))["updated"] == ["a"]
        shutil.rmtree(models / "b")
        result = await reload(client)
        assert result["removed"] == ["b"] and result["models"] == ["a"]
        assert [m["description"] for m in (await client.get("/models")).json()["models"]] == [""]  # fake manifests
        assert (await client.post("/translate", json=TRANSLATE | {"model": "b"})).status_code == 404
        assert (await client.post("/translate", json=TRANSLATE)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'xlt_model_reloads_total{result="ok"} 4.0' in metrics
        assert 'model="b"' not in metrics.split("xlt_model_info")[-1]
        assert await until(lambda: loader.engines[0].closed and loader.engines[1].closed)  # replaced and removed
        assert not loader.engines[2].closed


async def test_requests_in_flight_finish_on_the_old_engine(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_model(models, "a")
    loader = Loader()
    loader.next_gate = threading.Event()
    async with serving(tmp_path, loader) as (client, state):
        old = loader.engines[0]
        assert old.gate is not None
        pending = asyncio.create_task(client.post("/translate", json=TRANSLATE))
        assert await asyncio.to_thread(old.started.wait, 30)
        write_model(models, "a", description="version 2")
        assert (await reload(client))["updated"] == ["a"]
        new = loader.engines[1]
        assert (await client.post("/translate", json=TRANSLATE)).status_code == 200 and len(new.calls) == 1
        assert not old.closed  # still serving the request it holds
        old.gate.set()
        assert (await pending).status_code == 200
        assert await until(lambda: old.closed)
        assert not new.closed and state.registry.get("a") is new


async def test_a_broken_folder_keeps_the_previous_version(tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = write_model(models, "a")
    loader = Loader()
    async with serving(tmp_path, loader) as (client, state):
        (folder / "broken").touch()
        result = await reload(client)
        assert result["unchanged"] == ["a"] and result["failed"][0]["folder"] == "a"
        assert "corrupt" in result["failed"][0]["error"]
        (folder / "broken").unlink()
        (folder / "manifest.json").write_text("{half a manifest")
        result = await reload(client)
        assert result["unchanged"] == ["a"] and "invalid manifest" in result["failed"][0]["error"]
        assert (await client.post("/translate", json=TRANSLATE)).status_code == 200
        assert state.registry.get("a") is loader.engines[0] and not loader.engines[0].closed


async def test_engines_registered_in_code_are_not_reloaded(tmp_path: Path) -> None:
    write_model(tmp_path / "models", "fake")
    settings = Settings(models_dir=tmp_path / "models", data_dir=tmp_path / "data", language_detection=False)
    fake = FakeEngine()
    async with serve_in_process(create_app(settings, extra_engines=[fake], engine_loader=Loader())) as client:
        result = await reload(client)
        assert result["models"] == ["fake"] and result["failed"][0]["folder"] == "fake"
        assert (await client.post("/translate", json=TRANSLATE)).status_code == 200 and fake.calls


async def test_a_missing_models_dir_fails_the_reload_not_the_service(tmp_path: Path) -> None:
    write_model(tmp_path / "models", "a")
    async with serving(tmp_path, Loader()) as (client, _):
        (tmp_path / "models").rename(tmp_path / "elsewhere")
        assert_error(await client.post("/models/reload"), 500, "reload_failed")
        assert (await client.post("/translate", json=TRANSLATE)).status_code == 200
        assert 'xlt_model_reloads_total{result="error"} 1.0' in (await client.get("/metrics")).text


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
async def test_sighup_reloads(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_model(models, "a")
    async with serving(tmp_path, Loader()) as (client, state):
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None)  # the loop's handler is installed
        write_model(models, "b")
        os.kill(os.getpid(), signal.SIGHUP)
        assert state.reloader is not None
        reloader = state.reloader
        assert await until(lambda: reloader.reloads >= 1)
        assert [m["name"] for m in (await client.get("/models")).json()["models"]] == ["a", "b"]
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
