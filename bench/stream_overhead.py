"""How much streaming through `agio serve` costs, against reading the model server directly.

Starts the fake OpenAI-compatible upstream (`tests/fake_openai.py`, a
2,000-word reply streamed as fast as it can) and an `agio serve` whose agent uses
`openai/fake-model` with AGIO_OPENAI_BASE_URL pointing at it. The same client (httpx, reading
SSE lines and decoding each JSON payload) then reads the reply both ways, alternately, a few
times. Reported: tokens per second received, time to first token, and as the last line

    {"metric": "stream_throughput_ratio", "value": X}  (through agio / direct; target >= 0.8,
                                                        and at most 5 ms added to the first token)

Also reported: the CPU `agio serve` used per token streamed through it (the start and end of
each run included), from /proc (Linux).

Run: python bench/stream_overhead.py [--words 2000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL = "fake-model"
AGENT = {"id": "bench", "model": f"openai/{MODEL}", "tools": []}


@dataclass
class Reading:
    tokens: int
    first_token_s: float
    total_s: float
    run_s: float = 0.0  # through agio: the run's own duration, as its metrics say

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.total_s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


@contextmanager
def running(
    argv: list[str], env: dict[str, str], health_url: str, what: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(health_url, process, what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    """CPU time of a process's threads so far, in ns resolution (/proc's schedstat: a
    round of 2,000 tokens is tens of ms, a few clock ticks of /proc/PID/stat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def read_stream(client: httpx.Client, url: str, body: dict[str, object], direct: bool) -> Reading:
    """Count the text pieces of one streamed reply, as any SSE client would read them."""
    tokens, first, run_s = 0, 0.0, 0.0
    started = time.perf_counter()
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if direct:
                choices = event.get("choices") or [{}]
                has_text = bool(choices[0].get("delta", {}).get("content"))
            else:
                has_text = event["type"] == "content_delta"
                if event["type"] == "run_completed":
                    run_s = event["metrics"]["duration_ms"] / 1000
            if has_text:
                tokens += 1
                if tokens == 1:
                    first = time.perf_counter() - started
    return Reading(tokens, first, time.perf_counter() - started, run_s)


def median(readings: list[Reading], field: str) -> float:
    return statistics.median(getattr(r, field) for r in readings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    upstream_port, agio_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    agio = f"http://127.0.0.1:{agio_port}"
    home = Path(tempfile.mkdtemp(prefix="agio-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIO_")}
    agio_env = {
        **env,
        "AGIO_HOME": str(home / "home"),
        "AGIO_OPENAI_BASE_URL": f"{upstream}/v1",
        "AGIO_OPENAI_API_KEY": "bench",
    }
    fake = [sys.executable, str(Path(__file__).resolve().parents[1] / "tests" / "fake_openai.py")]
    fake += ["--port", str(upstream_port), "--words", str(args.words)]
    serve = [sys.executable, "-m", "agio_cli", "serve", "--port", str(agio_port)]

    with (
        running(fake, env, f"{upstream}/v1/models", "fake upstream"),
        running(serve, agio_env, f"{agio}/api/health", "agio serve") as server,
        httpx.Client(timeout=120) as client,
    ):
        client.post(f"{agio}/api/agents", json=AGENT).raise_for_status()
        direct_body = {
            "model": MODEL,
            "stream": True,
            "messages": [{"role": "user", "content": "Write a long text."}],
        }
        agio_body = {"agent_id": AGENT["id"], "message": "Write a long text."}
        direct: list[Reading] = []
        through: list[Reading] = []
        # One warm-up each (imports, connections), then alternate so drift hits both alike.
        read_stream(client, f"{upstream}/v1/chat/completions", direct_body, direct=True)
        read_stream(client, f"{agio}/api/chat", agio_body, direct=False)
        server_cpu_s = 0.0
        for _ in range(args.rounds):
            direct.append(read_stream(client, f"{upstream}/v1/chat/completions", direct_body, True))
            before = cpu_seconds(server.pid)
            through.append(read_stream(client, f"{agio}/api/chat", agio_body, False))
            server_cpu_s += cpu_seconds(server.pid) - before

    for name, readings in (("direct", direct), ("through agio", through)):
        print(
            f"{name:>13}: {median(readings, 'tokens'):.0f} tokens, "
            f"{median(readings, 'tokens_per_s'):,.0f} tokens/s, "
            f"first token {median(readings, 'first_token_s') * 1000:.1f} ms, "
            f"total {median(readings, 'total_s') * 1000:.0f} ms (median of {len(readings)})"
        )
    run_ms = median(through, "run_s") * 1000
    print(
        f"the run itself (core: provider, events, checkpoints) took {run_ms:.0f} ms of the "
        f"{median(through, 'total_s') * 1000:.0f} ms; the rest is HTTP + SSE"
    )
    cpu_us = 1e6 * server_cpu_s / sum(r.tokens for r in through)
    print(
        f"agio serve's CPU per token streamed (its run's start and end included): {cpu_us:.1f} us"
    )
    added_ttft_ms = (median(through, "first_token_s") - median(direct, "first_token_s")) * 1000
    ratio = median(through, "tokens_per_s") / median(direct, "tokens_per_s")
    print(f"added time to first token: {added_ttft_ms:.1f} ms")
    print(json.dumps({"metric": "stream_throughput_ratio", "value": round(ratio, 3)}))


if __name__ == "__main__":
    main()
