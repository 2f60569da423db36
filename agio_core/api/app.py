"""The FastAPI application: `create_app()`, and `app` for `uvicorn agio_core.api.app:app`.

Importing this module does no I/O: settings are read and the store is opened in the
lifespan, and closing the facade there leaves the runs this process drives `interrupted`
at their last checkpoint, resumable by any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .._version import __version__
from ..errors import AgioError
from ..service import Agio
from ..settings import Settings
from . import _gc
from .auth import require_api_key
from .errors import install_error_handlers
from .middleware import BodySizeLimit, ConfiguredCORS, HostCheck, WellFormedText
from .routers import agents, chat, checkpoints, events, health, models, runs, sessions, tools
from .sse import BodySendShortcut, event_schemas
from .stream_tokens import StreamTokens, redact_stream_tokens

log = logging.getLogger("agio.api")


async def _interrupt_orphans_periodically(agio: Agio) -> None:
    """Runs of a worker that died become `interrupted` (resumable) without waiting for a read."""
    while True:
        await asyncio.sleep(agio.settings.sweep_every_s)
        try:
            # A worker killed between writing a run's record and its listing line leaves
            # the listing behind: put it right before looking for orphans in it.
            if fixed := await agio.store.reconcile():
                log.warning("run listing reconciled with the run records: %d fixed", fixed)
            if found := await agio.interrupt_orphans():
                log.warning("runs left by a dead process, now interrupted: %s", ", ".join(found))
        except AgioError as exc:
            log.warning("could not look for orphaned runs: %s", exc)


DESCRIPTION = """\
agio's core behind HTTP: agents, chat with SSE streaming, runs with pause / resume / cancel,
and checkpoints with restore and fork.

Streams are Server-Sent Events: `id:` is the event's `seq`, `event:` its type and `data:` the
whole event, flat: `{seq, type, run_id, ts, ...fields}` (e.g. `content` of a `content_delta`,
`metrics` of a `run_completed`; schemas below). `GET /api/runs/{run_id}/events` (re)joins any
run and honours `Last-Event-ID`. With `AGIO_API_KEYS` set, every route but `/api/health`
needs `Authorization: Bearer <key>`; a browser `EventSource`, which cannot send it, joins a
run's events with a token from `POST /api/runs/{run_id}/stream-token` instead. Requests whose
`Host` is not this server's (loopback, its address, AGIO_ALLOWED_HOSTS) get 400. Routes
marked *(extension)* go beyond the seed API.
"""


def _with_event_schemas(app: FastAPI) -> None:
    """Add the event models to the OpenAPI components: the streaming routes' `data:` refers
    to them, and FastAPI only collects the models of JSON bodies."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            for name, schema in event_schemas().items():
                schemas.setdefault(name, schema)  # e.g. RunMetrics: FastAPI's is the same model
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs")
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="agio API")

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="agio API")

    return router


def _configure_logging(settings: Settings) -> None:
    """agio's messages at AGIO_LOG_LEVEL, next to uvicorn's on stderr, unless the program
    that embeds the app has set up logging for them itself."""
    logger = logging.getLogger("agio")
    level = logging.getLevelName(settings.log_level.upper())
    if isinstance(level, int):  # an unknown AGIO_LOG_LEVEL leaves the default
        logger.setLevel(level)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        logger.addHandler(handler)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app; `settings` default to the environment / `.env`, read at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings()
        _configure_logging(resolved)
        app.state.settings = resolved
        app.state.api_keys = [key.encode() for key in resolved.api_key_list()]
        app.state.stream_tokens = StreamTokens(app.state.api_keys, resolved.stream_token_ttl_s)
        redact_stream_tokens(logging.getLogger("uvicorn.access"))
        async with Agio(resolved, serving=True) as agio:
            app.state.agio = agio
            sweeper = asyncio.create_task(_interrupt_orphans_periodically(agio))
            _gc.tune_for_serving()
            try:
                yield
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

    # The docs are served by routes of our own so that, like every route but health, they
    # need a key when AGIO_API_KEYS is set (SPEC §5).
    app = FastAPI(
        title="agio",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    _with_event_schemas(app)
    app.include_router(health.router)
    protected = [Depends(require_api_key)]
    for module in (agents, chat, runs, checkpoints, sessions, tools, models):
        app.include_router(module.router, dependencies=protected)
    app.include_router(events.router)  # each of its routes says how it is authenticated
    app.include_router(docs_router(app), dependencies=protected)
    # The last added is outermost: CORS wraps everything, so even a 413 carries its headers;
    # the Host check comes first of all, and the body send shortcut is outside every layer
    # it lets event streams skip.
    app.add_middleware(WellFormedText)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ConfiguredCORS)
    app.add_middleware(HostCheck)
    app.add_middleware(BodySendShortcut)
    return app


app = create_app()
