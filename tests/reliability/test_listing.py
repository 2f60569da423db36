"""The run listing agrees with the run records after a crash (issue 13).

A record and its listing line are written in two steps; these tests leave the store in each
state a SIGKILL between (or during) those steps leaves it in, then open it again, as the next
command or server does, and as the server's sweeper does while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agio_core import Agio, Settings
from agio_core.ids import new_run_id
from agio_core.runs import Run
from agio_core.store._tinydb_files import write_atomic
from agio_core.store.tinydb import TinyDBStore

from .conftest import ServerFactory
from .support import HERE, agio_env

AGENT = {"id": "calc", "model": "offline/demo", "model_params": {"delay_ms": 0}}


def listing(home: Path) -> dict[str, str]:
    """Each run's latest listed status, as the listing file says."""
    latest: dict[str, str] = {}
    for line in (home / "runs.jsonl").read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line being appended right now
            entry = json.loads(line)
            latest[entry["id"]] = entry["status"]
    return latest


def records(home: Path) -> dict[str, str]:
    return {
        folder.name: json.loads((folder / "run.json").read_text())["status"]
        for folder in (home / "runs").iterdir()
        if (folder / "run.json").exists()
    }


def assert_agree(home: Path) -> None:
    assert listing(home) == records(home)
    half_made = [f.name for f in (home / "runs").iterdir() if not (f / "run.json").exists()]
    assert not half_made, half_made


async def crash_states(settings: Settings, home: Path) -> dict[str, str]:
    async with Agio(settings) as agio:
        await agio.create_agent(AGENT)
        behind = await agio.chat("calc", "What is 1+1?")
        unlisted = await agio.chat("calc", "What is 2+2?")
    store = TinyDBStore(home)
    # 1. Killed between the record and its listing line: listed `running`, record `completed`.
    record = behind.model_copy(update={"status": "running", "finished_at": None})
    store.listing.append(record)
    # 2. Killed between a new run's record and its first listing line: not listed at all.
    kept = [
        line
        for line in (home / "runs.jsonl").read_text().splitlines(keepends=True)
        if unlisted.id not in line
    ]
    write_atomic(home / "runs.jsonl", "".join(kept))  # as a compaction would: never half
    # 3. Killed while being created: a folder with a checkpoint and no record, a while ago.
    half = home / "runs" / new_run_id() / "checkpoints"
    half.mkdir(parents=True)
    (half / "ck.json").write_text("{}")
    old = time.time() - 3600
    os.utime(half.parent, (old, old))
    # 4. Listed, but its folder is gone (removed by hand, or moved aside by a repair).
    gone = Run(id=new_run_id(), agent_id="calc", session_id="s", input="x", status="completed")
    store.listing.append(gone)
    return {"behind": behind.id, "unlisted": unlisted.id, "half": half.parent.name}


async def test_opening_the_store_reconciles_the_listing(settings: Settings, home: Path) -> None:
    ids = await crash_states(settings, home)
    assert listing(home) != records(home)
    async with Agio(settings) as agio:
        running = await agio.list_runs(status="running")
        assert running.total == 0 and not running.items
        page = await agio.list_runs()
        assert {r.id for r in page.items} == {ids["behind"], ids["unlisted"]}
        assert page.total == 2
    assert_agree(home)


async def test_a_run_being_created_is_not_taken_for_half_made(
    settings: Settings, home: Path
) -> None:
    """A folder without a record may be a run another process is creating right now."""
    fresh = home / "runs" / new_run_id() / "checkpoints"
    fresh.mkdir(parents=True)
    async with Agio(settings):
        pass
    assert fresh.is_dir()


async def test_the_server_sweeper_reconciles_while_it_runs(
    settings: Settings, home: Path, start_server: ServerFactory
) -> None:
    server = start_server(AGIO_SWEEP_EVERY_S="0.2")
    ids = await crash_states(settings, home)
    deadline = time.monotonic() + 20
    while listing(home) != records(home):
        assert time.monotonic() < deadline, (listing(home), records(home), server.log()[-2000:])
        await asyncio.sleep(0.1)
    assert ids["behind"] in listing(home)
    assert "run listing reconciled" in server.log()


async def rewind_killed_midway(settings: Settings, home: Path) -> Run:
    """A finished run, rewound in place by a process SIGKILLed after the run's record was
    written and before its listing line was (tests/reliability/rewind_killed.py), as it was."""
    async with Agio(settings) as agio:
        await agio.create_agent(AGENT)
        done = await agio.chat("calc", "What is 3+4?")
        first = (await agio.list_checkpoints(done.id)).items[0].id
    killed = subprocess.run(
        [sys.executable, str(HERE / "rewind_killed.py"), first],
        env=agio_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed
    # The state the crash left: the record rewound, the listing still saying it finished.
    assert records(home)[done.id] == "running" and listing(home)[done.id] == "completed"
    return done


async def test_a_rewind_killed_before_its_listing_line_is_reconciled_at_open(
    settings: Settings, home: Path
) -> None:
    done = await rewind_killed_midway(settings, home)
    async with Agio(settings) as agio:  # opening the store reconciles the listing
        assert listing(home) == records(home)
        # Its owner is dead: listed as the resumable run it is, and it resumes.
        interrupted = await agio.list_runs(status="interrupted")
        assert [r.id for r in interrupted.items] == [done.id]
        assert (await agio.list_runs(status="completed")).total == 0
        resumed = await (await agio.resume_run(done.id)).wait()
        assert resumed.status == "completed" and resumed.response == done.response
    assert_agree(home)


async def test_the_sweeper_reconciles_a_rewind_killed_before_its_listing_line(
    settings: Settings, home: Path, start_server: ServerFactory
) -> None:
    server = start_server(AGIO_SWEEP_EVERY_S="0.2")
    run_id = (await rewind_killed_midway(settings, home)).id  # while the server runs
    deadline = time.monotonic() + 20
    while listing(home).get(run_id) != "interrupted":
        assert time.monotonic() < deadline, (listing(home), records(home), server.log()[-2000:])
        await asyncio.sleep(0.1)
    assert listing(home) == records(home)
    assert "run listing reconciled" in server.log()
