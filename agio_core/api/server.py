"""`agio serve`: check that the bind is safe, then run the app under uvicorn."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys

from ..errors import InvalidInputError
from ..settings import Settings
from ..store import open_store

APP_PATH = "agio_core.api.app:app"
# Event streams close within a second of a shutdown; this bounds what is left (a slow
# non-streaming chat): its run is then left interrupted at its last checkpoint, resumable.
GRACEFUL_SHUTDOWN_S = 5


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_serve_options(settings: Settings, host: str, workers: int, insecure: bool) -> None:
    """Refuse, in one line, what would expose the API or corrupt the embedded store."""
    if not is_loopback(host) and not settings.api_key_list() and not insecure:
        raise InvalidInputError(
            f"refusing to serve on {host} without AGIO_API_KEYS: set keys (comma-separated), "
            "bind 127.0.0.1, or pass --insecure"
        )
    if workers > 1 and not settings.database_url:
        raise InvalidInputError(
            f"--workers {workers} needs PostgreSQL: the embedded TinyDB store serves one "
            "process; set AGIO_DATABASE_URL=postgresql://… or use --workers 1"
        )


def _uvicorn_log_level(settings: Settings) -> str:
    # Server logs (startup line, access log) stay on unless AGIO_LOG_LEVEL asks for more.
    level = logging.getLevelName(settings.log_level.upper())
    return "debug" if isinstance(level, int) and level <= logging.DEBUG else "info"


async def _check_store(settings: Settings) -> None:
    store = open_store(settings)
    await store.open()
    await store.close()


def serve_main(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    reload: bool = False,
    insecure: bool = False,
) -> None:
    """Serve until SIGTERM / Ctrl-C. Raises `InvalidInputError` for unsafe options."""
    import uvicorn

    from .connections import guarded_protocol

    settings = Settings()
    check_serve_options(settings, host, workers, insecure)
    # Open the store once here: an unreachable database is one clear error (not a traceback
    # per worker), and the schema is migrated before the workers start.
    asyncio.run(_check_store(settings))
    store = "PostgreSQL" if settings.database_url else f"TinyDB at {settings.home}"
    auth = "bearer keys required" if settings.api_key_list() else "no auth"
    print(
        f"agio serve: http://{host}:{port} (docs at /docs; store: {store}; {auth})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        APP_PATH,
        # uvicorn has no timeout for request headers or bodies: see connections.py.
        http=guarded_protocol(  # type: ignore[arg-type]
            settings.header_timeout_s, settings.body_timeout_s, settings.max_connections
        ),
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        reload=reload,
        log_level=_uvicorn_log_level(settings),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
