"""Integration fixtures: real uvicorn serving the tiny real engine (``tiny_models_dir``, in tests/conftest.py).

The model is built from a ``transformers`` config with random weights and converted with the real CTranslate2
converter (see ``tests/tiny_model.py``); it needs torch and transformers, so these tests skip without them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SERVER_ENV = {
    "XLT_MAX_DECODING_LENGTH": "24",  # random weights rarely stop early: keep decoding short
    "XLT_MAX_WAIT_MS": "20",
    "XLT_MAX_ITEMS": "16",
    "XLT_MAX_TEXT_CHARS": "2000",
    "XLT_MAX_BODY_BYTES": "65536",
    "XLT_LOG_LEVEL": "warning",
    "XLT_DEVICE": "cpu",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(models_dir: Path, log: Path, env: dict[str, str], ready_timeout_s: float = 240) -> Server:
    """Start ``xlt serve`` on a free loopback port and wait (bounded) until it is ready."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("XLT_")} | env
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*cmd, "--models-dir", str(models_dir)], stdout=out, stderr=subprocess.STDOUT, env=full_env
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"xlt serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/health/ready", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"xlt serve was not ready within {ready_timeout_s} s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    """SIGTERM by PID (graceful drain), then SIGKILL if it does not exit."""
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    running = start_server(
        tiny_models_dir, folder / "xlt-serve.log", SERVER_ENV | {"XLT_DATA_DIR": str(folder / "data")}
    )
    yield running
    stop_server(running)
