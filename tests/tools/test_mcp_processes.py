"""No MCP server outlives the agio process that started it: after Ctrl-C, SIGTERM, or a
run that crashed, the server's pid is gone. Real `agio chat` processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_mcp import TEST_SERVER, alive

AGIO = Path(sys.executable).with_name("agio")


def agent_yaml(pidfile: Path, max_steps: int = 10) -> str:
    return f"""
id: slow
model: offline/demo
model_params: {{delay_ms: 0}}
max_steps: {max_steps}
tools: ["t__*"]
approval: {{"t__*": allow}}
mcp_servers:
  t:
    command: {sys.executable}
    args: ["{TEST_SERVER}", "{pidfile}"]
"""


def wait_for(predicate: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def start_chat(
    home: Path, tmp_path: Path, message: str, max_steps: int = 10
) -> tuple[subprocess.Popen[bytes], Path]:
    pidfile = tmp_path / "server.pid"
    (tmp_path / "slow.yaml").write_text(agent_yaml(pidfile, max_steps))
    env = {**os.environ, "AGIO_HOME": str(home)}
    subprocess.run(
        [str(AGIO), "agents", "create", "-f", str(tmp_path / "slow.yaml"), "--replace"],
        env=env,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [str(AGIO), "chat", "-a", "slow", message],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return process, pidfile


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_no_orphan_after_a_signal(home: Path, tmp_path: Path, signum: int) -> None:
    process, pidfile = start_chat(home, tmp_path, 'call t__sleep {"seconds": 60}')
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text())
    server = int(pidfile.read_text())
    time.sleep(0.5)  # the call is under way
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert wait_for(lambda: not alive(server), 5), f"MCP server {server} outlived agio"


def test_no_orphan_after_a_run_crashed(home: Path, tmp_path: Path) -> None:
    # One step: the tool call, then no step left for an answer: the run fails.
    process, pidfile = start_chat(home, tmp_path, "call t__whoami {}", max_steps=1)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1 and b"max_steps" in stderr, stderr
    server = int(pidfile.read_text())
    assert wait_for(lambda: not alive(server), 5), f"MCP server {server} outlived agio"
