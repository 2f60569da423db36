"""Memory of a live run per streamed token (issue 13: it kept every event, ~1.7 KB a token).

    python bench/run_memory.py [--tokens 100000] [--readers 1]

Runs `count to N` on the offline model at full speed in this process, with `--readers` live
readers of its events (as `agio chat` or an SSE stream reads them), and samples this
process's resident memory every 20 ms. Prints one JSON line: the peak growth over the
baseline, and that growth per token. The answer itself (N numbers) is part of what a run
must hold; everything else should not grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agio_core import Agio, Settings  # noqa: E402


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def measure(tokens: int, readers: int, home: Path) -> dict[str, float]:
    async with Agio(Settings(home=home)) as agio:
        agent = {"id": "fast", "model": "offline/demo", "model_params": {"delay_ms": 0}}
        await agio.create_agent(agent)
        await agio.chat("fast", "count to 10")  # warm up: imports, first writes
        baseline = peak = rss_bytes()
        handle = await agio.start_chat("fast", f"count to {tokens}")

        async def read() -> int:
            return sum([1 async for _ in handle.events()])

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_bytes())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        counts = await asyncio.gather(*(read() for _ in range(readers)), handle.wait())
        seconds = time.monotonic() - started
        sampler.cancel()
        peak = max(peak, rss_bytes())
    growth = peak - baseline
    return {
        "tokens": tokens,
        "readers": readers,
        "events_per_reader": counts[0] if readers else 0,
        "seconds": round(seconds, 1),
        "rss_growth_mb": round(growth / 2**20, 1),
        "bytes_per_token": round(growth / tokens),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(measure(args.tokens, args.readers, Path(tmp)))))


if __name__ == "__main__":
    main()
