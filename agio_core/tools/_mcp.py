"""MCP servers as tool sources, through the official `mcp` SDK (imported only when a server
is first used, so `agio --help` and runs without MCP never load it).

A server is started (stdio) or connected to (streamable HTTP) the first time a run needs
it, and then kept for every later run of this process: `McpPool` holds one connection per
server definition. Its tool listing is cached and listed again after the server says it
changed (`notifications/tools/list_changed`). A server that cannot start, dies or does not
answer in time makes its tools give the model an `is_error` result and the user one line on
the `agio` logger; the run goes on, and the next run starts the server again.

Each connection lives in a task of its own, because the SDK's transports are anyio context
managers that must be entered and left by the same task. Closing the pool (when the `Agio`
facade closes: end of a CLI command, Ctrl-C, SIGTERM, server shutdown) ends every stdio
server: the SDK closes its stdin, then signals its whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError
from ..settings import Settings
from ._context import RunContext
from ._policy import Policy
from ._registry import Tool, ToolResult, parse_arguments, truncated

if TYPE_CHECKING:
    import mcp.types as mcp_types
    from mcp import ClientSession

    from ..agents import McpServer

log = logging.getLogger("agio")
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001


class McpUnavailable(Exception):
    """The server could not be started, died, or did not answer in time."""


def exposed_name(server: str, tool: str) -> str:
    """`SERVER__TOOL`, with characters the model APIs refuse replaced, at most 64 long."""
    name = f"{server}__{re.sub(r'[^a-zA-Z0-9_-]', '_', tool)}"
    return name[:64]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    if isinstance(exc, McpUnavailable):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Connection:
    """One running server and its client session, owned by one task."""

    def __init__(self, name: str, config: McpServer, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.settings = settings
        self.session: ClientSession | None = None
        self.error: str | None = None
        self.listing: list[mcp_types.Tool] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stop.is_set()

    @property
    def log_path(self) -> Path:
        return Path(self.settings.home) / "logs" / f"mcp-{self.name}.log"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name=f"agio-mcp-{self.name}")
        try:
            await asyncio.wait_for(self._ready.wait(), self.settings.mcp_start_timeout_s)
        except TimeoutError:
            await self.close()
            raise McpUnavailable(
                f"MCP server {self.name!r} did not start within "
                f"{self.settings.mcp_start_timeout_s:g} s"
            ) from None
        if self.session is None:
            raise McpUnavailable(f"MCP server {self.name!r} could not start: {self.error}")

    async def _serve(self) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._transport(stack)
                session = await stack.enter_async_context(
                    ClientSession(read, write, message_handler=self._on_message)
                )
                await session.initialize()
                self.session = session
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:
            self.error = _describe(exc)
            self.error += self._log_hint()
        finally:
            self.session = None
            self._stop.set()
            self._ready.set()

    async def _transport(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        try:  # `${VAR}`s are filled in here and only here: they are never stored filled in
            config = self.config.resolved()
        except InvalidInputError as exc:
            raise McpUnavailable(exc.message) from None
        if config.command is not None:
            from mcp import StdioServerParameters, stdio_client

            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            errlog = stack.enter_context(open(self.log_path, "a", encoding="utf-8"))  # noqa: SIM115
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env or None, cwd=config.cwd
            )
            streams = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            assert config.url is not None
            client = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=config.headers,
                    timeout=httpx2.Timeout(30.0, read=self.settings.mcp_call_timeout_s),
                )
            )
            streams = await stack.enter_async_context(
                streamable_http_client(config.url, http_client=client)
            )
        return streams[0], streams[1]

    async def _on_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method == "notifications/tools/list_changed":
            self.listing = None  # listed again when the next run starts

    async def tools(self) -> list[mcp_types.Tool]:
        session = self._session()
        if self.listing is None:
            listing: list[mcp_types.Tool] = []
            cursor: str | None = None
            for _ in range(100):  # a server whose pages never end cannot hang the run
                from mcp.types import PaginatedRequestParams

                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await self._request(session.list_tools(params=params), "list its tools")
                listing.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            self.listing = listing
        return self.listing

    async def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        session = self._session()
        timeout = self.settings.mcp_call_timeout_s
        return await self._request(
            session.call_tool(tool, arguments, read_timeout_seconds=timeout), f"run {tool!r}"
        )

    def _session(self) -> ClientSession:
        if self.session is None or not self.alive:
            raise McpUnavailable(f"MCP server {self.name!r} is not running: {self.error}")
        return self.session

    async def _request(self, request: Any, what: str) -> Any:
        from mcp import MCPError

        try:
            return await request
        except MCPError as exc:
            if exc.error.code == _CONNECTION_CLOSED:
                self._stop.set()  # started again by the next run that needs it
                raise McpUnavailable(
                    f"MCP server {self.name!r} stopped while asked to {what} (it exited or "
                    "closed the connection)" + self._log_hint()
                ) from None
            if exc.error.code == _REQUEST_TIMEOUT:
                raise McpUnavailable(
                    f"MCP server {self.name!r} did not {what} within "
                    f"{self.settings.mcp_call_timeout_s:g} s"
                ) from None
            raise

    def _log_hint(self) -> str:
        """Where the server's stderr went, if it said anything."""
        with contextlib.suppress(OSError):
            if self.config.command is not None and self.log_path.stat().st_size > 0:
                return f" (its messages are in {self.log_path})"
        return ""

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None and not self._ready.is_set():
            # Still starting (a server may hang in its handshake): stop waiting for it. The
            # SDK still stops the process, shielded from this cancellation.
            self._task.cancel()
        if self._task is not None:
            # Shielded: a stdio server is always stopped, even if our caller is cancelled.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._task)


