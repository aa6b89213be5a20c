"""Part of the hostile-input battery against real uvicorn and the tiny real engine: here SentencePiece and
CTranslate2 see NUL, control, bidi and emoji characters, and uvicorn sees broken HTTP. Never a 5xx; the server
keeps serving. (The full battery runs in-process: tests/unit/test_hostile_input.py.)"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.conftest import Server
from tests.unit.test_hostile_input import ODD_TEXT

CASES: list[tuple[str, bytes, str, int, str | None]] = [
    ("invalid_utf8", b'{"text": "a \xff b", "source": "en", "target": "de"}', "application/json", 400, "invalid_json"),
    ("lone_surrogate", b'{"text": "a \\ud800", "source": "en", "target": "de"}', "application/json", 422,
     "invalid_request"),
    ("deep_nesting", b"[" * 30_000 + b"]" * 30_000, "application/json", 400, "invalid_json"),
    ("one_megabyte", b'{"text": "' + b"a" * (1 << 20) + b'", "target": "de"}', "application/json", 413,
     "payload_too_large"),
    ("text_plain", b'{"text": "a", "target": "de"}', "text/plain", 422, "invalid_request"),
    ("model_path", b'{"text": "a", "target": "de", "model": "../../etc/passwd"}', "application/json", 404,
     "model_not_found"),
    ("memory_path", b'{"text": "a", "target": "de", "memory": "../x"}', "application/json", 422,
     "invalid_memory_id"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "content_type", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_requests_over_http(
    server: Server, name: str, content: bytes, content_type: str, status: int, code: str | None
) -> None:
    headers = {"content-type": content_type}
    response = httpx.post(f"{server.url}/translate", content=content, headers=headers, timeout=60)
    assert response.status_code == status, response.text[:300]
    assert response.json()["error"]["code"] == code


def test_odd_unicode_through_the_real_engine(server: Server) -> None:
    texts = [t for t in ODD_TEXT.values() if len(t) <= 2000]
    response = httpx.post(
        f"{server.url}/translate", json={"text": texts[:16], "source": "en", "target": "de"}, timeout=120
    )
    assert response.status_code == 200, response.text[:300]
    out = json.loads(response.content.decode("utf-8"))["translations"]  # strict UTF-8: no lone surrogates
    assert len(out) == len(texts[:16]) and all(isinstance(t["text"], str) for t in out)
    memory = httpx.get(f"{server.url}/memories/%2e%2e", timeout=30)
    assert memory.status_code == 422 and memory.json()["error"]["code"] == "invalid_memory_id"


def _raw(server: Server, data: bytes) -> bytes:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n{}",
        b'POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"text":',  # shorter than announced
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Bad: \x00\x01\r\n\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on the plain port
    ],
    ids=["garbage", "bad_length", "short_body", "control_header", "long_path", "tls_hello"],
)
def test_broken_http_never_takes_the_server_down(server: Server, data: bytes) -> None:
    answer = _raw(server, data)
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500 or status == 200, answer[:200]
    assert httpx.get(f"{server.url}/health/ready", timeout=30).status_code == 200
