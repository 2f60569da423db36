"""Sustained load on a real `agio serve` over loopback: chats, with pause/resume and cancel.

Starts `python -m agio_cli serve` on a free port with a fresh AGIO_HOME (or uses --url), then
runs N virtual users for --seconds. Each user picks, with a seeded random mix:

    55%  POST /api/chat {stream: false}            a one-tool-call answer (calculator)
    20%  POST /api/chat {stream: true}             the same, read as SSE to run_completed
    15%  POST /api/runs, then pause, resume, and   a multi-step run paused mid-way, resumed,
         GET /api/runs/{id}/events to the end      followed to completion
    10%  POST /api/runs, then cancel               a multi-step run cancelled mid-way

and checks every answer (status codes, final run status, the response text). Figures:
requests/s, p50/p99 latency per request kind, errors (must be 0), and the server's resident
memory after warm-up vs at the end (must be flat). Prints a table; the last line is JSON.
Exit status 1 if there were errors or memory grew more than --max-growth-mb.

    python bench/load_test.py [--seconds 60] [--users 8] [--seed 7] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FAST: dict[str, Any] = {
    "id": "load-fast",
    "model": "offline/demo",
    "model_params": {"delay_ms": 2},
    "tools": ["calculator"],
}
STEPPER: dict[str, Any] = {
    "id": "load-stepper",
    "model": "offline/demo",
    "model_params": {"delay_ms": 5, "parallel_tool_calls": False},
    "tools": ["calculator"],
    "max_steps": 50,
}
TERMINAL = {"run_completed", "run_failed", "run_cancelled"}


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rss_samples: list[tuple[float, int]] = field(default_factory=list)

    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Load:
    def __init__(self, client: httpx.AsyncClient, stats: Stats, rng: random.Random) -> None:
        self.client = client
        self.stats = stats
        self.rng = rng

    async def timed(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        response = await self.client.request(method, url, **kwargs)
        self.stats.latencies[kind].append(time.perf_counter() - started)
        return response

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            self.stats.errors.append(what)

    def question(self, steps: int) -> tuple[str, str]:
        pairs = [(self.rng.randint(1, 999), self.rng.randint(1, 999)) for _ in range(steps)]
        text = "What is " + ", ".join(f"{a}+{b}" for a, b in pairs) + "?"
        answer = ". ".join(f"{a}+{b} = {a + b}" for a, b in pairs) + "."
        return text, answer

    async def chat(self) -> None:
        text, answer = self.question(1)
        body = {"agent_id": FAST["id"], "message": text, "stream": False}
        response = await self.timed("chat", "POST", "/api/chat", json=body)
        self.expect(response.status_code == 200, f"chat: {response.status_code}")
        if response.status_code == 200:
            self.expect(response.json()["response"] == answer, f"chat answer: {response.text}")

    async def chat_stream(self) -> None:
        text, answer = self.question(1)
        body = {"agent_id": FAST["id"], "message": text}
        started = time.perf_counter()
        events: list[dict[str, Any]] = []
        async with self.client.stream("POST", "/api/chat", json=body) as response:
            self.expect(response.status_code == 200, f"stream: {response.status_code}")
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
        self.stats.latencies["chat_stream"].append(time.perf_counter() - started)
        ends = [e for e in events if e["type"] in TERMINAL]
        self.expect(len(ends) == 1 and ends[0] is events[-1], "stream: not one terminal event")
        if ends:
            self.expect(ends[0].get("response") == answer, f"stream answer: {ends[0]}")

    async def start_long(self) -> tuple[str, str] | None:
        text, answer = self.question(self.rng.randint(4, 8))
        body = {"agent_id": STEPPER["id"], "message": text}
        response = await self.timed("start_run", "POST", "/api/runs", json=body)
        self.expect(response.status_code == 201, f"start run: {response.status_code}")
        if response.status_code != 201:
            return None
        await asyncio.sleep(self.rng.uniform(0.0, 0.04))
        return response.json()["id"], answer

    async def pause_resume(self) -> None:
        started = await self.start_long()
        if started is None:
            return
        run_id, answer = started
        paused = await self.timed("pause", "POST", f"/api/runs/{run_id}/pause")
        self.expect(paused.status_code in {200, 409}, f"pause: {paused.status_code}")
        status = paused.json().get("status") if paused.status_code == 200 else None
        if status == "paused":
            resumed = await self.timed("resume", "POST", f"/api/runs/{run_id}/resume")
            self.expect(resumed.status_code == 200, f"resume: {resumed.status_code}")
        await self.follow(run_id)
        run = (await self.timed("get_run", "GET", f"/api/runs/{run_id}")).json()
        self.expect(run["status"] == "completed", f"pause/resume ended {run['status']}")
        self.expect(run["response"] == answer, f"pause/resume answer: {run['response']}")

    async def follow(self, run_id: str) -> None:
        started = time.perf_counter()
        async with self.client.stream("GET", f"/api/runs/{run_id}/events") as response:
            self.expect(response.status_code == 200, f"events: {response.status_code}")
            async for _ in response.aiter_lines():
                pass
        self.stats.latencies["events"].append(time.perf_counter() - started)

    async def cancel(self) -> None:
        started = await self.start_long()
        if started is None:
            return
        run_id, _ = started
        cancelled = await self.timed("cancel", "POST", f"/api/runs/{run_id}/cancel")
        self.expect(cancelled.status_code in {200, 409}, f"cancel: {cancelled.status_code}")
        if cancelled.status_code == 200:
            status = cancelled.json()["status"]
            self.expect(status in {"cancelled", "completed"}, f"cancel ended {status}")

    async def user(self, deadline: float) -> None:
        scenarios = {
            "chat": self.chat,
            "chat_stream": self.chat_stream,
            "pause_resume": self.pause_resume,
            "cancel": self.cancel,
        }
        while time.monotonic() < deadline:
            name = self.rng.choices(list(scenarios), weights=[55, 20, 15, 10])[0]
            scenario = scenarios[name]
            try:
                await scenario()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                self.stats.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            self.stats.scenarios[name] += 1


async def sample_rss(pid: int, stats: Stats, started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        stats.rss_samples.append((time.monotonic() - started, rss_kib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def drive(url: str, pid: int | None, args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    limits = httpx.Limits(max_connections=args.users * 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for agent in (FAST, STEPPER):
            response = await client.post("/api/agents?replace=true", json=agent)
            response.raise_for_status()
        # Warm-up: the first requests import providers and fill caches.
        warm = Load(client, Stats(), random.Random(args.seed))
        for _ in range(max(2, args.users)):
            await warm.chat()
        started = time.monotonic()
        stop = asyncio.Event()
        sampler = (
            asyncio.create_task(sample_rss(pid, stats, started, stop)) if pid is not None else None
        )
        deadline = started + args.seconds
        users = [
            Load(client, stats, random.Random(args.seed * 1000 + n)).user(deadline)
            for n in range(args.users)
        ]
        await asyncio.gather(*users)
        elapsed = time.monotonic() - started
        stop.set()
        if sampler is not None:
            await sampler
        health = await client.get("/api/health")
        if health.status_code != 200:
            stats.errors.append(f"health after the run: {health.status_code}")
    return summarize(stats, elapsed, args)


def summarize(stats: Stats, elapsed: float, args: argparse.Namespace) -> dict[str, Any]:
    everything = [v for values in stats.latencies.values() for v in values]
    kinds = {
        kind: {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        }
        for kind, values in sorted(stats.latencies.items())
    }
    rss = [kib for _, kib in stats.rss_samples]
    # "After warm-up": the first tenth of the run (at least 2 s) fills pools and caches.
    warm_after = max(2.0, args.seconds / 10)
    settled = [kib for at, kib in stats.rss_samples if at >= warm_after] or rss
    return {
        "seconds": round(elapsed, 1),
        "users": args.users,
        "seed": args.seed,
        "requests": stats.requests(),
        "requests_per_s": round(stats.requests() / elapsed, 1),
        "scenarios": dict(stats.scenarios),
        "p50_ms": round(percentile(everything, 0.50) * 1000, 1),
        "p99_ms": round(percentile(everything, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(everything) * 1000, 1) if everything else 0.0,
        "by_kind": kinds,
        "errors": len(stats.errors),
        "error_samples": stats.errors[:10],
        "rss_start_mb": round(settled[0] / 1024, 1) if settled else None,
        "rss_end_mb": round(settled[-1] / 1024, 1) if settled else None,
        "rss_max_mb": round(max(rss) / 1024, 1) if rss else None,
        "rss_growth_mb": round((settled[-1] - settled[0]) / 1024, 1) if settled else None,
        # Ten points across the run: a leak climbs steadily, a warm-up levels off.
        "rss_curve_mb": [
            round(rss[i * (len(rss) - 1) // 9] / 1024, 1) for i in range(10) if len(rss) > 1
        ],
    }


def start_server(home: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AGIO_") and k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}
    }
    env.update(AGIO_HOME=str(home), AGIO_LOG_LEVEL="WARNING")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agio_cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"agio serve exited:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.1)
    process.kill()
    raise SystemExit("agio serve did not start")


def print_table(result: dict[str, Any]) -> None:
    print(f"load test: {result['seconds']} s, {result['users']} users, seed {result['seed']}")
    print(f"  requests        {result['requests']}  ({result['requests_per_s']}/s)")
    print(f"  scenarios       {result['scenarios']}")
    print(f"  latency         p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms")
    for kind, figures in result["by_kind"].items():
        print(
            f"    {kind:<12}  n={figures['count']:<6} p50 {figures['p50_ms']} ms"
            f"  p99 {figures['p99_ms']} ms"
        )
    print(f"  errors          {result['errors']}")
    for sample in result["error_samples"]:
        print(f"    {sample}")
    if result["rss_start_mb"] is not None:
        print(
            f"  server RSS      {result['rss_start_mb']} MB after warm-up -> "
            f"{result['rss_end_mb']} MB at the end (max {result['rss_max_mb']} MB, "
            f"growth {result['rss_growth_mb']} MB)"
        )
        print(f"  RSS over time   {result['rss_curve_mb']} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", help="an already running server (RSS is then not measured)")
    parser.add_argument("--home", type=Path, help="AGIO_HOME for the started server")
    parser.add_argument("--max-growth-mb", type=float, default=25.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    process: subprocess.Popen[bytes] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="agio-load-"))
    try:
        if args.url:
            url, pid = args.url.rstrip("/"), None
        else:
            process, url = start_server(args.home or workdir / "home", workdir / "serve.log")
            pid = process.pid
        result = asyncio.run(drive(url, pid, args))
        if process is not None:
            if process.poll() is not None:
                result["errors"] += 1
                result["error_samples"].append("the server died")
            log = (workdir / "serve.log").read_text(errors="replace")
            if "Traceback" in log:
                result["errors"] += 1
                result["error_samples"].append("a traceback in the server log")
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    growth = result["rss_growth_mb"] or 0.0
    return 1 if result["errors"] or growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
