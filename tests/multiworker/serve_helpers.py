"""`agio serve` as a subprocess, and a small SSE client: shared by the multi-worker tests and
the benches (bench/concurrent_streams.py, bench/serve_capacity.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pgserver

TERMINAL = frozenset({"run_completed", "run_failed", "run_cancelled"})
STREAM_END = TERMINAL | {"run_paused"}


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class AgioServer:
    """`agio serve --workers N` on a free loopback port, in its own process group."""

    def __init__(self, env: dict[str, str], workers: int, port: int, log_path: Path) -> None:
        """`log_path`'s folder is also the server's working directory (no stray `.env`)."""
        self.env = env
        self.workers = workers
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        command = [sys.executable, "-m", "agio_cli", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log_path.parent,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"agio serve exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200 and (
                    self.workers == 1 or len(self.worker_pids()) >= self.workers
                ):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"agio serve did not start in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.2)
        if self.workers > 1:  # every worker has finished its startup (store open)
            while self.log_text().count("Application startup complete") < self.workers:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not start:\n{self.log_tail()}")
                time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        """The processes serving requests (the parent itself with one worker)."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        return [
            pid
            for pid in child_pids(self.process.pid)
            if "spawn_main" in process_cmdline(pid) or "agio" in process_cmdline(pid)
        ]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (
                self.process.poll() is None or _group_alive(pgid)
            ):
                time.sleep(0.1)
            if self.process.poll() is not None and not _group_alive(pgid):
                break
        self.process = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def server_env(home: Path, database_url: str = "") -> dict[str, str]:
    """This environment without the developer's agio settings, plus the given store."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AGIO_") and k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}
    }
    env.update(AGIO_HOME=str(home), NO_COLOR="1", AGIO_LOG_LEVEL="WARNING")
    if database_url:
        env["AGIO_DATABASE_URL"] = database_url
    return env


def start_with_agent(
    root: Path, workers: int, database_url: str, agent: dict[str, Any]
) -> AgioServer:
    """`agio serve` with its files in `root` (PostgreSQL if `database_url`), and `agent`."""
    root.mkdir(parents=True, exist_ok=True)
    server = AgioServer(
        server_env(root / "home", database_url),
        workers=workers,
        port=free_port(),
        log_path=root / "serve.log",
    )
    server.start(timeout=120)
    httpx.post(f"{server.url}/api/agents", json=agent, timeout=30).raise_for_status()
    return server


def bench_servers(
    backends: list[str], pg_workers: int, agent: dict[str, Any]
) -> Iterator[tuple[str, int, AgioServer]]:
    """For each of `backends` ("tinydb": 1 worker; "postgres": `pg_workers` on a new schema of
    pgserver.BenchDatabase), `agio serve` with `agent`: (backend, workers, server), the
    server stopped after each. A backend that cannot be had is a `skipped` JSON line."""
    with tempfile.TemporaryDirectory(prefix="agio-bench-") as tmp, pgserver.BenchDatabase() as pg:
        for backend in backends:
            database_url, workers = "", 1
            if backend == "postgres":
                if (url := pg.new_schema()) is None:
                    reason = pgserver.unavailable_reason()
                    print(json.dumps({"skipped": backend, "reason": reason}), flush=True)
                    continue
                database_url, workers = url, pg_workers
            server = start_with_agent(Path(tmp) / backend, workers, database_url, agent)
            try:
                yield backend, workers, server
            finally:
                server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_connections_client(base_url: str, timeout: float = 60.0) -> httpx.AsyncClient:
    """A client that opens a new connection per request, so requests spread across workers."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
    )


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of an SSE response (the JSON of each `data:`), comments skipped."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield json.loads("\n".join(data))