class McpPool:
    """The MCP servers this process has started, reused across its runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connections: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def connection(self, name: str, config: McpServer) -> _Connection:
        key = f"{name}\x00{config.model_dump_json()}"
        async with self._locks.setdefault(key, asyncio.Lock()):
            current = self._connections.get(key)
            if current is not None and current.alive:
                return current
            connection = _Connection(name, config, self.settings)
            # Kept before it is started: a run cancelled while the server starts leaves it
            # here, where closing the pool stops it.
            self._connections[key] = connection
            await connection.start()
            return connection

    async def tools(self, name: str, config: McpServer) -> list[McpTool]:
        """The server's tools (starting it if it is not running); raises McpUnavailable."""
        connection = await self.connection(name, config)
        try:
            listing = await connection.tools()
        except Exception as exc:
            if isinstance(exc, McpUnavailable):
                raise
            raise McpUnavailable(f"MCP server {name!r} could not list its tools: {exc}") from None
        tools: dict[str, McpTool] = {}
        for tool in listing:
            exposed = exposed_name(name, tool.name)
            if exposed in tools:
                log.warning("MCP server %r: two tools are both exposed as %s", name, exposed)
                continue
            tools[exposed] = McpTool(self, name, config, tool, exposed)
        return list(tools.values())

    async def aclose(self) -> None:
        connections = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.close() for c in connections))


def _content_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in {"image", "audio"}:
        size = len(block.data) * 3 // 4
        return f"[{kind} ({block.mime_type}, about {size} bytes): not passed on to the model]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        return text if text is not None else f"[binary resource {resource.uri}: not shown]"
    if kind == "resource_link":
        return f"[resource: {block.uri}]"
    return f"[{kind or 'unknown'} content: not shown]"


def result_of(result: mcp_types.CallToolResult) -> ToolResult:
    """An MCP tool result as the text the model reads."""
    parts = [_content_text(block) for block in result.content]
    has_text = any(getattr(block, "type", "") == "text" for block in result.content)
    if result.structured_content is not None and not has_text:
        # Servers should repeat structured content as text; when one does not, it is the result.
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    text = "\n".join(parts) if parts else "(no output)"
    return ToolResult(truncated(text), is_error=bool(result.is_error))


class McpTool(Tool):
    """One tool of an MCP server, under its exposed name `SERVER__TOOL`."""

    def __init__(
        self, pool: McpPool, server: str, config: McpServer, tool: mcp_types.Tool, exposed: str
    ) -> None:
        self._pool = pool
        self._config = config
        self.server = server
        self.remote_name = tool.name
        self.name = exposed
        self.description = tool.description or tool.name
        self._schema = tool.input_schema or {"type": "object", "properties": {}}
        self.source = f"mcp:{server}"
        read_only = tool.annotations is not None and tool.annotations.read_only_hint is True
        self.default_policy: Policy = "allow" if read_only else "ask"

    @property
    def parameters(self) -> dict[str, Any]:
        return self._schema  # as the server gave it

    async def call(self, arguments: str, ctx: RunContext) -> ToolResult:
        raw = parse_arguments(arguments)
        if isinstance(raw, ToolResult):
            return raw
        try:
            connection = await self._pool.connection(self.server, self._config)
            result = await connection.call(self.remote_name, raw)
        except McpUnavailable as exc:
            log.warning("%s", exc)
            return ToolResult(str(exc), is_error=True)
        except Exception as exc:  # a JSON-RPC error answer, e.g. invalid arguments
            return ToolResult(f"MCP error from {self.server!r}: {exc}", is_error=True)
        return result_of(result)
