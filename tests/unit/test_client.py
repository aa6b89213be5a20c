"""``service.client``: request shapes, typed results, retries on 429/503 with Retry-After, errors with codes.

Driven through ``httpx.MockTransport`` (no server); sleeps are recorded, never slept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from service.client import AsyncClient, Client, Detection, Direction, ModelLanguages, Translation, XltError

Handler = Callable[[httpx.Request], httpx.Response]


def translation(text: str, target: str = "de", source: str = "en") -> dict[str, object]:
    return {"text": f"{target}:{text}", "source": source, "target": target, "model": "m", "zero_shot": False}


def echo(request: httpx.Request) -> httpx.Response:
    """A server that "translates" to ``<target>:<text>`` and records nothing."""
    body = json.loads(request.content)
    texts = [body["text"]] if isinstance(body["text"], str) else body["text"]
    return httpx.Response(200, json={"translations": [translation(t, body["target"]) for t in texts]})


def scripted(*responses: httpx.Response, seen: list[httpx.Request] | None = None) -> Handler:
    """Answers the given responses in order, then echoes."""
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return queue.pop(0) if queue else echo(request)

    return handle


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code}!"}}, headers=headers)


def client(handler: Handler, sleeps: list[float] | None = None, **kwargs: object) -> Client:
    sleep = sleeps.append if sleeps is not None else (lambda s: None)
    return Client("http://xlt.test/", transport=httpx.MockTransport(handler), sleep=sleep, **kwargs)  # type: ignore[arg-type]


def test_translate_sends_the_native_shape_and_returns_dataclasses() -> None:
    seen: list[httpx.Request] = []
    with client(scripted(seen=seen), api_key="secret") as xlt:
        result = xlt.translate("Hello", target="de", source="en", examples=[("a", "b")], format="html")
    assert result == [Translation(text="de:Hello", source="en", target="de", model="m")]
    request = seen[0]
    assert request.url == "http://xlt.test/translate"
    assert request.headers["Authorization"] == "Bearer secret"
    assert json.loads(request.content) == {
        "text": "Hello",
        "source": "en",
        "target": "de",
        "format": "html",
        "examples": [{"source": "a", "target": "b"}],
    }


def test_unknown_fields_from_a_newer_server_are_ignored() -> None:
    newer = httpx.Response(200, json={"translations": [translation("x") | {"new_field": 1}]})
    with client(scripted(newer)) as xlt:
        assert xlt.translate(["x"], target="de")[0].text == "de:x"


def test_retries_429_and_503_honouring_retry_after() -> None:
    sleeps: list[float] = []
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    answers = [
        error(429, "overloaded", {"Retry-After": "2"}),
        error(503, "not_ready"),  # no Retry-After: exponential backoff (0.5 * 2**1)
        error(429, "rate_limited", {"Retry-After": when}),  # an HTTP date: capped at max_backoff_s
    ]
    with client(scripted(*answers), sleeps) as xlt:
        assert xlt.translate("x", target="fr")[0].text == "fr:x"
    assert sleeps[:2] == [2.0, 1.0]
    assert sleeps[2] == 30.0


def test_gives_up_after_the_retries_with_the_servers_code() -> None:
    sleeps: list[float] = []
    handler = scripted(*[error(429, "overloaded", {"Retry-After": "1"})] * 10)
    with client(handler, sleeps, retries=2) as xlt, pytest.raises(XltError) as caught:
        xlt.translate("x", target="de")
    assert (caught.value.status, caught.value.code, caught.value.retry_after_s) == (429, "overloaded", 1.0)
    assert sleeps == [1.0, 1.0]


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    with client(scripted(error(422, "unsupported_language")), sleeps) as xlt, pytest.raises(XltError) as caught:
        xlt.translate("x", target="xx")
    assert caught.value.code == "unsupported_language" and caught.value.message == "unsupported_language!"
    assert sleeps == []
    plain = httpx.Response(502, text="bad gateway")
    with client(scripted(plain)) as xlt, pytest.raises(XltError, match="http_502"):
        xlt.translate("x", target="de")


def test_refused_connections_are_retried_then_reported() -> None:
    sleeps: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client(refuse, sleeps, retries=1) as xlt, pytest.raises(XltError) as caught:
        xlt.languages()
    assert caught.value.code == "unreachable" and sleeps == [0.5]


def test_batched_keeps_order_and_request_size() -> None:
    seen: list[httpx.Request] = []
    with client(scripted(seen=seen)) as xlt:
        out = list(xlt.translate_batched((str(i) for i in range(7)), target="de", batch_size=3))
    assert [t.text for t in out] == [f"de:{i}" for i in range(7)]
    assert [len(json.loads(r.content)["text"]) for r in seen] == [3, 3, 1]


def test_detect_and_languages() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/detect":
            candidates = [{"language": "de", "confidence": 0.9}, {"language": "en", "confidence": 0.1}]
            return httpx.Response(
                200,
                json={"model": "m", "detections": [{"language": "de", "confidence": 0.9, "candidates": candidates}]},
            )
        direction = {"source": "en", "target": "de", "zero_shot": False}
        return httpx.Response(
            200, json={"models": [{"model": "m", "languages": ["en", "de"], "directions": [direction]}]}
        )

    with client(handle) as xlt:
        assert xlt.detect("Haus") == [Detection("de", 0.9, (("de", 0.9), ("en", 0.1)))]
        assert xlt.languages() == [ModelLanguages("m", ("en", "de"), (Direction("en", "de", False),))]


async def test_async_client_retries_and_batches_concurrently() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    seen: list[httpx.Request] = []
    handler = scripted(error(503, "not_ready", {"Retry-After": "3"}), seen=seen)
    async with AsyncClient("http://xlt.test", transport=httpx.MockTransport(handler), sleep=sleep) as xlt:
        one = await xlt.translate("x", target="de")
        many = [t.text async for t in xlt.translate_batched([str(i) for i in range(10)], "fr", batch_size=4)]
    assert one[0].text == "de:x" and sleeps == [3.0]
    assert many == [f"fr:{i}" for i in range(10)]
    assert len(seen) == 2 + 3  # the 503 and its retry, then three batches


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="retries"):
        Client(retries=-1)
    with client(echo) as xlt, pytest.raises(ValueError, match="batch_size"):
        list(xlt.translate_batched(["x"], "de", batch_size=0))
