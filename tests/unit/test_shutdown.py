"""SIGTERM in-process: readiness turns 503, new work is refused with 503 while the socket would stay open, every
accepted request is answered, and only then the server's own SIGTERM handler runs.

A fake "server handler" stands in for uvicorn's: the drain chains in front of whatever handler is installed.
The real thing (uvicorn, the tiny engine, a burst of requests) is tests/integration/test_sigterm.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from service.shutdown import InFlight
from tests.fakes import FakeEngine
from tests.unit.test_errors import assert_error

BODY = {"text": "a", "source": "en", "target": "de"}


class ServerHandler:
    """What uvicorn's ``handle_exit`` would be: records that it was asked to stop."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.called = asyncio.Event()

    def __call__(self, sig: int, frame: FrameType | None) -> None:
        self.calls.append(sig)
        self.called.set()


@pytest.fixture
def server_handler() -> Iterator[ServerHandler]:
    handler = ServerHandler()
    original = signal.signal(signal.SIGTERM, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGTERM, original)


async def test_in_flight_counts_and_waits() -> None:
    flight = InFlight()
    assert await flight.wait_idle(0)
    flight.enter()
    flight.enter()
    assert not await flight.wait_idle(0.01)
    flight.leave()
    flight.leave()
    assert flight.count == 0 and await flight.wait_idle(0)


async def test_sigterm_drains_then_hands_over(tmp_path: Path, server_handler: ServerHandler) -> None:
    engine = FakeEngine(gate=threading.Event())
    app = create_app(
        Settings(models_dir=tmp_path, language_detection=False, drain_timeout_s=30), extra_engines=[engine]
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
                accepted = asyncio.create_task(client.post("/translate", json=BODY))
                assert await asyncio.to_thread(engine.started.wait, 30)
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(500):  # the loop runs the handler on its next turn
                    if app.state.xlt.draining:
                        break
                    await asyncio.sleep(0.01)
                assert app.state.xlt.draining
                ready = await client.get("/health/ready")
                assert_error(ready, 503, "not_ready")
                assert "shutting down" in ready.json()["error"]["message"]
                assert (await client.get("/health/live")).status_code == 200
                assert (await client.get("/metrics")).status_code == 200
                assert_error(await client.post("/translate", json=BODY), 503, "not_ready")
                assert_error(await client.get("/languages"), 503, "not_ready")
                assert not server_handler.calls  # one accepted request is still running
                assert engine.gate is not None
                engine.gate.set()
                assert (await accepted).status_code == 200
                await asyncio.wait_for(server_handler.called.wait(), 30)
                assert server_handler.calls == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is server_handler  # handed back on the way out
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_a_second_sigterm_stops_without_waiting(tmp_path: Path, server_handler: ServerHandler) -> None:
    engine = FakeEngine(gate=threading.Event())
    app = create_app(
        Settings(models_dir=tmp_path, language_detection=False, drain_timeout_s=30), extra_engines=[engine]
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
                pending = asyncio.create_task(client.post("/translate", json=BODY))
                assert await asyncio.to_thread(engine.started.wait, 30)
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(500):
                    if app.state.xlt.draining:
                        break
                    await asyncio.sleep(0.01)
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.wait_for(server_handler.called.wait(), 30)
                assert server_handler.calls == [signal.SIGTERM]
                assert engine.gate is not None
                engine.gate.set()
                assert (await pending).status_code == 200  # the server's own shutdown still finishes it
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_drain_timeout_bounds_the_wait(tmp_path: Path, server_handler: ServerHandler) -> None:
    engine = FakeEngine(gate=threading.Event())
    settings = Settings(models_dir=tmp_path, language_detection=False, drain_timeout_s=0.2, request_timeout_s=60)
    app = create_app(settings, extra_engines=[engine])
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://xlt.test") as client:
                stuck = asyncio.create_task(client.post("/translate", json=BODY))
                assert await asyncio.to_thread(engine.started.wait, 30)
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.wait_for(server_handler.called.wait(), 30)  # handed over with work still running
                assert app.state.xlt.in_flight.count == 1
                assert engine.gate is not None
                engine.gate.set()
                await stuck
    finally:
        assert engine.gate is not None
        engine.gate.set()


async def test_without_a_server_handler_signals_are_left_alone(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    app = create_app(Settings(models_dir=tmp_path, language_detection=False), extra_engines=[FakeEngine()])
    async with app.router.lifespan_context(app):
        assert signal.getsignal(signal.SIGTERM) == before
