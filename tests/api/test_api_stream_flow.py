"""Keepalive comments on quiet streams, and a client that stops reading: end to end against a
real `agio serve` with short intervals (AGIO_SSE_KEEPALIVE_S, AGIO_SSE_SEND_TIMEOUT_S)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_servers import Server, agio_serve

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
    assert "dropped an event stream client that took nothing for 1 s" in server.log()


def test_settings_refuse_intervals_that_are_not_positive(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from agio_core import Settings

    for field in ("sse_keepalive_s", "sse_send_timeout_s"):
        with pytest.raises(ValidationError):
            Settings(home=tmp_path, **{field: 0})
