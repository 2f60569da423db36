"""Half-open connections (SPEC §5): `agio serve` closes connections that never finish their
request headers or body, and bounds how many it holds, so a slowloris client cannot use up
its file descriptors. Real sockets against a real `agio serve`."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from helpers.servers import Server, agio_serve

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
MAX_CONNECTIONS = 1000
# Each trickling socket costs an fd here and one in the server (the same limit in CI).
SOCKETS = min(800, (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100) // 2)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = agio_serve(
        tmp_path_factory.mktemp("guarded"),
        "guarded",
        AGIO_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        AGIO_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        AGIO_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    yield instance
    instance.stop()
    assert "Traceback" not in instance.log() and "Exception in ASGI" not in instance.log()


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


async def _trickle(server: Server, closed: list[float], started: float) -> None:
    """Send a request's headers one line at a time, never the blank line that ends them,
    until the server closes the connection; record when it did."""
    reader, writer = await asyncio.open_connection(*_address(server))
    try:
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        line = 0
        while not reader.at_eof():
            try:
                await asyncio.wait_for(reader.read(1024), 0.2)  # EOF once the server closes
            except TimeoutError:
                line += 1
                writer.write(b"X-Trickle-%d: still coming\r\n" % line)
                try:
                    await writer.drain()
                except ConnectionError:
                    break
            except ConnectionError:
                break
        closed.append(time.monotonic() - started)
    finally:
        writer.close()


async def test_trickling_headers_are_cut_off_and_the_server_still_answers(
    guarded: Server,
) -> None:
    closed: list[float] = []
    started = time.monotonic()
    tricklers = [asyncio.create_task(_trickle(guarded, closed, started)) for _ in range(SOCKETS)]
    await asyncio.sleep(HEADER_TIMEOUT_S / 2)
    # While they trickle, the server answers everyone else.
    async with httpx.AsyncClient(base_url=guarded.url, timeout=10) as client:
        assert (await client.get("/api/health")).status_code == 200
        await asyncio.wait_for(asyncio.gather(*tricklers), HEADER_TIMEOUT_S + 20)
        assert len(closed) == SOCKETS
        # None is let go early (a header line keeps coming every 0.2 s), none is kept.
        assert min(closed) >= HEADER_TIMEOUT_S * 0.9, min(closed)
        print(f"{SOCKETS} trickling connections closed after {min(closed):.2f}-{max(closed):.2f} s")
        assert (await client.get("/api/health")).status_code == 200
        # Keep-alive: a connection that answered one request gets the deadline again.
        assert (await client.get("/api/agents")).status_code == 200


TRICKLED_BODY = {
    "length": b"Content-Length: 100\r\n\r\n",
    "chunked": b"Transfer-Encoding: chunked\r\n\r\n",
}


async def _trickle_body(server: Server, framing: str, started: float) -> tuple[float, bytes]:
    """Complete headers, then a body a byte at a time (every 0.1 s) until the server answers
    and closes; when that was and what it said."""
    reader, writer = await asyncio.open_connection(*_address(server))
    head = b"POST /api/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    writer.write(head + TRICKLED_BODY[framing])
    answer = b""
    try:
        while not reader.at_eof():
            try:
                answer += await asyncio.wait_for(reader.read(4096), 0.1)
            except TimeoutError:
                writer.write(b"1\r\n \r\n" if framing == "chunked" else b" ")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
            except ConnectionError:
                break
        return time.monotonic() - started, answer
    finally:
        writer.close()


@pytest.mark.parametrize("framing", sorted(TRICKLED_BODY))
async def test_a_trickled_body_gets_408_and_the_connection_closes(
    guarded: Server, framing: str
) -> None:
    started = time.monotonic()
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(_trickle_body(guarded, framing, started) for _ in range(50))),
        BODY_TIMEOUT_S + 20,
    )
    for elapsed, answer in outcomes:
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"connection: close" in answer.lower()
        assert b'{"detail": "request body not received in time (AGIO_BODY_TIMEOUT_S)"}' in answer
        # Trickling does not extend the deadline, and no one is cut early.
        assert BODY_TIMEOUT_S * 0.9 <= elapsed < BODY_TIMEOUT_S + 10, elapsed
    async with httpx.AsyncClient(base_url=guarded.url, timeout=10) as client:
        assert (await client.get("/api/health")).status_code == 200


async def test_the_body_deadline_is_per_request(guarded: Server) -> None:
    """Slow bodies that each come within the deadline pass, one after another on one
    keep-alive connection, for longer in all than the deadline."""

    async def slow_body() -> AsyncIterator[bytes]:
        for piece in (b'{"id": "slow-body-', b"agent", b'", "model": "offline/demo"}'):
            await asyncio.sleep(BODY_TIMEOUT_S / 4)
            yield piece

    json_type = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=guarded.url, timeout=10, headers=json_type) as client:
        started = time.monotonic()
        created = await client.post("/api/agents", content=slow_body())
        assert created.status_code == 201, created.text
        replaced = await client.post("/api/agents?replace=true", content=slow_body())
        assert replaced.status_code == 201, replaced.text
        assert time.monotonic() - started > BODY_TIMEOUT_S


async def test_a_slow_stream_is_not_cut_by_the_header_deadline(guarded: Server) -> None:
    """The deadline is for headers only: a response that lasts longer is left alone."""
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as client:
        body = {"agent_id": "assistant", "message": "count to 60", "stream": True}
        await client.post(
            "/api/agents",
            json={"id": "slowish", "model": "offline/demo", "model_params": {"delay_ms": 40}},
        )
        body["agent_id"] = "slowish"
        started = time.monotonic()
        async with client.stream("POST", "/api/chat", json=body) as response:
            text = (await response.aread()).decode()
        assert time.monotonic() - started > HEADER_TIMEOUT_S * 1.5
        assert "event: run_completed" in text


def test_connections_beyond_the_bound_get_503_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    bound = 20
    server = agio_serve(
        tmp_path_factory.mktemp("bounded"),
        "bounded",
        AGIO_HEADER_TIMEOUT_S="2",
        AGIO_MAX_CONNECTIONS=str(bound),
    )

    async def flood() -> list[bytes]:
        held = [await asyncio.open_connection(*_address(server)) for _ in range(bound)]
        await asyncio.sleep(0.2)  # let the server take them all
        extra = [await asyncio.open_connection(*_address(server)) for _ in range(10)]
        replies = [await asyncio.wait_for(r.read(), 5) for r, _ in extra]
        for _, writer in held + extra:
            writer.close()
        return replies

    try:
        replies = asyncio.run(flood())
        assert all(r.startswith(b"HTTP/1.1 503 ") for r in replies), replies
        assert all(b"AGIO_MAX_CONNECTIONS" in r for r in replies)
        # Those held were closed above (or by the deadline): the server answers again.
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{server.url}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not recover"
            time.sleep(0.05)
        assert "refusing connections beyond AGIO_MAX_CONNECTIONS=20" in server.log()
    finally:
        server.stop()
