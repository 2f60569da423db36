"""Drives one run in its own OS process, for the cross-process tests.

python drive_run.py start AGENT MESSAGE   prints the run id, then its final status
python drive_run.py resume RUN_ID         prints the final status
"""

from __future__ import annotations

import asyncio
import sys

from agio_core import Agio


async def main(command: str, *args: str) -> None:
    async with Agio() as agio:
        if command == "start":
            handle = await agio.start_chat(args[0], args[1])
        else:
            handle = await agio.resume_run(args[0])
        print(handle.run_id, flush=True)
        run = await handle.wait()
        print(run.status, flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
