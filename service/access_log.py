"""One structured log line per request, and the request id that ties a client's report to that line.

Why: the id is echoed in ``X-Request-ID`` (the client's own when it is sane, else a new one), so an operator finds
the line of a failing call. The line holds what debugging needs and nothing a log reader should not see: method,
route template (never the raw path or query string, which may carry ids or keys), status, error code, duration,
request id and key id (public). Never texts, never keys, never client addresses.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ERROR_CODE_KEY
from service.logs import request_id_var
from service.middleware import route_label

log = logging.getLogger("service.access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_STATE = "xlt_request_id"
KEY_ID_STATE = "xlt_key_id"  # set by service.auth.deps
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.match(value) else None
    return None


class AccessLogMiddleware:
    """Outermost: gives every HTTP request an id, echoes it, and logs its outcome when it is answered."""

    def __init__(self, app: ASGIApp, routes: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state[REQUEST_ID_STATE] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (REQUEST_ID_HEADER.lower().encode("ascii"), request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != header[0]]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = route_label(scope, self.routes)
            code = state.get(ERROR_CODE_KEY) or ("ok" if status < 400 else "internal_error")
            duration_ms = round(1000 * (time.perf_counter() - started), 2)
            fields = {
                "method": scope["method"],
                "route": route,
                "status": status,
                "code": code,
                "duration_ms": duration_ms,
                "request_id": request_id,
                "key_id": state.get(KEY_ID_STATE),
            }
            level = logging.WARNING if status >= 500 else logging.INFO
            log.log(level, "%s %s %d %s %.1f ms", scope["method"], route, status, code, duration_ms,
                    extra={"fields": fields})  # fmt: skip
            request_id_var.reset(token)
