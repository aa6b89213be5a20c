"""The OpenAPI document tells the truth about errors: every error answer is ``ErrorResponse``.

Why: FastAPI documents 422 as its own ``HTTPValidationError`` (``{"detail": [...]}``), which this service never
sends, and leaves other error codes undocumented. Clients generated from the document, and schemathesis checking
answers against it, must see the one shape of ``service/errors.py``. Any route can answer 4xx (bad input, 401,
413, 429) and 5xx (503 while draining, 504), so every operation gets ``4XX`` and ``5XX`` entries.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.schemas import ErrorResponse

_REF = "#/components/schemas/ErrorResponse"
_PLAIN_REF = "#/components/schemas/PlainErrorResponse"
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
# LibreTranslate-compatible routes answer ``{"error": "message"}``; the middlewares in front of every route (body
# limit, drain) still answer the native shape, so those routes may send either.
_PLAIN = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_EITHER = {"anyOf": [{"$ref": _REF}, {"$ref": _PLAIN_REF}]}


def _plain_errors(responses: dict[str, Any]) -> bool:
    """Whether an operation documents LibreTranslate's error shape (an example with a string ``error``)."""
    for status, response in responses.items():
        example = response.get("content", {}).get("application/json", {}).get("example")
        if status[:1] in ("4", "5") and isinstance(example, dict) and isinstance(example.get("error"), str):
            return True
    return False


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorResponse"] = error_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            shape: dict[str, Any] = {"$ref": _REF}
            if _plain_errors(responses):
                components["PlainErrorResponse"] = _PLAIN
                shape = _EITHER
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response.setdefault("content", {}).setdefault("application/json", {})["schema"] = shape
            for status, what in (("4XX", "invalid request"), ("5XX", "service error")):
                content = {"application/json": {"schema": shape}}
                responses.setdefault(status, {"description": f"{what} (see the error code)", "content": content})
    for name in _FASTAPI_ONLY:
        components.pop(name, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Post-process the document FastAPI builds (once; FastAPI caches it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
