"""Commands call the backend (embedded core or `agio serve`) through a `Connection`.

A connection owns one event loop and one open backend, so the interactive chat can call it
turn after turn while `input()` runs outside the loop (where Ctrl-C is a plain
`KeyboardInterrupt`, not a cancelled task).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import typer

from ._backend import open_backend, server_url

if TYPE_CHECKING:
    from agio_core import AgioFacade

T = TypeVar("T")


def server_of(ctx: typer.Context) -> str | None:
    """The `--server` given to the root command, else AGIO_SERVER_URL, else None (embedded)."""
    root = ctx.find_root()
    explicit = (root.obj or {}).get("server") if isinstance(root.obj, dict) else None
    return server_url(explicit)


class Connection:
    def __init__(self, server: str | None) -> None:
        import asyncio  # not at module level: `agio --help` does not need it

        self.server = server
        self._loop = asyncio.Runner()
        self._stack = AsyncExitStack()
        self._agio: AgioFacade | None = None

    def __enter__(self) -> Connection:
        self._loop.__enter__()
        try:
            self._agio = self._loop.run(self._stack.enter_async_context(open_backend(self.server)))
        except BaseException:
            self._loop.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._loop.run(self._stack.aclose())
        finally:
            self._loop.__exit__(exc_type, exc, tb)

    def run(self, work: Callable[[AgioFacade], Awaitable[T]]) -> T:
        assert self._agio is not None, "use the connection as a context manager"
        agio = self._agio

        async def main() -> T:
            return await work(agio)

        return self._loop.run(main())


def call(ctx: typer.Context, work: Callable[[AgioFacade], Awaitable[T]]) -> T:
    """Open the backend, run `work` with it, close it."""
    with Connection(server_of(ctx)) as connection:
        return connection.run(work)
