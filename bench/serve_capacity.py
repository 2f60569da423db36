"""How many chats streaming at a real model's pace one `agio serve` carries.

    python bench/serve_capacity.py [--sizes 100,250,500,750] [--backends tinydb,postgres]
                                   [--pg-workers 4] [--tokens 200] [--delay-ms 20]

Each chat is `POST /api/chat` (SSE) to an offline agent paced at `delay_ms` between tokens
(20 ms: 50 tokens/s, what real models stream per user) answering `count to <tokens>`; N of
them at once, each over its own connection. TinyDB is served by 1 worker, PostgreSQL by
`--pg-workers` (PostgreSQL from AGIO_BENCH_DATABASE_URL, else AGIO_TEST_DATABASE_URL, else a
private durable cluster from tests/pgserver.py, started and removed here).

Per backend and N, one JSON line: whether every stream completed (it ended with
`run_completed` after all its tokens, and its run record says completed), events received
per second, the p50/p99 *added delay* between tokens (the gap between two consecutive tokens of
one stream as the client saw it, minus the pacing: what the server adds), the p50/p99 time to
the first token, the p99 added delay split in two (the gaps while some streams are still
starting, and those after the last stream's first token), the server's CPU (% of one core
over the measurement, all its processes, and per event delivered: what bounds N on a machine
whose cores are shared) and peak resident memory. The client runs in this process (the
server in its own) on uvloop with aiohttp (its C parser), counting tokens in each chunk it
reads, so that it is cheap next to the server: its own CPU is reported too, as a client that
cannot keep up would inflate the delays.

The last line is `{"metric": "streams_at_50tps", "value": N}`: the largest N on TinyDB with
every stream complete and a p99 added delay <= 50 ms (target: >= 500).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "multiworker")]

from serve_helpers import AgioServer, bench_servers  # noqa: E402

ADDED_DELAY_LIMIT_MS = 50.0
TOKEN_MARK = b"event: content_delta\n"
END_MARK = b"event: run_completed\n"
RUN_ID_MARK = b'"run_id":"'
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Stream:
    started: float = 0.0
    tokens: list[float] = field(default_factory=list)  # arrival time of each token
    run_id: str = ""
    completed: bool = False
    error: str = ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ServerWatch:
    """CPU used and peak RSS of the server's processes over one measurement."""

    def __init__(self, server: AgioServer) -> None:
        self.pids = server.worker_pids()
        if server.process is not None and server.process.pid not in self.pids:
            self.pids.append(server.process.pid)
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_rss_mb = max(self.peak_rss_mb, sum(rss_mb(pid) for pid in self.pids))

    def __enter__(self) -> ServerWatch:
        self.cpu_before = sum(cpu_seconds(pid) for pid in self.pids)
        self.client_before = time.process_time()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = sum(cpu_seconds(pid) for pid in self.pids) - self.cpu_before
        self.client_cpu_s = time.process_time() - self.client_before


async def one_chat(session: aiohttp.ClientSession, url: str, message: str, stream: Stream) -> None:
    stream.started = time.perf_counter()
    tail = b""  # a mark may be split across two chunks
    try:
        async with session.post(url, json={"agent_id": "bench", "message": message}) as response:
            if response.status != 200:
                stream.error = f"HTTP {response.status}: {(await response.read())[:200]!r}"
                return
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                text = tail + chunk
                stream.tokens.extend([now] * text.count(TOKEN_MARK))
                if not stream.run_id and (at := text.find(RUN_ID_MARK)) >= 0:
                    start = at + len(RUN_ID_MARK)
                    stream.run_id = text[start : text.index(b'"', start)].decode()
                stream.completed = stream.completed or END_MARK in text
                # Keep the unfinished last line: it may be the start of a mark.
                tail = text[text.rfind(b"\n") + 1 :]
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        stream.error = f"{type(exc).__name__}: {exc}"


async def measure(
    server: AgioServer, n: int, tokens: int, delay_ms: int, timeout: float
) -> dict[str, Any]:
    message = f"count to {tokens}"
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    streams = [Stream() for _ in range(n)]
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        with ServerWatch(server) as watch:
            began = time.perf_counter()
            with contextlib.suppress(TimeoutError):  # unfinished streams count as incomplete
                await asyncio.wait_for(
                    asyncio.gather(
                        *(one_chat(session, f"{server.url}/api/chat", message, s) for s in streams)
                    ),
                    timeout,
                )
            wall = time.perf_counter() - began
    completed = 0
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as checker:
        for stream in streams:
            if stream.completed and len(stream.tokens) == tokens:
                run = (await checker.get(f"/api/runs/{stream.run_id}")).json()
                completed += run.get("status") == "completed"
    pace = delay_ms / 1000
    # (arrival, added delay) of every token after a stream's first
    gaps = [
        (b, b - a - pace) for s in streams for a, b in zip(s.tokens, s.tokens[1:], strict=False)
    ]
    added = [gap for _, gap in gaps]
    # Split at the last stream's first token: the gaps while runs are still being created
    # (every start competes with the streams already going) and those after.
    last_first = max((s.tokens[0] for s in streams if s.tokens), default=math.inf)
    starting = [gap for at, gap in gaps if at <= last_first]
    going = [gap for at, gap in gaps if at > last_first]
    firsts = [s.tokens[0] - s.started for s in streams if s.tokens]
    # Each token is one event; a stream also has run_started, step_started, two
    # checkpoint_created, usage and run_completed.
    events = sum(len(s.tokens) + 6 * s.completed for s in streams)
    errors = sorted({s.error for s in streams if s.error})
    return {
        "streams": n,
        "all_completed": completed == n,
        "completed": completed,
        "events_per_s": round(events / wall, 1),
        "wall_s": round(wall, 2),
        "added_delay_p50_ms": round(percentile(added, 50) * 1000, 2),
        "added_delay_p99_ms": round(percentile(added, 99) * 1000, 2),
        "added_delay_p99_while_starting_ms": round(percentile(starting, 99) * 1000, 2),
        "added_delay_p99_after_ms": round(percentile(going, 99) * 1000, 2),
        "first_token_p50_ms": round(percentile(firsts, 50) * 1000, 1),
        "first_token_p99_ms": round(percentile(firsts, 99) * 1000, 1),
        "server_cpu_pct": round(100 * watch.cpu_s / wall, 1),
        "server_cpu_us_per_event": round(1e6 * watch.cpu_s / events, 1) if events else None,
        "server_peak_rss_mb": round(watch.peak_rss_mb, 1),
        "client_cpu_pct": round(100 * watch.client_cpu_s / wall, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "errors": errors[:3],
    }


def raise_open_files_limit() -> None:
    """Each stream is a socket on both sides; the server inherits this process's limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,250,500,750")
    parser.add_argument("--backends", default="tinydb,postgres")
    parser.add_argument("--pg-workers", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0, help="per measurement, seconds")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    raise_open_files_limit()

    capacity = 0
    agent = {"id": "bench", "model": "offline/demo", "model_params": {"delay_ms": args.delay_ms}}
    for backend, workers, server in bench_servers(backends, args.pg_workers, agent):
        for n in sizes:
            result = uvloop.run(measure(server, n, args.tokens, args.delay_ms, args.timeout))
            print(json.dumps({"backend": backend, "workers": workers, **result}), flush=True)
            good = result["all_completed"] and result["added_delay_p99_ms"] <= ADDED_DELAY_LIMIT_MS
            if backend == "tinydb" and good:
                capacity = max(capacity, n)
    print(json.dumps({"metric": "streams_at_50tps", "value": capacity}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
