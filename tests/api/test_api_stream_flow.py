"""Keepalive comments on quiet streams, and a client that stops reading: end to end against a
real `agio serve` with short intervals (AGIO_SSE_KEEPALIVE_S, AGIO_SSE_SEND_TIMEOUT_S)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from helpers.servers import Server, agio_serve

KEEPALIVE_S = 0.3
SEND_TIMEOUT_S = 1.0
# Pauses longer than the keepalive interval between words.
QUIET_AGENT = {"id": "quiet", "model": "offline/demo", "model_params": {"delay_ms": 1000}}
# ~100,000 events at full speed: megabytes more than socket buffers hold.
FLOOD_AGENT = {"id": "flood", "model": "offline/demo", "model_params": {"delay_ms": 0}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = agio_serve(
        tmp_path_factory.mktemp("stream-flow"),
        "agio-serve-stream-flow",
        AGIO_SSE_KEEPALIVE_S=str(KEEPALIVE_S),
        AGIO_SSE_SEND_TIMEOUT_S=str(SEND_TIMEOUT_S),
        AGIO_LOG_LEVEL="INFO",
    )
    for agent in (QUIET_AGENT, FLOOD_AGENT):
        httpx.post(f"{instance.url}/api/agents", json=agent).raise_for_status()
    yield instance
    instance.stop()


def test_quiet_streams_get_keepalive_comments(server: Server) -> None:
    lines: list[str] = []
    body = {"agent_id": "quiet", "message": "count to 2"}
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=30) as response:
        for line in response.iter_lines():
            lines.append(line)
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    comments = [line for line in lines if line.startswith(":")]
    assert events[-1] == "run_completed"
    # ~3 s of silence between words (two words and a step at 1 s each) at 0.3 s intervals.
    assert len(comments) >= 4, lines
    first_word = next(i for i, line in enumerate(lines) if line == "event: content_delta")
    assert any(line.startswith(":") for line in lines[:first_word]), "no keepalive before it"


def test_a_client_that_stops_reading_is_dropped_and_the_run_goes_on(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps({"agent_id": "flood", "message": "count to 100000"}).encode()
    request = (
        b"POST /api/chat HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body)
    )
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
        client.settimeout(30)
        client.connect((host, int(port)))
        client.sendall(request)
        # Read only the head of the stream, to learn the run id; then stop reading.
        head = b""
        while b'"run_id":"' not in head:
            head += client.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        run_id = head.split(b'"run_id":"', 1)[1].split(b'"', 1)[0].decode()

        deadline = time.monotonic() + 60
        run: dict[str, object] = {}
        while time.monotonic() < deadline:
            run = httpx.get(f"{server.url}/api/runs/{run_id}").json()
            if run["status"] != "running":
                break
            time.sleep(0.2)
        assert run["status"] == "completed", run  # the run did not wait for its reader
        time.sleep(SEND_TIMEOUT_S + 1)

        # The server gave up on this client: the stream ends without the run's last event.
        received = bytearray(head)
        while chunk := client.recv(1 << 20):
            received += chunk
    assert b"event: content_delta" in received
    assert b"event: run_completed" not in received
    assert not received.endswith(b"0\r\n\r\n")  # cut off, not a finished chunked body
    log = server.log()
    assert "dropped an event stream client that took nothing for 1 s" in log
    # Its warning and nothing else (it once logged a SendTimeoutError traceback, issue 13).
    assert "Traceback" not in log and "SendTimeoutError" not in log, log[-3000:]


async def test_keepalive_and_stream_timing_out_together_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The path that let the send timeout escape, made to happen every time: a client that
    takes nothing, and a stream whose cleanup outlasts the keepalive's own send deadline
    (as a loaded machine makes it), so both sends time out and sse-starlette raises the two
    timeouts together. At the ASGI level: the peer's `send` simply never completes."""
    from agio_core import Settings
    from agio_core.api.sse import _EventStreamResponse

    async def frames() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"event: content_delta\ndata: {}\n\n"
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.3)  # slow cleanup: the keepalive times out meanwhile

    async def receive() -> dict[str, object]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # a client that stopped reading

    settings = Settings(home=tmp_path, sse_keepalive_s=0.05, sse_send_timeout_s=0.2)
    response = _EventStreamResponse(frames(), anyio.Event(), settings)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with caplog.at_level(logging.WARNING, logger="agio.api"):
        with anyio.fail_after(10):
            await response(scope, receive, send)  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records if r.name == "agio.api"] == [
        "dropped an event stream client that took nothing for 0.2 s (the run goes on)"
    ]


def test_settings_refuse_intervals_that_are_not_positive(tmp_path: Path) -> None:
    from agio_core import Settings
    from agio_core.errors import ConfigError

    for field in ("sse_keepalive_s", "sse_send_timeout_s"):
        with pytest.raises(ConfigError):
            Settings(home=tmp_path, **{field: 0})


async def test_a_slow_but_steady_client_is_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The send timeout is per send: a client that takes every frame, each after most of the
    timeout (longer than the watcher's check interval), gets the whole stream."""
    from agio_core import Settings
    from agio_core.api.sse import _EventStreamResponse

    async def frames() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"event: content_delta\ndata: {}\n\n"

    async def receive() -> dict[str, object]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        if message.get("more_body"):
            await anyio.sleep(0.15)  # 3/4 of the timeout, three of the watcher's intervals
        sent.append(message)

    settings = Settings(home=tmp_path, sse_keepalive_s=60, sse_send_timeout_s=0.2)
    response = _EventStreamResponse(frames(), anyio.Event(), settings)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with caplog.at_level(logging.WARNING, logger="agio.api"), anyio.fail_after(10):
        await response(scope, receive, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 5
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert not [r for r in caplog.records if r.name == "agio.api"]
