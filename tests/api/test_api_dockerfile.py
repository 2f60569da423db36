"""The Dockerfile's own commands, run here (CI has no Docker daemon): its CMD serves the API
with keys from the environment, its HEALTHCHECK passes, and SIGTERM (`docker stop`) ends it
cleanly within the graceful-shutdown time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def test_cmd_serves_with_keys_from_the_environment(tmp_path: Path) -> None:
    cmd = json.loads(instruction("CMD"))
    assert cmd[:2] == ["uvicorn", "agio_core.api.app:app"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8000"
    # The same command on a free loopback port (a test must not listen on every interface).
    port = free_port()
    argv = [shutil.which("uvicorn") or "uvicorn", *cmd[1:]]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    env = clean_env(tmp_path / "data", AGIO_API_KEYS="change-me")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = start_server(argv, tmp_path, port, env, "docker-cmd")
    try:
        assert httpx.get(f"{server.url}/api/agents").status_code == 401
        keyed = httpx.get(f"{server.url}/api/agents", headers={"Authorization": "Bearer change-me"})
        assert keyed.status_code == 200

        healthcheck = instruction("HEALTHCHECK").split(" CMD ", 1)[1]
        probe = healthcheck.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert probe != healthcheck
        subprocess.run(probe, shell=True, env=env, check=True, timeout=30)
    finally:
        code = server.stop(timeout=15)
    assert code in {0, -15}, server.log()
    assert "Application shutdown complete" in server.log()
