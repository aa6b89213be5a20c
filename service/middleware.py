"""Pure ASGI middlewares: request metrics, shedding load at the door, and the request body size limit.

Why pure ASGI and not ``BaseHTTPMiddleware``: no extra task per request, and the body limit can refuse a
request before the app reads a byte of JSON. The 413 answer uses the same error renderer as every other error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.batching.batcher import Scheduler
from service.errors import ERROR_CODE_KEY, STORE_KEY, Overloaded, PayloadTooLarge, error_response, record_code
from service.metrics import Metrics


def route_label(scope: Scope, routes: frozenset[str]) -> str:
    """The route template of a request (``/memories/{memory_id}``); a path refused before routing keeps its
    route when it is one; any other path is ``unmatched`` (labels and log fields stay bounded)."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    return scope["path"] if scope["path"] in routes else "unmatched"


class MetricsMiddleware:
    """Counts every HTTP request by route template, status and error code, and times it end to end; a request
    a data store failed is counted by store as well.

    ``routes`` are the app's path templates: a request refused before routing (413) is still labelled with
    the route it was sent to; any other unrouted path is ``unmatched`` (labels stay bounded).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        return route_label(scope, self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self._route(scope)
            code = state.get(ERROR_CODE_KEY) or ("ok" if status < 400 else "internal_error")
            self.metrics.requests.labels(route, str(status), code).inc()
            self.metrics.request_duration.labels(route).observe(time.perf_counter() - started)
            if (store := state.get(STORE_KEY)) is not None:
                self.metrics.store_errors.labels(store, code).inc()


class ShedMiddleware:
    """``POST /translate`` gets 429 before its body is read when every model's queue refuses any request anyway.

    Why: at four times capacity (500 requests/s of short sentences) the refusals themselves (read, parse,
    validate, tokenize, then 429) took the event loop's whole core and queued behind each other: p50 4 ms but
    p99 2 s. When each scheduler's queue alone is past its bounds the answer does not depend on the body, so it is
    given at the cost of a routing check. (A malformed body sent then gets this 429, not its 4xx.)
    """

    def __init__(self, app: ASGIApp, schedulers: dict[str, Scheduler], path: str = "/translate") -> None:
        self.app = app
        self.schedulers = schedulers
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path and self.schedulers:
            waits = [s.shedding() for s in self.schedulers.values()]
            if all(w is not None for w in waits):
                retry = min(w for w in waits if w is not None)
                exc = Overloaded("every model's queue is full; retry later", retry_after_s=retry)
                record_code(scope, exc.code)
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (by Content-Length, or counted while streaming) with 413.

    ``larger`` gives paths matching a pattern (file imports, file uploads) a limit of their own; the first match wins.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = list(larger)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        exc = PayloadTooLarge(f"request body exceeds {limit} bytes")
        record_code(scope, exc.code)
        await error_response(exc)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = next((size for pattern, size in self.larger if pattern.match(scope["path"])), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
        # Read the body up to the limit, then replay it: the app never sees a partial or oversized body.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
