"""Real API servers in subprocesses, on free loopback ports, each with its own AGIO_HOME."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AGIO_") and k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}
    }
    env.update(AGIO_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    home: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    argv: list[str], workdir: Path, port: int, env: dict[str, str], name: str
) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", process, log_path, Path(env["AGIO_HOME"]))
    try:
        wait_until_serving(process, f"{server.url}/api/health", name, server.log)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_serving(
    process: subprocess.Popen[bytes],
    url: str,
    name: str,
    log: Callable[[], str],
    *,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> None:
    """Until `url` answers 200; the test fails, with the server's log, if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{name} did not come up in {timeout:g} s:\n{log()}")


def agio_serve(
    workdir: Path, name: str, *, extra_args: list[str] | None = None, **env: str
) -> Server:
    """`agio serve` (the CLI command) on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "agio_cli", "serve", "--port", str(port), *(extra_args or [])]
    return start_server(argv, workdir, port, clean_env(workdir / "home", **env), name)


@contextmanager
def threaded_uvicorn(app: object) -> Iterator[str]:
    """An ASGI app (e.g. an MCP server's) served by uvicorn in a thread, on a free loopback
    port: yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
