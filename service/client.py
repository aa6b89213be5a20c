"""Python client of the native API: ``Client`` (sync) and ``AsyncClient``, over httpx.

Why a client in the package: the shapes, the error codes and the retry rules live next to the server that
defines them. Both clients retry 429 (overloaded, rate limited) and 503 (not ready, store unavailable)
answers and refused connections, at most ``retries`` times, waiting what ``Retry-After`` asks (capped by
``max_backoff_s``) or else an exponential backoff. Any other error raises ``XltError`` with the server's
``code``. Results are frozen dataclasses, so typos in field names fail at once.

    with Client("http://127.0.0.1:8000") as xlt:
        print(xlt.translate("Hello world.", target="de")[0].text)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})

Format = Literal["text", "html"]
Strategy = Literal["direct", "pivot", "auto"]


@dataclass(frozen=True)
class Translation:
    text: str
    source: str  # the detected language when the request said "auto"
    target: str
    model: str
    zero_shot: bool = False
    origin: str = "model"
    via: str | None = None
    score: float | None = None
    alternatives: tuple[str, ...] = ()  # with options={"alternatives": n}
    off_target: bool | None = None  # strategy "auto", zero-shot: still in another language (None: not judged)

    @classmethod
    def from_json(cls, t: dict[str, Any]) -> Translation:
        """One entry of ``/translate``'s ``translations``; keys this client does not know are ignored."""
        fields: dict[str, Any] = {k: v for k, v in t.items() if k in cls.__dataclass_fields__}
        fields["alternatives"] = tuple(t.get("alternatives") or ())
        return cls(**fields)


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # 0-1, among the model's languages
    candidates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Direction:
    source: str
    target: str
    zero_shot: bool


@dataclass(frozen=True)
class ModelLanguages:
    model: str
    languages: tuple[str, ...]
    directions: tuple[Direction, ...] = field(default_factory=tuple)


class XltError(Exception):
    """An error answer of the server (``code`` as in its error taxonomy), or ``unreachable``."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{code} ({status}): {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error(response: httpx.Response) -> XltError:
    code, message = f"http_{response.status_code}", response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", message))
    return XltError(response.status_code, code, message, _retry_after(response))


def _translate_body(
    texts: str | Sequence[str],
    target: str,
    source: str,
    model: str | None,
    format: Format,
    strategy: Strategy | None,
    examples: Sequence[tuple[str, str]] | None,
    memory: str | None,
    options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": texts if isinstance(texts, str) else list(texts),
        "source": source,
        "target": target,
        "format": format,
    }
    if model is not None:
        body["model"] = model
    if strategy is not None:
        body["strategy"] = strategy
    if examples:
        body["examples"] = [{"source": s, "target": t} for s, t in examples]
    if memory is not None:
        body["memory"] = memory
    if options:
        body["options"] = dict(options)
    return body


def _translations(data: dict[str, Any]) -> list[Translation]:
    return [Translation.from_json(t) for t in data["translations"]]


def _detections(data: dict[str, Any]) -> list[Detection]:
    return [
        Detection(
            language=d["language"],
            confidence=d["confidence"],
            candidates=tuple((c["language"], c["confidence"]) for c in d.get("candidates", [])),
        )
        for d in data["detections"]
    ]


def _languages(data: dict[str, Any]) -> list[ModelLanguages]:
    return [
        ModelLanguages(
            model=m["model"],
            languages=tuple(m["languages"]),
            directions=tuple(Direction(d["source"], d["target"], d["zero_shot"]) for d in m["directions"]),
        )
        for m in data["models"]
    ]


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    if size < 1:
        raise ValueError("batch_size must be >= 1")
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Retry:
    """When to try again: after ``Retry-After`` when given, else ``backoff_s * 2**attempt``, both capped."""

    retries: int
    backoff_s: float
    max_backoff_s: float

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next try, or None when this outcome is final."""
        if attempt >= self.retries:
            return None
        if response is not None and response.status_code not in RETRY_STATUSES:
            return None
        asked = _retry_after(response) if response is not None else None
        wait = asked if asked is not None else self.backoff_s * (2**attempt)
        return min(wait, self.max_backoff_s)

    def settle(self, attempt: int, outcome: httpx.Response | httpx.ConnectError) -> dict[str, Any] | float:
        """The answer's JSON when it succeeded, else the seconds to wait before trying again; raises
        ``XltError`` when the outcome is final. A refused connection sent nothing, so it is safe to retry."""
        if isinstance(outcome, httpx.ConnectError):
            wait = self.delay(attempt, None)
            if wait is None:
                raise XltError(0, "unreachable", str(outcome)) from outcome
            return wait
        if outcome.is_success:
            data: dict[str, Any] = outcome.json()
            return data
        wait = self.delay(attempt, outcome)
        if wait is None:
            raise _error(outcome)
        return wait


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._retry = _Retry(retries, backoff_s, max_backoff_s)
        self._options: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            "timeout": timeout_s,
            "headers": {"Authorization": f"Bearer {api_key}"} if api_key else {},
        }


