"""Drives several runs at once in its own OS process, for the crash tests.

    python drive_runs.py AGENT MESSAGE [MESSAGE ...]

Starts one run per message, concurrently, and prints every event of every run as one JSON
line the moment it happens (flushed). What such an event acknowledges is stored before it is
handed out: a checkpoint before its `checkpoint_created`, a run's end before its terminal
event, a run's `run_started` before `start_chat` returns.
"""

from __future__ import annotations

import asyncio
import sys

from agio_core import Agio, RunHandle


async def relay(handle: RunHandle) -> None:
    async for event in handle.events():
        sys.stdout.write(event.to_json() + "\n")
        sys.stdout.flush()


async def main(agent_id: str, messages: list[str]) -> None:
    async with Agio() as agio:
        handles = [await agio.start_chat(agent_id, message) for message in messages]
        await asyncio.gather(*(relay(handle) for handle in handles))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
