"""The load generators' HTTP client: aiohttp, because the generator shares the server's two cores.

Why not httpx (the service's own client library): measured on this machine at 64 concurrent connections, an
httpx ``AsyncClient`` spent 9.8 ms of CPU per request and aiohttp 0.15 ms; with httpx the generator took most
of a core from the server it was measuring, and every throughput figure was the generator's, not the server's.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass
class Answer:
    status: int
    body: bytes
    retry_after: str | None

    def json(self) -> Any:
        return json.loads(self.body)


def session(url: str, connections: int, timeout_s: float, keepalive: bool = True) -> aiohttp.ClientSession:
    """A session on ``url`` with up to ``connections`` sockets; ``keepalive=False``: a fresh socket per request."""
    connector = aiohttp.TCPConnector(limit=connections, force_close=not keepalive)
    return aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s))


async def post_json(
    http: aiohttp.ClientSession, path: str, payload: Any, headers: dict[str, str] | None = None
) -> Answer:
    async with http.post(path, json=payload, headers=headers) as response:
        return Answer(response.status, await response.read(), response.headers.get("Retry-After"))


async def get_text(http: aiohttp.ClientSession, path: str) -> str:
    async with http.get(path) as response:
        return await response.text()