class Client(_Base):
    """Blocking client; ``with Client(url) as xlt: ...`` closes its connections."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_key, timeout_s, retries, backoff_s, max_backoff_s)
        self._http = httpx.Client(transport=transport, **self._options)
        self._sleep = sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        for attempt in itertools.count():
            try:
                outcome: httpx.Response | httpx.ConnectError = self._http.request(method, path, json=body)
            except httpx.ConnectError as exc:
                outcome = exc
            step = self._retry.settle(attempt, outcome)
            if isinstance(step, dict):
                return step
            self._sleep(step)
        raise AssertionError("unreachable")

    def translate(
        self,
        texts: str | Sequence[str],
        target: str,
        source: str = "auto",
        *,
        model: str | None = None,
        format: Format = "text",
        strategy: Strategy | None = None,
        examples: Sequence[tuple[str, str]] | None = None,
        memory: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[Translation]:
        """One translation per text, in order (a single string gives a list of one)."""
        body = _translate_body(texts, target, source, model, format, strategy, examples, memory, options)
        return _translations(self._request("POST", "/translate", body))

    def translate_batched(
        self, texts: Iterable[str], target: str, source: str = "auto", *, batch_size: int = 32, **kwargs: Any
    ) -> Iterator[Translation]:
        """Translate any number of texts, ``batch_size`` per request (under the server's XLT_MAX_ITEMS)."""
        for chunk in _chunks(texts, batch_size):
            yield from self.translate(chunk, target, source, **kwargs)

    def detect(self, texts: str | Sequence[str], *, model: str | None = None) -> list[Detection]:
        body: dict[str, Any] = {"text": texts if isinstance(texts, str) else list(texts)}
        if model is not None:
            body["model"] = model
        return _detections(self._request("POST", "/detect", body))

    def languages(self) -> list[ModelLanguages]:
        return _languages(self._request("GET", "/languages"))


class AsyncClient(_Base):
    """The same as ``Client`` for asyncio; ``translate_batched`` keeps ``concurrency`` requests in flight."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, api_key, timeout_s, retries, backoff_s, max_backoff_s)
        self._http = httpx.AsyncClient(transport=transport, **self._options)
        self._sleep = sleep

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        for attempt in itertools.count():
            try:
                outcome: httpx.Response | httpx.ConnectError = await self._http.request(method, path, json=body)
            except httpx.ConnectError as exc:
                outcome = exc
            step = self._retry.settle(attempt, outcome)
            if isinstance(step, dict):
                return step
            await self._sleep(step)
        raise AssertionError("unreachable")

    async def translate(
        self,
        texts: str | Sequence[str],
        target: str,
        source: str = "auto",
        *,
        model: str | None = None,
        format: Format = "text",
        strategy: Strategy | None = None,
        examples: Sequence[tuple[str, str]] | None = None,
        memory: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[Translation]:
        body = _translate_body(texts, target, source, model, format, strategy, examples, memory, options)
        return _translations(await self._request("POST", "/translate", body))

    async def translate_batched(
        self,
        texts: Iterable[str],
        target: str,
        source: str = "auto",
        *,
        batch_size: int = 32,
        concurrency: int = 4,
        **kwargs: Any,
    ) -> AsyncIterator[Translation]:
        """Translations in input order; up to ``concurrency`` batches in flight (the server batches them)."""
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        pending: list[asyncio.Task[list[Translation]]] = []
        try:
            for chunk in _chunks(texts, batch_size):
                pending.append(asyncio.create_task(self.translate(chunk, target, source, **kwargs)))
                if len(pending) >= concurrency:
                    for translation in await pending.pop(0):
                        yield translation
            while pending:
                for translation in await pending.pop(0):
                    yield translation
        finally:  # the caller stopped early, or a batch failed: stop the batches still running
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def detect(self, texts: str | Sequence[str], *, model: str | None = None) -> list[Detection]:
        body: dict[str, Any] = {"text": texts if isinstance(texts, str) else list(texts)}
        if model is not None:
            body["model"] = model
        return _detections(await self._request("POST", "/detect", body))

    async def languages(self) -> list[ModelLanguages]:
        return _languages(await self._request("GET", "/languages"))
