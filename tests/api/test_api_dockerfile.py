"""The Dockerfile's own commands, run here (CI has no Docker daemon): its CMD serves the API
with keys from the environment, its HEALTHCHECK passes, and SIGTERM (`docker stop`) ends it
cleanly within the graceful-shutdown time."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from helpers.servers import clean_env, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> str:
    """The argument of the Dockerfile's (last) `name` instruction, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.startswith(f"{name} ")]
    assert lines, f"no {name} in the Dockerfile"
    return lines[-1].removeprefix(f"{name} ").strip()


def test_the_image_runs_as_a_user_with_data_in_a_volume() -> None:
    assert instruction("FROM").startswith("python:3.11")
    assert "AGIO_HOME=/data" in instruction("ENV")
    assert instruction("USER") not in {"root", "0"}
    assert json.loads(instruction("VOLUME")) == ["/data"]
    assert instruction("EXPOSE") == "8000"


def cmd_on(port: int, host: str) -> list[str]:
    """The image's CMD, bound to `host:port` (a test must not listen on every interface)."""
    cmd = json.loads(instruction("CMD"))
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8000"
    argv = [shutil.which(cmd[0], path=str(Path(sys.executable).parent)) or cmd[0], *cmd[1:]]
    argv[argv.index("--host") + 1] = host
    argv[argv.index("--port") + 1] = str(port)
    return argv


def test_cmd_is_agio_serve() -> None:
    """`agio serve`, whose connection guards plain uvicorn lacks (see the test below)."""
    assert json.loads(instruction("CMD"))[:2] == ["agio", "serve"]


def test_cmd_refuses_to_serve_every_interface_without_keys(tmp_path: Path) -> None:
    # Refused before it binds anything, so running it as it is listens on nothing.
    env = clean_env(tmp_path / "data")
    done = subprocess.run(
        cmd_on(free_port(), "0.0.0.0"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "agio: error: refusing to serve on 0.0.0.0 without AGIO_API_KEYS: set keys "
        "(comma-separated), bind 127.0.0.1, or pass --insecure"
    ]


def test_cmd_serves_with_keys_and_connection_guards(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path / "data", AGIO_API_KEYS="change-me", AGIO_HEADER_TIMEOUT_S="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = start_server(cmd_on(port, "127.0.0.1"), tmp_path, port, env, "docker-cmd")
    try:
        assert httpx.get(f"{server.url}/api/agents").status_code == 401
        keyed = httpx.get(f"{server.url}/api/agents", headers={"Authorization": "Bearer change-me"})
        assert keyed.status_code == 200
        # The header deadline: plain uvicorn would hold this connection forever.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server, no answer
            assert 0.5 < time.monotonic() - started < 8

        healthcheck = instruction("HEALTHCHECK").split(" CMD ", 1)[1]
        probe = healthcheck.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert probe != healthcheck
        subprocess.run(probe, shell=True, env=env, check=True, timeout=30)
    finally:
        code = server.stop(timeout=15)
    assert code in {0, -15}, server.log()
    assert "Application shutdown complete" in server.log()
