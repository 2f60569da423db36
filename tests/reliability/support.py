"""Helpers of the reliability suite: real `agio serve` processes, agio subprocesses, a full disk.

Nothing of agio is mocked here: servers are `python -m agio_cli serve` on a loopback port,
crashes are SIGKILL, a full disk is a real 2 MiB tmpfs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
from helpers.servers import free_port

HERE = Path(__file__).parent
STARTUP_TIMEOUT_S = 20.0


def agio_env(home: Path, **extra: str) -> dict[str, str]:
    """The test's environment (already free of the developer's AGIO_* settings) plus these."""
    return {**os.environ, "AGIO_HOME": str(home), "NO_COLOR": "1", **extra}


def agio_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agio_cli", *args]


def run_agio(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`agio ARGS` in a process of its own on `home`, stdin closed; output captured."""
    return subprocess.run(
        agio_cli(*args),
        env=agio_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class ServerProcess:
    """`agio serve` in its own process, on a free loopback port; stderr kept in a file."""

    def __init__(self, home: Path, log_path: Path, **env: str) -> None:
        self.home = home
        self.log_path = log_path
        self.env = agio_env(home, **env)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> ServerProcess:
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self.process = subprocess.Popen(
                agio_cli("serve", "--port", str(self.port)),
                env=self.env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            if self._wait_healthy():
                return self
            self.stop()
        raise RuntimeError(f"agio serve did not start:\n{self.log()}")

    def _wait_healthy(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return True
            time.sleep(0.05)
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would; returns the exit code."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            code = self.process.returncode
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def fill_disk(folder: Path) -> Path:
    """Write a filler file until the file system is full; returns it (delete it to free space)."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(chunk)
        with contextlib.suppress(OSError):
            while True:  # the last few pages
                handle.write(b"\0" * 512)
    return filler


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def no_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" not in text


def json_lines(data: bytes) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in data.splitlines() if line.strip()]
