"""How long a pause takes, from the request to `run_paused` reaching a reader (p99 <= 250 ms).

Each round starts a run and asks it to pause after a random delay (20-400 ms), so the pause
lands anywhere: mid-stream (an offline agent counting), or between and during the calculator
steps of a many-step run, while checkpoints are written. Three ways of asking:

  same facade     the owner's `Agio.pause_run` (in-process: the runner is told directly)
  other facade    a second `Agio` on the same AGIO_HOME: the request goes through the store,
                  as from another process, and the owner's control poll (CONTROL_POLL_S) sees it
  agio serve      `POST /api/runs/{id}/pause` to a real `agio serve`, `run_paused` read from
                  the chat's SSE stream (with `--database-url`: two workers on PostgreSQL,
                  each request on a new connection, so it often lands on the other worker)

The baseline, measured in the same run, is the store's control round trip (write a request,
read it back) plus CONTROL_POLL_S, the floor of the cross-process path on TinyDB (PostgreSQL
wakes the owner by LISTEN/NOTIFY instead: `--database-url`). The last line is

    {"metric": "pause_latency_p99_ms", "value": X}      (worst of the three ways)

Run: python bench/pause_latency.py [--pauses 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from agio_core import Agio, ConflictError, Settings
from agio_core.control import CONTROL_POLL_S
from agio_core.runs import ControlRequest

COUNTER = {"id": "counter", "model": "offline/demo", "model_params": {"delay_ms": 10}}
STEPPER = {
    "id": "stepper",
    "model": "offline/demo",
    "model_params": {"delay_ms": 10, "parallel_tool_calls": False},
    "tools": ["calculator"],
    "max_steps": 200,
}
QUESTIONS = {
    "counter": "count to 400",
    "stepper": "What is " + ", ".join(f"{i}+{i}" for i in range(1, 80)) + "?",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], missed: int) -> float:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"{name:<14} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   max {max(latencies):6.1f} ms"
        f"   ({len(latencies)} pauses; {missed} runs ended before the pause)"
    )
    return p99


async def control_round_trip(agio: Agio, rounds: int = 50) -> float:
    """The store's control write + read, in ms (median): the cross-process floor."""
    run = await (await agio.start_chat("counter", "hi")).wait()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await agio.store.request_control(run.id, ControlRequest(action="pause"))
        await agio.store.get_control(run.id)
        times.append((time.perf_counter() - started) * 1000)
        await agio.store.clear_control(run.id)
    return statistics.median(times)


async def pause_embedded(owner: Agio, pauser: Agio, agent: str) -> float | None:
    """One run, paused at a random point; ms from the request to `run_paused` (None: it
    finished first)."""
    handle = await owner.start_chat(agent, QUESTIONS[agent])
    paused_at = asyncio.get_running_loop().create_future()

    async def watch() -> None:
        async for event in owner.events(handle.run_id, after_seq=handle.first_seq - 1):
            if event.type == "run_paused":
                paused_at.set_result(time.perf_counter())
                return
        paused_at.set_result(None)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(random.uniform(0.02, 0.4))
    requested = time.perf_counter()
    with contextlib.suppress(ConflictError):  # the run ended just before the request
        await pauser.pause_run(handle.run_id, wait=0)
    at = await paused_at
    await watcher
    with_end = await handle.wait()
    if with_end.status == "paused":
        await owner.cancel_run(handle.run_id)
    return None if at is None else (at - requested) * 1000


async def embedded(
    pauses: int, database_url: str
) -> tuple[list[float], list[float], int, int, float]:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), database_url=database_url)
        async with Agio(settings) as owner, Agio(settings) as other:
            for agent in (COUNTER, STEPPER):
                await owner.create_agent(agent, replace=True)
            baseline = await control_round_trip(owner)
            results: dict[str, list[float]] = {"same": [], "other": []}
            missed = {"same": 0, "other": 0}
            for i in range(pauses * 2):
                way = "same" if i % 2 == 0 else "other"
                agent = "counter" if (i // 2) % 2 == 0 else "stepper"
                ms = await pause_embedded(owner, owner if way == "same" else other, agent)
                if ms is None:
                    missed[way] += 1
                else:
                    results[way].append(ms)
    return results["same"], results["other"], missed["same"], missed["other"], baseline


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def pause_served(client: httpx.AsyncClient, agent: str) -> float | None:
    body = {"agent_id": agent, "message": QUESTIONS[agent]}
    run_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    requested: list[float] = []

    async def pause_later() -> None:
        rid = await run_id
        await asyncio.sleep(random.uniform(0.02, 0.4))
        requested.append(time.perf_counter())
        await client.post(f"/api/runs/{rid}/pause", params={"wait": 0})

    pausing = asyncio.create_task(pause_later())
    paused_at = None
    async with client.stream("POST", "/api/chat", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if not run_id.done():
                run_id.set_result(event["run_id"])
            if event["type"] == "run_paused":
                paused_at = time.perf_counter()
    await pausing
    if paused_at is None:
        return None
    await client.post(f"/api/runs/{await run_id}/cancel")
    return (paused_at - requested[0]) * 1000


async def served(pauses: int, database_url: str) -> tuple[list[float], int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGIO_")}
        env.update(AGIO_HOME=home, AGIO_LOG_LEVEL="WARNING")
        workers = []
        if database_url:  # two workers: a pause often reaches the one not driving the run
            env["AGIO_DATABASE_URL"] = database_url
            workers = ["--workers", "2"]
        process = subprocess.Popen(
            [sys.executable, "-m", "agio_cli", "serve", "--port", str(port), *workers],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # A new connection per request, so that requests spread across workers.
            fresh = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60, limits=fresh
            ) as client:
                for _ in range(300):
                    try:
                        if (await client.get("/api/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                for agent in (COUNTER, STEPPER):
                    created = await client.post("/api/agents", json=agent)
                    assert created.status_code in {201, 409}, created.text  # 409: made before
                latencies, missed = [], 0
                for i in range(pauses):
                    ms = await pause_served(client, "counter" if i % 2 == 0 else "stepper")
                    if ms is None:
                        missed += 1
                    else:
                        latencies.append(ms)
        finally:
            process.terminate()
            process.wait(15)
    return latencies, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=int, default=100, help="pauses per way of asking")
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL instead of TinyDB (control by LISTEN/NOTIFY), and `agio serve "
        "--workers 2`",
    )
    args = parser.parse_args()
    random.seed(15)
    same, other, missed_same, missed_other, baseline = asyncio.run(
        embedded(args.pauses, args.database_url)
    )
    http, missed_http = asyncio.run(served(args.pauses, args.database_url))
    print(
        f"baseline       store control round trip {baseline:.1f} ms (median) + CONTROL_POLL_S"
        f" {CONTROL_POLL_S * 1000:.0f} ms = {baseline + CONTROL_POLL_S * 1000:.1f} ms"
    )
    worst = max(
        report("same facade", same, missed_same),
        report("other facade", other, missed_other),
        report("agio serve", http, missed_http),
    )
    print(json.dumps({"metric": "pause_latency_p99_ms", "value": round(worst, 1)}))


if __name__ == "__main__":
    main()
