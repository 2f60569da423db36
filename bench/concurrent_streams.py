"""N concurrent SSE chats against one `agio serve`: TinyDB (1 worker) and PostgreSQL (4 workers).

    python bench/concurrent_streams.py [--sizes 10,100,500] [--backends tinydb,postgres]
                                        [--pg-workers 4] [--message "count to 50"]

Each chat is `POST /api/chat` (stream) to an offline agent with no delay between tokens, each
over its own connection, all started at once. Reported per backend and N: completed runs
(stream ended with `run_completed` and the run record says completed), events received, events
per second (all streams, wall clock), the p50/p99 gap between consecutive events of one stream,
and the p99 time to the first event. PostgreSQL comes from AGIO_BENCH_DATABASE_URL, else
AGIO_TEST_DATABASE_URL, else a private durable cluster (tests/pgserver.py) started and removed
here. One JSON line per measurement; the last line is
`{"metric": "streams_500_completed_ratio", "value": X}` (the lowest ratio over the backends).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "multiworker")]

from serve_helpers import AgioServer, bench_servers, sse_events  # noqa: E402

AGENT = {"id": "bench", "model": "offline/demo", "model_params": {"delay_ms": 0}}


@dataclass
class Stream:
    started: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    run_id: str = ""
    last_type: str = ""
    error: str = ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def one_chat(client: httpx.AsyncClient, message: str, stream: Stream) -> None:
    stream.started = time.perf_counter()
    try:
        async with client.stream(
            "POST", "/api/chat", json={"agent_id": "bench", "message": message}
        ) as response:
            if response.status_code != 200:
                stream.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
                return
            async for event in sse_events(response):
                stream.arrivals.append(time.perf_counter())
                stream.run_id = event["run_id"]
                stream.last_type = event["type"]
    except (httpx.HTTPError, OSError, ValueError) as exc:
        stream.error = f"{type(exc).__name__}: {exc}"


async def measure(server: AgioServer, n: int, message: str, timeout: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits) as client:
        streams = [Stream() for _ in range(n)]
        began = time.perf_counter()
        with contextlib.suppress(TimeoutError):  # unfinished streams count as not completed
            await asyncio.wait_for(
                asyncio.gather(*(one_chat(client, message, s) for s in streams)), timeout
            )
        wall = time.perf_counter() - began
        completed = 0
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as checker:
            for stream in streams:
                if stream.last_type != "run_completed":
                    continue
                run = (await checker.get(f"/api/runs/{stream.run_id}")).json()
                completed += run.get("status") == "completed"
    gaps = [b - a for s in streams for a, b in zip(s.arrivals, s.arrivals[1:], strict=False)]
    firsts = [s.arrivals[0] - s.started for s in streams if s.arrivals]
    events = sum(len(s.arrivals) for s in streams)
    errors = sorted({s.error for s in streams if s.error})
    return {
        "streams": n,
        "completed": completed,
        "completed_ratio": round(completed / n, 4),
        "events": events,
        "events_per_s": round(events / wall, 1) if wall > 0 else None,
        "wall_s": round(wall, 2),
        "gap_p50_ms": round(percentile(gaps, 50) * 1000, 2),
        "gap_p99_ms": round(percentile(gaps, 99) * 1000, 2),
        "first_event_p99_ms": round(percentile(firsts, 99) * 1000, 1),
        "errors": errors[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--backends", default="tinydb,postgres")
    parser.add_argument("--pg-workers", type=int, default=4)
    parser.add_argument("--message", default="count to 50")
    parser.add_argument("--timeout", type=float, default=600.0, help="per measurement, seconds")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    ratios: dict[str, float] = {}
    for backend, workers, server in bench_servers(backends, args.pg_workers, AGENT):
        for n in sizes:
            result = asyncio.run(measure(server, n, args.message, args.timeout))
            result = {"backend": backend, "workers": workers, **result}
            print(json.dumps(result), flush=True)
            if n == 500:
                ratios[backend] = result["completed_ratio"]
    value = min(ratios.values()) if ratios else 0.0
    print(json.dumps({"metric": "streams_500_completed_ratio", "value": value}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
