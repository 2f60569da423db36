"""ASGI guards in front of the routes: the Host check, a request-body size limit,
well-formed Unicode in bodies, and CORS when configured."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..attachments import MAX_ATTACHED_BYTES

MAX_BODY_BYTES = 1024 * 1024
# Routes whose bodies carry attachments (images in base64) get room for them besides the rest.
ATTACHING_PATHS = frozenset({"/api/chat", "/api/runs"})


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"request body larger than {limit} bytes")


class BodySizeLimit:
    """413 for a body over `limit` bytes, declared (Content-Length) or streamed (chunked).

    The body is read here in full before the route runs; API bodies are small JSON documents,
    so buffering them costs nothing and spares every route a partial-read failure mode.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        attaching_limit: int = MAX_BODY_BYTES + MAX_ATTACHED_BYTES,
    ) -> None:
        self.app = app
        self.limits = (limit, attaching_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        limit = self.limits[scope["path"] in ATTACHING_PATHS]
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(send, limit)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending its body: let the app see that.
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


# A `\uD800`-`\uDFFF` escape: the only way JSON text in valid UTF-8 can carry a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def malformed_text(body: bytes) -> str | None:
    """Why `body` is not well-formed Unicode text, or None.

    Python's JSON decoder lets through what no store can write: UTF-8-encoded surrogates
    (it decodes bytes with `surrogatepass`) and lone `\\ud800` escapes. Refused here, once
    for every route, they are a 422 instead of a failed write deep inside a route.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"request body is not valid UTF-8 (byte {exc.start})"
    if _SURROGATE_ESCAPE.search(body) is None:
        return None  # the common case: no escape that could make a surrogate
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route says what is wrong with it
    if _has_surrogate(document):
        return "request body: a string holds a lone surrogate (\\ud800-\\udfff), not valid Unicode"
    return None


class WellFormedText:
    """422 for a request body that is not well-formed Unicode (see `malformed_text`). Sits
    inside `BodySizeLimit`, which hands it the body in one piece."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if problem := malformed_text(body):
            await _refuse(send, 422, problem)
            return
        await self.app(scope, _replay(messages, receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out `messages` first, then waits on the real one (disconnects)."""
    pending = list(messages)

    async def replaying() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(header: str) -> str:
    """The name in a Host header, without its port: `[::1]:8000` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, port = header.rpartition(":")
    return name.rstrip(".") if name and port.isdigit() else header.rstrip(".")


def parse_allowed_hosts(value: str) -> list[str] | None:
    """AGIO_ALLOWED_HOSTS: names (`api.example.com`), `*.example.com` for a domain's
    sub-names, or `*` for any Host (None: no check)."""
    names = [host_name(item) for item in value.split(",") if item.strip()]
    return None if "*" in names else names


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(name: str, allowed: list[str], bound: str | None) -> bool:
    if _is_loopback(name) or name == bound:
        return True
    for pattern in allowed:
        if pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class HostCheck:
    """400 for a request whose Host is not this server's: a loopback name, the address the
    connection came in on, or a name in AGIO_ALLOWED_HOSTS. A web page can make a browser
    send requests to a loopback server through a DNS name of its own that resolves to
    127.0.0.1 (DNS rebinding); its Host header then names the page's domain, not ours."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._allowed: list[str] | None = None
        self._read = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._read:
            self._allowed = parse_allowed_hosts(scope["app"].state.settings.allowed_hosts)
            self._read = True
        if self._allowed is not None:
            header = next((v for k, v in scope["headers"] if k == b"host"), None)
            name = host_name(header.decode("latin-1")) if header is not None else ""
            server = scope.get("server")
            bound = server[0].lower() if server else None
            if not host_allowed(name, self._allowed, bound):
                shown = name[:100].encode("ascii", "backslashreplace").decode() or "(none)"
                await _refuse(
                    send,
                    400,
                    f"Host {shown!r} is not this server's: add it to AGIO_ALLOWED_HOSTS "
                    "(comma-separated names; '*' allows any)",
                )
                return
        await self.app(scope, receive, send)


class ConfiguredCORS:
    """CORS only when `AGIO_CORS_ORIGINS` is set; read at the first request, not at import."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: ASGIApp | None = None

    def _build(self, scope: Scope) -> ASGIApp:
        settings = scope["app"].state.settings
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        if not origins:
            return self.app
        return CORSMiddleware(
            self.app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._inner is None:
            self._inner = self._build(scope)
        await self._inner(scope, receive, send)
