"""`fetch`: GET an http(s) URL and return it as readable text.

HTML becomes text with `inscriptis` (layout-aware: lists, tables and headings stay
readable; scripts and styles are dropped); other text types come as they are; binary bodies
are described, not shown. At most `MAX_BYTES` are read, within `TIMEOUT_S` in all.

Under `agio serve` the caller's network is not the server's: fetch refuses loopback,
private, link-local and other non-public addresses (unless AGIO_FETCH_ALLOW_PRIVATE=true).
The name is resolved once, every address is checked, and the connection is made to the
checked address itself (the original name goes in `Host` and TLS SNI, and certificates are
verified against it), so a name that resolves differently a moment later (DNS rebinding)
cannot slip through. Redirects are followed by hand, each hop checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ._context import RunContext
from ._registry import ToolResult, tool_from_function

if TYPE_CHECKING:
    import httpx

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_S = 30.0
MAX_REDIRECTS = 5
USER_AGENT = "agio-fetch/1 (+https://github.com/agio)"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class FetchRefused(ValueError):
    pass


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int, *, check: bool) -> str:
    """One address of `host` to connect to; with `check`, every address must be public."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host!r}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if check:
        blocked = [a for a in addresses if not _public(a)]
        if blocked:
            raise FetchRefused(
                f"{host} resolves to {', '.join(blocked)}, a loopback, private or link-local "
                "address: refused under agio serve (set AGIO_FETCH_ALLOW_PRIVATE=true to allow)"
            )
    return addresses[0]


def readable(response: httpx.Response, body: bytes, cut: bool) -> str:
    """The body as text: HTML made readable, other text as it is, binary described."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not kind.startswith(_TEXT_TYPES) and not kind.endswith(("+json", "+xml")):
        return f"[{kind} body of {len(body)}{'+' if cut else ''} bytes: not text, not shown]"
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if kind in {"text/html", "application/xhtml+xml"} or (not kind and "<html" in text[:1000]):
        from inscriptis import get_text

        text = get_text(text)
    return text.strip()


async def _get(
    client: httpx.AsyncClient, url: httpx.URL, ip: str, max_bytes: int
) -> tuple[Any, bytes, bool]:
    """GET `url` over a connection to `ip` (the name still in Host and SNI)."""
    host_header = url.netloc.decode("ascii")
    request = client.build_request(
        "GET",
        url.copy_with(host=ip),
        headers={"Host": host_header},
        extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
    )
    response = await client.send(request, stream=True)
    try:
        chunks, size = [], 0
        async for chunk in response.aiter_raw() if response.is_redirect else response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                break
        body = b"".join(chunks)
    finally:
        await response.aclose()
    return response, body[:max_bytes], size > max_bytes


async def get_url(
    url: str, *, check: bool, max_bytes: int = MAX_BYTES
) -> tuple[httpx.Response, bytes, bool, httpx.URL]:
    """GET `url` by fetch's rules: (final response, body, cut at `max_bytes`, final URL).

    With `check`, every hop must resolve to public addresses only. Raises FetchRefused (not
    http(s), refused address, too many redirects), TimeoutError and httpx.HTTPError. Also
    what `agio chat -f URL` attaches with.
    """
    import httpx

    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"invalid URL: {exc}") from None
    async with (
        httpx.AsyncClient(
            timeout=httpx.Timeout(TIMEOUT_S), headers={"User-Agent": USER_AGENT}, trust_env=False
        ) as client,
        asyncio.timeout(TIMEOUT_S),
    ):
        for _ in range(MAX_REDIRECTS + 1):
            if target.scheme not in {"http", "https"} or not target.host:
                raise FetchRefused(f"not an http(s) URL: {str(target)!r}")
            port = target.port or (443 if target.scheme == "https" else 80)
            ip = await _resolve(target.host, port, check=check)
            response, body, cut = await _get(client, target, ip, max_bytes)
            if not response.is_redirect:
                return response, body, cut, target
            target = httpx.URL(urljoin(str(target), response.headers["location"]))
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


async def fetch(ctx: RunContext, url: str) -> ToolResult:
    """Fetch a web page or other text over HTTP(S) GET and return it as readable text.

    Args:
        url: An http:// or https:// URL.
    """
    import httpx

    check = ctx.serving and not ctx.settings.fetch_allow_private
    try:
        response, body, cut, target = await get_url(url, check=check)
    except FetchRefused as exc:
        return ToolResult(str(exc), is_error=True)
    except TimeoutError:
        return ToolResult(f"{url}: no complete answer within {TIMEOUT_S:g} s", is_error=True)
    except httpx.HTTPError as exc:
        return ToolResult(f"{url}: {type(exc).__name__}: {exc}", is_error=True)
    text = readable(response, body, cut)
    if cut:
        text += f"\n[truncated: only the first {MAX_BYTES} bytes were read]"
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    header = f"{status} from {target}"
    return ToolResult(f"{header}\n\n{text}", is_error=response.status_code >= 400)


FETCH_TOOL = tool_from_function(fetch)
