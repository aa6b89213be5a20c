"""The one error taxonomy of the service (TGI ``error_type()`` style).

Why: every failure a client can see is a domain exception with a stable ``code`` and an HTTP status, rendered
in one place as ``{"error": {"code", "message"}}``. The same code labels ``xlt_requests_total``, so dashboards
and clients agree on what went wrong. Routes raise; they never build error responses themselves.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

ERROR_CODE_KEY = "xlt_error_code"  # where handlers leave the code in the ASGI scope state for the metrics.
STORE_KEY = "xlt_error_store"  # and, for a store's failure, the store.


class XltError(Exception):
    """Base of every client-visible failure."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(XltError):
    code, status = "invalid_request", 422


class InvalidJson(XltError):
    code, status = "invalid_json", 400


class EmptyText(XltError):
    code, status = "empty_text", 422


class UnsupportedLanguage(XltError):
    code, status = "unsupported_language", 422


class UnsupportedDirection(XltError):
    code, status = "unsupported_direction", 422


class DetectionUnavailable(XltError):
    code, status = "detection_unavailable", 422


class ModelNotFound(XltError):
    code, status = "model_not_found", 404


class PayloadTooLarge(XltError):
    code, status = "payload_too_large", 413


class TextTooLong(XltError):
    code, status = "text_too_long", 413


class TooManyItems(XltError):
    code, status = "too_many_items", 413


class Overloaded(XltError):
    """The queue is full: come back later (backpressure instead of unbounded latency)."""

    code, status = "overloaded", 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class NotReady(XltError):
    code, status = "not_ready", 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class Timeout(XltError):
    code, status = "timeout", 504


class EngineError(XltError):
    code, status = "engine_error", 500


class InternalError(XltError):
    code, status = "internal_error", 500


class FewShotUnsupported(XltError):
    """Examples sent to a model whose manifest has no ``few_shot`` format (it was not trained with them)."""

    code, status = "few_shot_unsupported", 422


class TooManyExamples(XltError):
    code, status = "too_many_examples", 413


class ExampleTooLong(XltError):
    code, status = "example_too_long", 413


class InvalidMemoryId(XltError):
    code, status = "invalid_memory_id", 422


class MemoryNotFound(XltError):
    code, status = "memory_not_found", 404


class InvalidImport(XltError):
    """A TSV or TMX import that cannot be read; the message names the line or unit."""

    code, status = "invalid_import", 422


class ReloadFailed(XltError):
    code, status = "reload_failed", 500


class Unauthorized(XltError):
    """No API key, or one that is unknown or revoked."""

    code, status = "unauthorized", 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(XltError):
    """A valid key that may not do this (an admin route)."""

    code, status = "forbidden", 403


class RateLimited(XltError):
    code, status = "rate_limited", 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class QuotaExceeded(RateLimited):
    """The key's characters for today are spent; Retry-After points at the next UTC midnight."""

    code, status = "quota_exceeded", 429


class StoreUnavailable(XltError):
    """The data store is locked, unreadable or unwritable (nothing was half-written)."""

    code, status = "store_unavailable", 503

    def __init__(self, message: str, store: str) -> None:
        super().__init__(message)
        self.store = store  # "memory store", "key store": counted in xlt_store_errors_total

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class StoreFull(XltError):
    """The data store's disk (or its size limit) is full; the write was rolled back whole."""

    code, status = "store_full", 507

    def __init__(self, message: str, store: str) -> None:
        super().__init__(message)
        self.store = store


class DocumentError(XltError):
    """A file that cannot be translated as sent (``service.documents``). Raised as such, it is a file that does
    not parse as its format (a corrupt zip, a .po syntax error: the message names the line); each subclass is a
    more specific stable code. ``InvalidFile`` is the same class."""

    code, status = "invalid_file", 422


InvalidFile = DocumentError


class UnsupportedFormat(DocumentError):
    """The file's extension names no format the service reads."""

    code, status = "unsupported_format", 415


class FileTooLarge(DocumentError):
    """Over ``XLT_MAX_FILE_BYTES``."""

    code, status = "file_too_large", 413


class UnsafeFile(DocumentError):
    """Refused before it was opened: a zip bomb (entries, total size, ratio) or XML with entities."""

    code, status = "unsafe_file", 422


class InvalidEncoding(DocumentError):
    """Text that does not decode in its format's (declared or default) encoding."""

    code, status = "invalid_encoding", 422


class InvalidJobId(XltError):
    code, status = "invalid_job_id", 422


class JobNotFound(XltError):
    """No such job, or another key's (ids cannot be probed)."""

    code, status = "job_not_found", 404


class JobNotDone(XltError):
    """``GET /jobs/{id}/result`` while the job is queued or running: poll ``GET /jobs/{id}``, then come back."""

    code, status = "job_not_done", 409

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "2"}


class JobNoResult(XltError):
    """``GET /jobs/{id}/result`` of a failed or cancelled job: there is nothing to download."""

    code, status = "job_no_result", 409


class JobFinished(XltError):
    """``DELETE /jobs/{id}`` of a job already done, failed or cancelled."""

    code, status = "job_finished", 409


class DownloadNotFound(XltError):
    """A translated file's download name that is unknown or has expired."""

    code, status = "download_not_found", 404


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    # Messages may quote client input: lone surrogates become escapes, so rendering the error never fails.
    return {"error": {"code": code, "message": message.encode("utf-8", "backslashreplace").decode("utf-8")}}


def error_response(exc: XltError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers())


def record_code(scope: MutableMapping[str, Any], code: str) -> None:
    """Leave the error code where the metrics middleware reads it."""
    scope.setdefault("state", {})[ERROR_CODE_KEY] = code


def record_error(scope: MutableMapping[str, Any], exc: XltError) -> None:
    """``record_code``, and for a store's failure the store's name too (counted by the metrics middleware)."""
    record_code(scope, exc.code)
    if isinstance(exc, StoreUnavailable | StoreFull):
        scope["state"][STORE_KEY] = exc.store


def _render(request: Request, exc: XltError) -> JSONResponse:
    record_error(request.scope, exc)
    return error_response(exc)


async def _xlt_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XltError)
    return _render(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _render(request, InvalidJson("request body is not valid JSON"))
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p)[:64] for p in e.get("loc", ()) if p != "body") or "body"  # keys are client input
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return _render(request, InvalidRequest("; ".join(parts) or "invalid request"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": undecodable bytes and the like.
        return _render(request, InvalidJson(str(exc.detail)))
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    record_code(request.scope, code)
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=dict(exc.headers or {}))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _render(request, InternalError("internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(XltError, _xlt_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)
