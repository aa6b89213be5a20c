"""FastAPI dependencies for keys, and ``authenticate_request`` for routes that also take a key in the body.

Why security schemes and not plain headers: ``HTTPBearer`` and ``APIKeyHeader`` put both ways of sending a key
in the OpenAPI document (the "Authorize" button of /docs) without making either one required by the schema; the
guard decides. The key id (never the key) is left in the request scope for the access log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.access_log import KEY_ID_STATE
from service.auth.guard import Caller, Guard
from service.errors import NotReady
from service.state import state_of

_bearer = HTTPBearer(auto_error=False, description="an API key from `xlt keys create`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key, as a header of its own")


def get_guard(request: Request) -> Guard:
    guard = state_of(request).guard
    if guard is None:
        raise NotReady("service not ready: starting")
    return guard


def presented_key(request: Request) -> str | None:
    """The key in ``Authorization: Bearer`` or ``X-API-Key``, if any."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


async def _authenticate(request: Request, presented: str | None) -> Caller:
    caller = await get_guard(request).authenticate(presented)
    if caller.key_id is not None:
        request.scope.setdefault("state", {})[KEY_ID_STATE] = caller.key_id
    return caller


async def require_caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    """Routes that serve clients: anonymous while keys are optional, else a valid key within its rate."""
    return await _authenticate(request, bearer.credentials if bearer is not None else header)


async def require_admin(request: Request, caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    """Admin routes (model reload): an admin key once keys are required."""
    return get_guard(request).require_admin(caller)


async def authenticate_request(request: Request, body_key: str | None = None) -> Caller:
    """For routes that also accept a key in the body (LibreTranslate's ``api_key``): the headers win, then the
    body; an empty ``body_key`` counts as none. Charge characters with ``async with caller.charge(n):``."""
    return await _authenticate(request, presented_key(request) or (body_key or None))
