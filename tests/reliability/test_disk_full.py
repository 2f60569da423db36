"""A full disk: a clear "disk full" error, through the facade and the CLI, and nothing lost.

AGIO_HOME lives on a real 2 MiB tmpfs (mounted by the test; skipped where that is not
allowed), filled up with a filler file until writes fail with ENOSPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.agents import stepper_agent, sums_question

from agio_core import Agio, ContentDelta, RunStarted, Settings, StepStarted, StoreError, Usage
from agio_core._eventlog import EventLog
from agio_core.ids import checkpoint_id, checkpoint_number, new_run_id
from agio_core.runs import Run
from agio_core.store.tinydb import TinyDBStore

from .conftest import ServerFactory
from .support import agio_cli, agio_env, fill_disk, no_traceback, run_agio

STEPPER = stepper_agent(delay_ms=20, max_steps=50)
LONG_QUESTION = sums_question(20)


async def snapshot(agio: Agio) -> dict[str, Any]:
    """Everything readable in the store, as plain data."""
    runs = (await agio.list_runs(limit=100)).items
    checkpoints = {}
    for run in runs:
        for summary in (await agio.list_checkpoints(run.id, limit=1000)).items:
            checkpoints[summary.id] = (await agio.get_checkpoint(summary.id)).model_dump()
    return {
        "agents": [
            a.model_dump() for a in (await agio.list_agents(limit=100)).items if a.id != "assistant"
        ],
        "runs": [r.model_dump() for r in runs],
        "checkpoints": checkpoints,
        "events": {r.id: [e.model_dump() async for e in agio.events(r.id)] for r in runs},
    }


@pytest.fixture
def full_home(small_disk: Path) -> Path:
    return small_disk / "agio"


async def seed(settings: Settings) -> dict[str, Any]:
    """An agent, a completed run, a paused run: the data that must survive."""
    async with Agio(settings) as agio:
        await agio.create_agent(STEPPER)
        completed = await agio.chat("stepper", "What is 2+3?")
        assert completed.status == "completed"
        handle = await agio.start_chat("stepper", LONG_QUESTION)
        assert (await handle.pause()).status == "paused"
        return await snapshot(agio)


async def test_writes_fail_clearly_and_data_stays_readable(full_home: Path) -> None:
    settings = Settings(home=full_home)
    before = await seed(settings)
    filler = fill_disk(full_home.parent)

    async with Agio(settings) as agio:
        with pytest.raises(StoreError, match=r"^disk full: cannot write .*nothing was changed"):
            await agio.create_agent({**STEPPER, "id": "another"})
        with pytest.raises(StoreError, match=r"^disk full"):
            await agio.chat("stepper", "What is 1+1?")
        with pytest.raises(StoreError, match=r"^disk full"):
            paused = before["runs"][0]["id"]
            await agio.create_checkpoint(paused, description="manual")
        assert await snapshot(agio) == before  # everything still readable, nothing changed

    filler.unlink()  # space again: the store carries on where it was
    async with Agio(settings) as agio:
        assert await snapshot(agio) == before
        paused_id = next(r["id"] for r in before["runs"] if r["status"] == "paused")
        resumed = await (await agio.resume_run(paused_id)).wait()
        assert resumed.status == "completed"
        assert (await agio.chat("stepper", "What is 1+1?")).response == "1+1 = 2."


async def test_cli_says_disk_full_in_one_line(full_home: Path, tmp_path: Path) -> None:
    settings = Settings(home=full_home)
    before = await seed(settings)
    agent_file = tmp_path / "agent.yaml"
    agent_file.write_text("id: another\nmodel: offline/demo\n")
    filler = fill_disk(full_home.parent)

    for args in (
        ("agents", "create", "-f", str(agent_file)),
        ("chat", "-a", "stepper", "What is 1+1?"),
        ("chat", "--json", "-a", "stepper", "What is 1+1?"),
    ):
        result = run_agio(full_home, *args)
        assert result.returncode == 1, (args, result)
        assert no_traceback(result.stderr), result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("agio: error: disk full"), lines

    shown = run_agio(full_home, "runs", "list", "--json")  # reading still works
    assert shown.returncode == 0, shown.stderr
    assert {r["id"] for r in json.loads(shown.stdout)["items"]} == {r["id"] for r in before["runs"]}
    filler.unlink()
    async with Agio(settings) as agio:
        assert await snapshot(agio) == before


async def wait_for_checkpoints(agio: Agio, run_id: str, count: int) -> None:
    for _ in range(400):
        if len((await agio.list_checkpoints(run_id, limit=1000)).items) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} did not reach {count} checkpoints")


async def test_disk_fills_up_mid_run(full_home: Path) -> None:
    """The run stops without a traceback and is left resumable (or failed), never corrupt."""
    settings = Settings(home=full_home)
    async with Agio(settings) as agio:
        await agio.create_agent(STEPPER)
        handle = await agio.start_chat("stepper", LONG_QUESTION)
        await wait_for_checkpoints(agio, handle.run_id, 3)
        acknowledged = {
            c.id for c in (await agio.list_checkpoints(handle.run_id, limit=1000)).items
        }
        filler = fill_disk(full_home.parent)
        run = await asyncio.wait_for(handle.wait(), 30)
        # Its end could not be recorded either: it is left as stored, resumable.
        assert run.status in {"failed", "interrupted"}, run
        assert run.error is not None and run.error.message.startswith("disk full"), run
        # Readable while the disk is still full.
        stored = await agio.get_run(handle.run_id)
        assert stored.status in {"failed", "interrupted"}, stored
        listed = {c.id for c in (await agio.list_checkpoints(handle.run_id, limit=1000)).items}
        assert acknowledged <= listed
        assert stored.last_checkpoint_id in listed  # never a checkpoint the disk refused
        for checkpoint_id in listed:
            await agio.get_checkpoint(checkpoint_id)

    filler.unlink()
    async with Agio(settings) as agio:
        stored = await agio.get_run(handle.run_id)
        if stored.status == "interrupted":
            stored = await (await agio.resume_run(handle.run_id)).wait()
            assert stored.status == "completed"
            assert stored.response == ". ".join(f"{i}+{i} = {2 * i}" for i in range(1, 21)) + "."
        events = [e async for e in agio.events(handle.run_id, follow=False)]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_cli_chat_when_disk_fills_up_mid_run(full_home: Path) -> None:
    settings = Settings(home=full_home)
    async with Agio(settings) as agio:
        await agio.create_agent(STEPPER)
    process = await asyncio.create_subprocess_exec(
        *agio_cli("chat", "--events", "-a", "stepper", LONG_QUESTION),
        env=agio_env(full_home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    checkpoints = 0
    run_id = ""
    while checkpoints < 3:
        event = json.loads(await process.stdout.readline())
        run_id = event["run_id"]
        checkpoints += event["type"] == "checkpoint_created"
    filler = fill_disk(full_home.parent)
    await process.stdout.read()
    err = (await process.stderr.read()).decode()
    assert await asyncio.wait_for(process.wait(), 30) == 1
    assert no_traceback(err), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ("disk full" in lines[0] or "interrupted" in lines[0]), lines

    filler.unlink()
    async with Agio(settings) as agio:
        run = await agio.get_run(run_id)
        assert run.status in {"failed", "interrupted"}
        if run.status == "interrupted":
            run = await (await agio.resume_run(run_id)).wait()
            assert run.status == "completed"


async def test_api_answers_503_disk_full(full_home: Path, start_server: ServerFactory) -> None:
    settings = Settings(home=full_home)
    before = await seed(settings)
    server = start_server(full_home)
    filler = fill_disk(full_home.parent)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, path, body in [
            ("POST", "/api/agents", {**STEPPER, "id": "another"}),
            ("POST", "/api/chat", {"agent_id": "stepper", "message": "What is 1+1?"}),
            ("POST", "/api/runs", {"agent_id": "stepper", "message": "What is 1+1?"}),
        ]:
            response = client.request(method, path, json=body)
            assert response.status_code == 503, response.text
            assert response.json()["detail"].startswith("disk full"), response.text
        assert client.get("/api/health").status_code == 200
        listed = client.get("/api/runs").json()
        assert {r["id"] for r in listed["items"]} == {r["id"] for r in before["runs"]}
    filler.unlink()
    assert server.alive() and no_traceback(server.log()), server.log()


async def test_events_that_hit_a_full_disk_are_kept_and_stored_later(full_home: Path) -> None:
    """Readers saw them already: a failed batch stays pending and the next flush stores it."""
    store = TinyDBStore(full_home)
    await store.open()
    run = Run(id=new_run_id(), agent_id="assistant", session_id="s", input="x")
    await store.create_run(run)
    log = EventLog(run.id, store, last_seq=0)
    await log.emit(RunStarted(**log.envelope(), agent_id="assistant", session_id="s"))
    await log.flush()

    filler = fill_disk(full_home.parent)
    await log.emit(StepStarted(**log.envelope(), step=1))
    await log.emit(ContentDelta(**log.envelope(), content="x" * 8192, step=1))
    with pytest.raises(StoreError, match="disk full"):
        await log.flush()
    assert [e.seq for e in log.events] == [1, 2, 3]

    filler.unlink()
    usage = Usage(**log.envelope(), prompt_tokens=1, completion_tokens=1, total_tokens=2, step=1)
    await log.emit(usage)
    await log.flush()
    assert [e.seq for e in await store.read_events(run.id)] == [1, 2, 3, 4]


async def test_a_checkpoint_the_store_refuses_is_never_pointed_at(home: Path) -> None:
    """The run record written after a refused checkpoint (how the run failed) points at
    the last checkpoint that was stored, not at the refused one."""
    async with Agio(Settings(home=home)) as agio:
        await agio.create_agent(STEPPER)
        handle = await agio.start_chat("stepper", LONG_QUESTION)
        await wait_for_checkpoints(agio, handle.run_id, 2)
        folder = home / "runs" / handle.run_id / "checkpoints"
        # A folder where each next checkpoint goes: its write fails (a file cannot replace it).
        for number in range(60):
            with contextlib.suppress(FileExistsError):  # stored already
                (folder / f"{checkpoint_id(handle.run_id, number)}.json").mkdir()
        run = await asyncio.wait_for(handle.wait(), 30)
        assert run.status == "failed" and run.error is not None, run
        stored = await agio.get_run(handle.run_id)
        assert stored.status == "failed"
        assert stored.last_checkpoint_id is not None
        last = await agio.get_checkpoint(stored.last_checkpoint_id)
        assert checkpoint_number(last.id) == stored.checkpoint_count - 1
