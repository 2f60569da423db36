"""Rewinds a finished run in place, and SIGKILLs itself between the two writes of it.

    python rewind_killed.py CHECKPOINT_ID

The rewind (`restore_checkpoint(..., create_new_run=False)`) claims the run: its record
(`run.json`) is replaced, then its listing line is appended to `runs.jsonl`. An audit hook
(`sys.addaudithook`: it sees the process's real `os.replace` and `os.open` calls, and changes
none) kills the process once the record has been replaced, as the listing file is opened:
the crash lands exactly between the two writes. Exits 0 only if it never got there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from agio_core import Agio
from agio_core.ids import run_of_checkpoint


def kill_between_record_and_listing(run_id: str) -> None:
    record_replaced = False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal record_replaced
        if event == "os.rename" and Path(os.fsdecode(args[1])).parts[-2:] == (run_id, "run.json"):
            record_replaced = True
        elif (
            event == "open"
            and record_replaced
            and isinstance(args[0], (str, bytes))
            and Path(os.fsdecode(args[0])).name == "runs.jsonl"
        ):
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)


async def main(checkpoint_id: str) -> None:
    async with Agio() as agio:
        kill_between_record_and_listing(run_of_checkpoint(checkpoint_id))
        handle = await agio.restore_checkpoint(checkpoint_id, create_new_run=False)
        await handle.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
