"""Bearer-key auth: with `AGIO_API_KEYS` set, every route but health needs one of the keys;
a run's event stream also takes a stream token in `?token=` (see `stream_tokens`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .stream_tokens import StreamTokens

_bearer = HTTPBearer(auto_error=False, description="One of the keys in AGIO_API_KEYS.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def key_matches(candidate: str, keys: list[bytes]) -> bool:
    """Constant-time check against every key, so timing tells nothing about which one is near."""
    given = candidate.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key)
    return matched


def _missing_key() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="missing or invalid API key: send 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _has_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    keys: list[bytes] = request.app.state.api_keys
    return credentials is not None and key_matches(credentials.credentials, keys)


async def require_api_key(request: Request, credentials: Credentials) -> None:
    if request.app.state.api_keys and not _has_key(request, credentials):
        raise _missing_key()


async def request_key(credentials: Credentials) -> bytes | None:  # async: see deps._agio
    """The API key the request authenticated with (None when the server has no keys)."""
    return credentials.credentials.encode() if credentials is not None else None


async def require_api_key_or_stream_token(
    request: Request,
    credentials: Credentials,
    token: Annotated[
        str | None,
        Query(
            description="A stream token from POST /api/runs/{run_id}/stream-token, for "
            "clients that cannot send an Authorization header (a browser EventSource).",
        ),
    ] = None,
) -> None:
    if not request.app.state.api_keys or _has_key(request, credentials):
        return
    tokens: StreamTokens = request.app.state.stream_tokens
    if token is None:
        raise _missing_key()
    if not tokens.valid_for(token, request.path_params.get("run_id", "")):
        raise HTTPException(
            status_code=401,
            detail="invalid or expired stream token for this run: get a new one from "
            "POST /api/runs/{run_id}/stream-token",
        )
