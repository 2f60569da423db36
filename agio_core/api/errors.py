"""Exceptions to HTTP answers: always `{"detail": ...}`, never a 500 for bad input."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ..errors import AgioError, http_status
from .schemas import ErrorOut, InvalidOut

log = logging.getLogger("agio.api")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can answer."""
    described = {
        401: "Missing or wrong API key (when AGIO_API_KEYS is set).",
        404: "Unknown id.",
        409: "Illegal state change.",
        413: "Request body too large.",
        422: "Invalid request.",
        503: "The store is unavailable.",
    }
    return {
        s: {"model": InvalidOut if s == 422 else ErrorOut, "description": described[s]}
        for s in statuses
    }


async def _agio_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgioError)
    status = http_status(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return JSONResponse({"detail": exc.message}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    # FastAPI answers 400 for a body it cannot decode; the API promises 422 for any bad body.
    status = 422 if exc.status_code == 400 else exc.status_code
    return JSONResponse({"detail": exc.detail}, status_code=status, headers=exc.headers)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, except that input that is not valid Unicode (a lone surrogate, which
    pydantic rightly refuses) is echoed as `?` instead of failing to render as a 500."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=False)
    return Response(body.encode("utf-8", "replace"), status_code=422, media_type="application/json")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgioError, _agio_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
