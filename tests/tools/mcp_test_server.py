"""An MCP server written with the SDK, for the failure cases no real server shows on demand.

Run as `python mcp_test_server.py [PIDFILE]` (stdio; writes its pid to PIDFILE), or served
over streamable HTTP by the tests (`build().streamable_http_app()`).
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, TextContent, ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)


def build() -> MCPServer:
    server = MCPServer("agio-test")

    @server.tool(annotations=READ_ONLY)
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @server.tool(annotations=READ_ONLY)
    def whoami() -> str:
        """The server's process id."""
        return str(os.getpid())

    @server.tool(annotations=READ_ONLY)
    def environ(name: str) -> str:
        """The value of an environment variable of the server's process."""
        return os.environ.get(name, "(unset)")

    @server.tool(annotations=READ_ONLY)
    def header(name: str, ctx: Context) -> str:
        """The value of a header of the HTTP request that carried this call."""
        return (ctx.headers or {}).get(name, "(absent)")

    @server.tool()
    def sleep(seconds: float) -> str:
        """Sleep, then answer."""
        time.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def crash() -> str:
        """Exit the server process in the middle of the call."""
        os._exit(3)

    @server.tool()
    def fail() -> str:
        """Raise: the SDK answers with isError."""
        raise ToolError("the tool failed on purpose")

    @server.tool()
    def huge(size: int) -> str:
        """Return `size` characters."""
        return "x" * size

    @server.tool()
    def picture() -> list[TextContent | ImageContent]:
        """A caption and a PNG."""
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100).decode()
        return [TextContent(text="a caption"), ImageContent(data=png, mime_type="image/png")]

    @server.tool(structured_output=True)
    def weather(city: str) -> dict[str, object]:
        """Structured content."""
        return {"city": city, "temperature": 21}

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add a tool `extra` and tell the client that the list changed."""

        def extra() -> str:
            """The tool added at run time."""
            return "extra!"

        server.add_tool(extra, annotations=READ_ONLY)
        await ctx.session.send_tool_list_changed()
        return "grown"

    return server


if __name__ == "__main__":
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(str(os.getpid()))
    build().run()
