"""`agio serve` itself: refusing unsafe options, and a clean shutdown on SIGTERM."""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import iter_events, stream_events
from helpers.agents import SLOW_AGENT
from helpers.servers import agio_serve, clean_env

from agio_core import InvalidInputError, Settings
from agio_core.api._gc import YOUNG_THRESHOLD
from agio_core.api.server import check_serve_options, is_loopback


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agio_cli", "serve", *args],
        cwd=tmp_path,
        env=clean_env(tmp_path / "home", **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_public_bind_without_keys_is_refused(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "AGIO_API_KEYS" in lines[0] and "--insecure" in lines[0]


def test_several_workers_on_tinydb_are_refused(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--workers", "2", "--port", "1")
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr and "AGIO_DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("host", "keys", "insecure", "allowed"),
    [
        ("127.0.0.1", None, False, True),
        ("localhost", None, False, True),
        ("::1", None, False, True),
        ("0.0.0.0", None, False, False),
        ("192.168.1.5", None, False, False),
        ("example.com", None, False, False),
        ("0.0.0.0", "k1,k2", False, True),
        ("0.0.0.0", None, True, True),
    ],
)
def test_bind_rules(host: str, keys: str | None, insecure: bool, allowed: bool) -> None:
    settings = Settings(home=Path("/nonexistent"), api_keys=keys)
    if allowed:
        check_serve_options(settings, host, 1, insecure)
    else:
        with pytest.raises(InvalidInputError):
            check_serve_options(settings, host, 1, insecure)
    assert is_loopback(host) == (host in {"127.0.0.1", "localhost", "::1"})


def test_sigterm_leaves_running_runs_interrupted_and_resumable(tmp_path: Path) -> None:
    first = agio_serve(tmp_path, "first")
    httpx.post(f"{first.url}/api/agents", json=SLOW_AGENT).raise_for_status()
    seen: list[dict[str, Any]] = []
    stream_error: list[BaseException] = []

    def listen() -> None:
        try:
            with httpx.Client(base_url=first.url, timeout=30) as client:
                body = {"agent_id": "slow", "message": "count to 60"}
                with client.stream("POST", "/api/chat", json=body) as stream:
                    seen.extend(iter_events(stream))
        except BaseException as exc:  # reported below, in the test's thread
            stream_error.append(exc)

    listener = threading.Thread(target=listen)
    listener.start()
    deadline = time.monotonic() + 10
    while not any(e["type"] == "content_delta" for e in seen):
        assert time.monotonic() < deadline and listener.is_alive(), stream_error
        time.sleep(0.02)
    started = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    first.process.wait(15)
    listener.join(5)
    assert time.monotonic() - started < 8, "shutdown hung"
    assert not stream_error, stream_error  # the stream was ended properly, not cut
    assert "Traceback" not in first.log() and "ERROR" not in first.log(), first.log()
    run_id = seen[0]["run_id"]
    assert seen[-1]["type"] == "content_delta"  # no terminal event: the run did not end

    second = agio_serve(tmp_path, "second")
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            assert client.get(f"/api/runs/{run_id}").json()["status"] == "interrupted"
            assert client.post(f"/api/runs/{run_id}/resume").status_code == 200
            rest = stream_events(
                client,
                "GET",
                f"/api/runs/{run_id}/events",
                headers={"Last-Event-ID": str(seen[-1]["seq"])},
            )
            # The first server went on until its lifespan closed the core: then no more.
            assert rest[0]["seq"] == seen[-1]["seq"] + 1
            types = [e["type"] for e in rest]
            assert types.count("run_resumed") == 1 and types[-1] == "run_completed"
            assert "run_started" not in types
            assert rest[-1]["response"].endswith("60.")
    finally:
        second.stop()


def test_reload_serves_and_stops_cleanly(tmp_path: Path) -> None:
    """`--reload` (development): uvicorn's watcher process runs the app; SIGTERM ends both."""
    server = agio_serve(tmp_path, "reload", extra_args=["--reload"])
    try:
        assert httpx.get(f"{server.url}/api/agents").status_code == 200
    finally:
        code = server.stop()
    assert code in {0, -signal.SIGTERM}, server.log()
    log = server.log()
    assert "Started reloader process" in log and "Application shutdown complete" in log, log


# Run in a process of its own: the lifespan changes the collector of the process it serves in.
_LIFESPAN_GC = """
import asyncio, gc
from agio_core.api import create_app

async def serve_a_moment():
    app = create_app()
    before = gc.get_threshold(), gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        print((before, (gc.get_threshold(), gc.get_freeze_count())))

asyncio.run(serve_a_moment())
"""


def test_the_serving_process_collects_garbage_less_often(tmp_path: Path) -> None:
    """The app's lifespan freezes what start-up made and raises the young collection's
    threshold (agio_core/api/_gc.py: the collector's walks of the live runs' events were a
    sixth of the server's CPU at 250 streams)."""
    result = subprocess.run(
        [sys.executable, "-c", _LIFESPAN_GC],
        cwd=tmp_path,
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (before, frozen_before), (after, frozen) = ast.literal_eval(result.stdout.strip())
    assert before[0] < YOUNG_THRESHOLD and frozen_before == 0  # CPython's defaults
    assert after == (YOUNG_THRESHOLD, *before[1:]) and frozen > 10_000
