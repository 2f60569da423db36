"""Where commands send their calls: the embedded core, or an `agio serve` over HTTP.

Both backends expose the same methods (those of `agio_core.Agio`), so every command has one
code path for both modes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agio_core import Agio


def server_url(explicit: str | None) -> str | None:
    return explicit or os.environ.get("AGIO_SERVER_URL") or None


@asynccontextmanager
async def open_backend(url: str | None) -> AsyncIterator[Agio]:
    if url:
        from .remote import RemoteAgio

        async with RemoteAgio(url, api_key=os.environ.get("AGIO_API_KEY")) as remote:
            yield remote  # type: ignore[misc]  # same methods, duck-typed
    else:
        from agio_core import Agio

        async with Agio() as agio:
            yield agio
