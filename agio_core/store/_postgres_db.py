"""The PostgreSQL store's connections: a pool opened after the schema is migrated, queries
whose failures become one clear `StoreError`, and JSON text as JSONB accepts it.

`data` columns are JSONB holding the same JSON documents as the TinyDB store. PostgreSQL text
cannot hold U+0000, so a NUL character in any string is stored as U+FFFD; nothing else changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from ..errors import StoreError
from ._postgres_schema import migrate

CONNECT_TIMEOUT_S = 10

# A JSON escape of U+0000 that is not itself an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def jsonb(model: BaseModel) -> str:
    """The model as JSON text that PostgreSQL's JSONB accepts."""
    return jsonb_text(model.model_dump_json())


def jsonb_text(text: str) -> str:
    """JSON text as PostgreSQL's JSONB accepts it."""
    if "\\u0000" in text:
        text = _JSON_NUL.sub(r"\1\\ufffd", text)
    return text


def connect_kwargs(url: str, application_name: str) -> dict[str, Any]:
    """Connection options: ours, unless the URL sets them."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error:
        given = {}
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:  # how the connections show in pg_stat_activity
        kwargs["application_name"] = application_name
    return kwargs


def describe_url(url: str) -> str:
    """`user@host:port/dbname` for messages: never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable AGIO_DATABASE_URL)"
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"{user}{host}{port}/{params.get('dbname') or ''}"


class Database:
    """The pool of one database URL; opened (and the schema migrated) on first use."""

    def __init__(self, url: str, *, min_size: int, max_size: int) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._open_lock: asyncio.Lock | None = None

    def error(self, exc: BaseException, doing: str) -> StoreError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"PostgreSQL at {describe_url(self.url)}: cannot {doing}: {detail}")

    async def open(self) -> None:
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pool is not None:
                return
            # One plain connection first: a clear error if the server is unreachable, then
            # the schema, before any pooled connection exists.
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, **connect_kwargs(self.url, "agio")
                ) as conn:
                    await migrate(conn, describe_url(self.url))
            except psycopg.Error as exc:
                raise self.error(exc, "open the database") from exc
            pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                kwargs=connect_kwargs(self.url, "agio"),
                open=False,
                name="agio",
            )
            await pool.open(wait=False)
            self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def connection(self, doing: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; a database error while it is used is a StoreError saying
        what could not be done."""
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self.error(exc, doing) from exc

    async def fetch(
        self, doing: str, query: LiteralString | sql.Composed, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        async with self.connection(doing) as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def execute(
        self, doing: str, query: LiteralString | sql.Composed, params: Sequence[Any] = ()
    ) -> int:
        """Runs `query`; how many rows it changed."""
        async with self.connection(doing) as conn:
            cursor = await conn.execute(query, params)
            return cursor.rowcount
