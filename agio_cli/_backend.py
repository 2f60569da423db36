"""Where commands send their calls: the embedded core, or an `agio serve` over HTTP.

Both implement `agio_core.AgioFacade` (mypy checks it here), so every command has one code
path for both modes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agio_core import AgioFacade


@cache
def _dotenv() -> dict[str, str | None]:
    """`.env` in the working directory, read as the core's settings read it (SPEC §7)."""
    from dotenv import dotenv_values  # python-dotenv: what pydantic-settings reads .env with

    try:
        return dict(dotenv_values(".env")) if os.path.isfile(".env") else {}
    except (OSError, UnicodeDecodeError):
        return {}


def setting(name: str) -> str | None:
    """An AGIO_* setting of the CLI itself: the environment first, then `.env`."""
    return os.environ.get(name) or _dotenv().get(name) or None


def server_url(explicit: str | None) -> str | None:
    return explicit or setting("AGIO_SERVER_URL")


@asynccontextmanager
async def open_backend(url: str | None) -> AsyncIterator[AgioFacade]:
    if url:
        from .remote import RemoteAgio

        async with RemoteAgio(url, api_key=setting("AGIO_API_KEY")) as remote:
            yield remote
    else:
        from agio_core import Agio

        async with Agio() as agio:
            yield agio
