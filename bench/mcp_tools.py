"""What an MCP tool costs: the first run (server started, tools listed) and later runs of the
same process (server reused), against the reference `mcp-server-time` over stdio.

Each run is one offline-model `call` of `time__get_current_time`, so the figure is the whole
run: start, tool listing or cache, the call, the answer. Prints the figures; the last line
is JSON.

    python bench/mcp_tools.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agio_core import Agio, Settings


async def main(runs: int) -> dict[str, float]:
    server = str(Path(sys.executable).with_name("mcp-server-time"))
    with tempfile.TemporaryDirectory() as home:
        async with Agio(Settings(home=Path(home))) as agio:
            await agio.create_agent(
                {
                    "id": "clock",
                    "model": "offline/demo",
                    "model_params": {"delay_ms": 0},
                    "tools": ["time__*"],
                    "mcp_servers": {"time": {"command": server}},
                }
            )
            times = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                run = await agio.chat("clock", 'call time__get_current_time {"timezone": "UTC"}')
                times.append((time.perf_counter() - started) * 1000)
                assert run.status == "completed" and "UTC" in (run.response or ""), run
    warm = times[1:]
    return {
        "first_run_ms": round(times[0], 1),
        "later_run_median_ms": round(statistics.median(warm), 1),
        "later_run_p95_ms": round(sorted(warm)[int(len(warm) * 0.95) - 1], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    figures = asyncio.run(main(parser.parse_args().runs))
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))
