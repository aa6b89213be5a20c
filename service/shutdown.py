"""Graceful shutdown on SIGTERM: stop admitting work, answer everything admitted, then let the server exit.

Why not uvicorn's own order: on SIGTERM uvicorn closes its listening socket first and stops the app last, so a
load balancer probing ``/health/ready`` sees refused connections instead of a 503, and requests racing the close
are dropped. Here SIGTERM first marks the app draining: ``/health/ready`` answers 503 and every new request gets
503 ``not_ready`` at once while the socket stays open. A request is *accepted* when ``InFlightMiddleware``
admitted it before draining began; once every accepted request has been answered (or ``XLT_DRAIN_TIMEOUT_S``
has passed) the server's own SIGTERM handler runs, and uvicorn closes the socket and stops the app. From then on
new connections are refused. A second SIGTERM skips the wait; SIGINT (Ctrl-C) stays uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import NotReady, error_response, record_code

if TYPE_CHECKING:
    from service.state import AppState

log = logging.getLogger(__name__)

ALWAYS_OPEN = ("/health/", "/metrics")  # probes and scrapes are answered while draining, and not counted
ADMITTED_STATE = "xlt_admitted"  # scope state: accepted before draining began


def admitted(scope: Scope) -> bool:
    """Whether the request was accepted before draining began (then it is served to the end)."""
    return bool(scope.get("state", {}).get(ADMITTED_STATE))


class InFlight:
    """How many accepted requests are not answered yet (event loop only: no locks)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is in flight; False when ``timeout_s`` ran out first."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class InFlightMiddleware:
    """Admission: while draining, answer 503 ``not_ready`` before reading anything; else count the request in
    flight until its answer is sent."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ALWAYS_OPEN):
            await self.app(scope, receive, send)
            return
        if self.state.draining:
            exc = NotReady("service not ready: shutting down")
            record_code(scope, exc.code)
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[ADMITTED_STATE] = True
        in_flight = self.state.in_flight
        in_flight.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            in_flight.leave()


def install_sigterm_drain(state: AppState) -> Callable[[], None]:
    """Put the drain in front of the server's SIGTERM handler; returns what undoes it.

    Only where a server installed a SIGTERM handler to hand over to (uvicorn does, in each worker) and the loop
    can take signals (the main thread): in-process tests and plain asyncio keep their signals untouched.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return lambda: None
    loop = asyncio.get_running_loop()
    drain: asyncio.Task[None] | None = None

    def hand_over() -> None:
        previous(signal.SIGTERM, None)

    async def drain_then_exit() -> None:
        timeout = state.settings.drain_timeout_s
        if await state.in_flight.wait_idle(timeout):
            log.info("drained: every accepted request was answered")
        else:
            log.warning("drain timeout (%.1f s): %d requests still in flight", timeout, state.in_flight.count)
        hand_over()

    def on_sigterm() -> None:
        nonlocal drain
        if drain is not None:
            log.info("second SIGTERM: stopping without waiting")
            drain.cancel()
            hand_over()
            return
        state.draining = True
        log.info("SIGTERM: draining %d requests in flight", state.in_flight.count)
        drain = loop.create_task(drain_then_exit())

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread, or no signals here
        log.info("no SIGTERM drain here: %s", exc)
        return lambda: None

    def uninstall() -> None:
        if drain is not None and not drain.done():
            drain.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous)

    return uninstall
