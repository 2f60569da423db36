"""What the core (engine, event log, store, one reader per run) costs per token, without HTTP.

    python bench/core_per_token.py [--runs 200] [--tokens 200] [--delay-ms 20] [--openai]
                                   [--first-token 20] [--profile FILE]

In one process (uvloop, as `agio serve` runs), on a fresh TinyDB home:

- *paced*: `--runs` chats at once, each the offline model counting to `--tokens` at
  `--delay-ms` between tokens, each followed by one reader that reads as the SSE relay does.
  The CPU per token is taken in the steady state: from the moment every run has streamed its
  first token to the moment the first one ends (no run starts or ends in that window).
- *start and end*: `--runs` chats counting to 1, at once: the CPU of a run's creation, first
  and last checkpoints and end, per run.
- *first token*: `--first-token` chats one after the other at full speed: the time from
  `start_chat` to the first `content_delta` a reader gets (the run's durable creation, the
  step's start, the model's first word).
- with `--openai`: the full-speed stream of `tests/fake_openai.py` (2,000 words, started here
  as a subprocess) through the openai provider: CPU per token of this process (the run's
  start and end included), tokens/s from the first token to the last, and the time to the
  first token. (The offline model's first token is the core's floor: its
  model has no latency. What the openai path adds is the provider's request and the
  upstream's answer.)

CPU is `time.process_time()` of this process (its threads included). `--profile FILE` writes
a cProfile of the paced phase. The last line is JSON with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
RELAY_REST_S = 0.03  # agio_core.api.sse.SEND_INTERVAL_S (not imported: it would import FastAPI)


@dataclass
class Progress:
    """What the readers of one phase have seen so far, for the steady-state window."""

    tokens: int = 0
    streaming: int = 0  # runs that streamed their first token
    ended: int = 0
    last_token_at: float = 0.0


async def _follow(agio: Any, run_id: str, progress: Progress) -> float | None:
    """Read a run's events to its end as the SSE relay does (`agio_core/api/sse.py`): in
    batches, letting tokens pile up for `RELAY_REST_S` (a reader woken for every token
    would measure itself more than the core). Returns when the first token came."""
    first = None
    async for batch in agio.event_batches(run_id, coalesce_s=RELAY_REST_S):
        for event in batch:
            if event.type == "content_delta":
                progress.tokens += 1
                progress.last_token_at = time.perf_counter()
                if first is None:
                    first = time.perf_counter()
                    progress.streaming += 1
    progress.ended += 1
    return first


async def _chats(
    agio: Any, agent: str, runs: int, message: str, params: dict[str, Any], progress: Progress
) -> None:
    async def one() -> None:
        handle = await agio.start_chat(agent, message, model_params=params)
        await _follow(agio, handle.run_id, progress)

    await asyncio.gather(*(one() for _ in range(runs)))


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.005)


async def _steady_cpu_per_token(progress: Progress, runs: int) -> tuple[float, int]:
    """CPU per token while all `runs` stream and none has ended: (seconds, tokens seen)."""
    await _until(lambda: progress.streaming == runs or progress.ended)
    cpu, tokens = time.process_time(), progress.tokens
    await _until(lambda: progress.ended)
    cpu, tokens = time.process_time() - cpu, progress.tokens - tokens
    return cpu / max(tokens, 1), tokens


async def _first_tokens(agio: Any, agent: str, count: int, params: dict[str, Any]) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        handle = await agio.start_chat(agent, "count to 5", model_params=params)
        first = await _follow(agio, handle.run_id, Progress())
        assert first is not None, "the run streamed no token"
        seconds.append(first - started)
    return seconds


async def _paced(agio: Any, args: argparse.Namespace, profile: cProfile.Profile | None) -> dict:
    params = {"delay_ms": args.delay_ms}
    await agio.create_agent({"id": "paced", "model": "offline/demo", "tools": []})
    await _chats(agio, "paced", 5, "count to 5", params, Progress())  # warm-up
    if profile:
        profile.enable()
    progress = Progress()
    chats = asyncio.ensure_future(
        _chats(agio, "paced", args.runs, f"count to {args.tokens}", params, progress)
    )
    per_token, window_tokens = await _steady_cpu_per_token(progress, args.runs)
    await chats
    if profile:
        profile.disable()
    assert progress.tokens == args.runs * args.tokens, f"{progress.tokens} tokens"
    short = Progress()
    cpu = time.process_time()
    await _chats(agio, "paced", args.runs, "count to 1", params, short)
    cpu_short = time.process_time() - cpu
    assert short.tokens == args.runs
    first = await _first_tokens(agio, "paced", args.first_token, {"delay_ms": 0})
    return {
        "runs": args.runs,
        "tokens_per_run": args.tokens,
        "delay_ms": args.delay_ms,
        "core_cpu_us_per_token": round(per_token * 1e6, 1),
        "steady_window_tokens": window_tokens,
        "core_cpu_ms_per_run_start_and_end": round(cpu_short / args.runs * 1000, 2),
        "offline_first_token_ms_p50": round(statistics.median(first) * 1000, 1),
    }


async def _openai(agio: Any, args: argparse.Namespace) -> dict:
    await agio.create_agent({"id": "openai", "model": "openai/fake-model", "tools": []})
    await _chats(agio, "openai", 1, "warm up", {}, Progress())
    cpu_per_token, rates = [], []
    for _ in range(5):
        progress = Progress()
        cpu = time.process_time()
        handle = await agio.start_chat("openai", "Write a long text.")
        first = await _follow(agio, handle.run_id, progress)
        assert first is not None, "the run streamed no token"
        cpu_per_token.append((time.process_time() - cpu) / progress.tokens)
        # From its first token to its last: the stream's rate, without the run's start and end
        rates.append((progress.tokens - 1) / (progress.last_token_at - first))
    first = await _first_tokens(agio, "openai", args.first_token, {})
    return {
        "openai_cpu_us_per_token": round(statistics.median(cpu_per_token) * 1e6, 1),
        "openai_tokens_per_s": round(statistics.median(rates)),
        "openai_first_token_ms_p50": round(statistics.median(first) * 1000, 1),
    }


async def _main(args: argparse.Namespace) -> dict:
    from agio_core import Agio

    profile = cProfile.Profile() if args.profile else None
    async with Agio() as agio:
        figures = await _paced(agio, args, profile)
        if args.openai:
            figures |= await _openai(agio, args)
    if profile:
        profile.dump_stats(args.profile)
    return figures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_upstream() -> subprocess.Popen[bytes]:
    port = _free_port()
    fake = [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--port", str(port)]
    upstream = subprocess.Popen(fake, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    os.environ["AGIO_OPENAI_BASE_URL"] = base_url
    os.environ["AGIO_OPENAI_API_KEY"] = "bench"
    for _ in range(300):
        try:
            httpx.get(f"{base_url}/models", timeout=1)
            return upstream
        except httpx.TransportError:
            time.sleep(0.1)
    upstream.kill()
    raise SystemExit("the fake upstream did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20)
    parser.add_argument("--first-token", type=int, default=20)
    parser.add_argument("--openai", action="store_true")
    parser.add_argument("--profile")
    args = parser.parse_args()

    for key in [k for k in os.environ if k.startswith("AGIO_")]:
        del os.environ[key]
    os.environ["AGIO_HOME"] = tempfile.mkdtemp(prefix="agio-core-bench-")
    upstream = _start_upstream() if args.openai else None
    try:
        figures = uvloop.run(_main(args))
    finally:
        if upstream is not None:
            upstream.terminate()
            upstream.wait(10)
    figures["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
