"""SIGKILL at random points of 50 runs: nothing acknowledged is lost, everything resumes.

Three kinds of process are killed, each at a seeded random point of its event stream:
- a script driving five runs at once through the facade (30 runs),
- `agio chat --events` (10 runs, one per process, five processes at a time),
- `agio serve` with five runs going (10 runs, two server lifetimes).

Acknowledged means: the test read the run's `checkpoint_created` event (or saw the checkpoint
listed by the API) before the kill. After each kill the store opens, every acknowledged
checkpoint is there and readable, every run that had not finished is `interrupted`, and
resuming it (in another process: the test's, the CLI's, a restarted server's) completes it
with the right answer and a gap-free event log.

`AGIO_RELIABILITY_SEED` changes the kill points (default 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.agents import stepper_agent
from helpers.waiting import wait_until

from agio_core import Agio, Settings
from agio_core.store._tinydb_check import reconcile
from agio_core.store.tinydb import TinyDBStore

from .conftest import ServerFactory
from .support import HERE, agio_cli, agio_env

SEED = int(os.environ.get("AGIO_RELIABILITY_SEED", "7"))
# SIGKILLs of `agio serve` in the listing test: 10 keep the suite quick (~2.5 s each); the
# issue's figure is AGIO_RELIABILITY_KILL_CYCLES=20 (docs/reliability.md).
KILL_CYCLES = int(os.environ.get("AGIO_RELIABILITY_KILL_CYCLES", "6"))
DRIVER = HERE / "drive_runs.py"
TERMINAL = {"run_completed", "run_failed", "run_cancelled"}


def stepper(agent_id: str) -> dict[str, Any]:
    """Runs of a few dozen events."""
    return stepper_agent(agent_id, delay_ms=3, max_steps=50)


def question(rng: random.Random) -> str:
    pairs = [(rng.randint(1, 99), rng.randint(1, 99)) for _ in range(rng.randint(1, 5))]
    return "What is " + ", ".join(f"{a}+{b}" for a, b in pairs) + "?"


def expected_answer(message: str) -> str:
    sums = message.removeprefix("What is ").removesuffix("?").split(", ")
    return ". ".join(f"{s} = {sum(int(n) for n in s.split('+'))}" for s in sums) + "."


def events_per_run(message: str) -> int:
    steps = message.count("+")
    return 6 + 8 * steps  # run_started, checkpoints, tool steps, the answer's words, the end


@dataclass
class Acknowledged:
    """What the test saw before the kill."""

    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)  # id: (run, step)
    finished: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)

    def see(self, event: dict[str, Any]) -> None:
        self.runs.add(event["run_id"])
        if event["type"] == "checkpoint_created":
            self.checkpoints[event["checkpoint_id"]] = (event["run_id"], event["step"])
        elif event["type"] in TERMINAL:
            self.finished.add(event["run_id"])


async def check_after_crash(agent_id: str, settings: Settings, seen: Acknowledged) -> list[str]:
    """The store opens and holds everything acknowledged; returns the runs left to resume."""
    async with Agio(settings) as agio:  # a fresh facade: the store opens after the crash
        runs = (await agio.list_runs(agent_id=agent_id, limit=1000)).items
        assert seen.runs <= {r.id for r in runs}
        for run in runs:
            if run.id in seen.finished:
                assert run.status == "completed", (SEED, run)
            else:  # it may have completed unseen (events still in the pipe), else interrupted
                assert run.status in {"interrupted", "completed"}, (SEED, run)
        for checkpoint_id, (run_id, step) in seen.checkpoints.items():
            checkpoint = await agio.get_checkpoint(checkpoint_id)
            assert (checkpoint.run_id, checkpoint.step) == (run_id, step), SEED
            assert checkpoint.messages[0]["role"] == "system"
            assert checkpoint_id in {
                c.id for c in (await agio.list_checkpoints(run_id, limit=1000)).items
            }
        interrupted = [r.id for r in runs if r.status == "interrupted"]
        print(
            f"{agent_id}: {len(interrupted)} of {len(runs)} runs interrupted, "
            f"{len(seen.checkpoints)} acknowledged checkpoints all present"
        )
        return interrupted


async def check_completed(agent_id: str, settings: Settings, count: int) -> None:
    """Every run answered right, once, with a gap-free event log."""
    async with Agio(settings) as agio:
        runs = (await agio.list_runs(agent_id=agent_id, limit=1000)).items
        assert len(runs) == count
        for run in runs:
            assert run.status == "completed", (SEED, run)
            assert run.response == expected_answer(run.input), (SEED, run)
            events = [e async for e in agio.events(run.id, follow=False)]
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), (SEED, run.id)
            assert events[0].type == "run_started"
            assert [e.type for e in events if e.type in TERMINAL] == ["run_completed"]


async def read_until_killed(
    process: asyncio.subprocess.Process, kill_after: int, seen: Acknowledged
) -> int:
    """Read NDJSON events; SIGKILL the process after `kill_after` of them. Returns lines read."""
    assert process.stdout is not None
    read = 0
    while read < kill_after:
        line = await process.stdout.readline()
        if not line:
            break  # it finished first: nothing to kill
        seen.see(json.loads(line))
        read += 1
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()
    return read


async def test_sigkill_a_process_driving_five_runs(settings: Settings, home: Path) -> None:
    rng = random.Random(SEED)
    env = agio_env(home)
    for round_ in range(6):  # 6 processes x 5 runs = 30 runs
        agent_id = f"crash-driver-{round_}"
        async with Agio(settings) as agio:
            await agio.create_agent(stepper(agent_id))
        messages = [question(rng) for _ in range(5)]
        budget = sum(events_per_run(m) for m in messages)
        kill_after = rng.randint(2, budget)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DRIVER),
            agent_id,
            *messages,
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        seen = Acknowledged()
        await read_until_killed(process, kill_after, seen)

        interrupted = await check_after_crash(agent_id, settings, seen)
        async with Agio(settings) as agio:  # resume in another process than the dead one
            handles = [await agio.resume_run(run_id) for run_id in interrupted]
            await asyncio.gather(*(h.wait() for h in handles))
        await check_completed(agent_id, settings, len(messages))


async def test_sigkill_agio_chat(settings: Settings, home: Path) -> None:
    rng = random.Random(SEED + 1)
    env = agio_env(home)
    for round_ in range(2):  # 2 rounds x 5 concurrent `agio chat` = 10 runs
        agent_id = f"crash-chat-{round_}"
        async with Agio(settings) as agio:
            await agio.create_agent(stepper(agent_id))
        messages = [question(rng) for _ in range(5)]
        seen = Acknowledged()
        processes = [
            await asyncio.create_subprocess_exec(
                *agio_cli("chat", "--events", "-a", agent_id, message),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for message in messages
        ]
        await asyncio.gather(
            *(
                read_until_killed(p, rng.randint(1, events_per_run(m)), seen)
                for p, m in zip(processes, messages, strict=True)
            )
        )
        for process in processes:
            assert process.stderr is not None
            err = (await process.stderr.read()).decode()
            assert "Traceback" not in err, err

        interrupted = await check_after_crash(agent_id, settings, seen)
        resumers = [
            await asyncio.create_subprocess_exec(
                *agio_cli("runs", "resume", run_id, "--json"),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for run_id in interrupted
        ]
        for resumer in resumers:
            stdout, stderr = await resumer.communicate()
            assert resumer.returncode == 0, stderr.decode()
            assert json.loads(stdout)["status"] == "completed"
        await check_completed(agent_id, settings, len(messages))


def all_completed(client: httpx.Client, run_ids: list[str]) -> bool:
    runs = [client.get(f"/api/runs/{run_id}").json() for run_id in run_ids]
    return all(run["status"] == "completed" for run in runs)


async def test_sigkill_agio_serve(
    settings: Settings, home: Path, start_server: ServerFactory
) -> None:
    rng = random.Random(SEED + 2)
    for round_ in range(2):  # 2 server lifetimes x 5 runs = 10 runs
        agent_id = f"crash-serve-{round_}"
        server = start_server()
        client = httpx.Client(base_url=server.url, timeout=30)
        assert client.post("/api/agents", json=stepper(agent_id)).status_code == 201
        messages = [question(rng) for _ in range(5)]
        run_ids = [
            client.post("/api/runs", json={"agent_id": agent_id, "message": m}).json()["id"]
            for m in messages
        ]
        # Acknowledged = listed by the server before the kill.
        seen = Acknowledged(runs=set(run_ids))
        kill_after = rng.randint(1, sum(m.count("+") + 2 for m in messages))
        while len(seen.checkpoints) < kill_after:
            for run_id in run_ids:
                run = client.get(f"/api/runs/{run_id}").json()
                listed = client.get(f"/api/checkpoints/runs/{run_id}/checkpoints").json()["items"]
                seen.checkpoints.update({c["id"]: (run_id, c["step"]) for c in listed})
                if run["status"] == "completed":
                    seen.finished.add(run_id)
            if seen.finished == seen.runs:
                break
        server.kill()
        client.close()

        interrupted = await check_after_crash(agent_id, settings, seen)
        server = start_server()  # a new server on the same AGIO_HOME resumes them
        with httpx.Client(base_url=server.url, timeout=30) as client:
            listed = client.get(
                "/api/runs", params={"status": "interrupted", "agent_id": agent_id}
            ).json()
            assert sorted(r["id"] for r in listed["items"]) == sorted(interrupted)
            for run_id in interrupted:
                response = client.post(f"/api/runs/{run_id}/resume")
                assert response.status_code == 200, response.text
            wait_until(
                functools.partial(all_completed, client, run_ids),
                timeout=30,
                what="every run completed",
            )
            assert client.get("/api/health").json()["status"] == "healthy"
        server.stop()
        await check_completed(agent_id, settings, len(messages))


@pytest.mark.parametrize("torn", [b'{"seq": 99, "type": "content_del', b"\x00\x00\x00"])
async def test_a_torn_event_line_is_ignored_and_repaired(settings: Settings, torn: bytes) -> None:
    """A crash in the middle of an append leaves a partial last line: readers skip it and the
    next append (the resume) drops it, so the log stays one valid event per line."""
    async with Agio(settings) as agio:
        await agio.create_agent(
            {**stepper("torn"), "model_params": {"delay_ms": 30, "parallel_tool_calls": False}}
        )
        paused = await agio.start_chat("torn", "What is 1+2, 3+4, 5+6?")  # about 0.5 s
        assert (await paused.pause()).status == "paused"
        log = settings.home / "runs" / paused.run_id / "events.jsonl"
        with open(log, "ab") as handle:
            handle.write(torn)
        before = [e.seq async for e in agio.events(paused.run_id, follow=False)]
        run = await (await agio.resume_run(paused.run_id)).wait()
        assert run.status == "completed" and run.response == expected_answer(run.input)
        after = [e.seq async for e in agio.events(paused.run_id, follow=False)]
        assert after[: len(before)] == before
        assert after == list(range(1, len(after) + 1))
        assert all(json.loads(line) for line in log.read_bytes().splitlines())


def listing_and_records(home: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Each run's latest listed status, each record's status, and folders with no record."""
    listed: dict[str, str] = {}
    listing = home / "runs.jsonl"  # none yet if the kill came before the first run was made
    for line in (listing.read_bytes() if listing.exists() else b"").splitlines():
        with contextlib.suppress(ValueError):  # a line torn by the kill is ignored by readers
            entry = json.loads(line)
            listed[entry["id"]] = entry["status"]
    recorded: dict[str, str] = {}
    half_made = []
    for folder in (home / "runs").iterdir():
        try:
            recorded[folder.name] = json.loads((folder / "run.json").read_text())["status"]
        except FileNotFoundError:
            half_made.append(folder.name)
    return listed, recorded, half_made


async def test_sigkill_cycles_under_load_leave_listing_and_records_agreeing(
    settings: Settings, home: Path, start_server: ServerFactory
) -> None:
    """SIGKILLs of `agio serve` (10; 20 for the issue's figure) while runs are created,
    cancelled and finish: once the store is opened again (as the next command or server
    opens it), the listing says what the records say, and no run is left half made."""
    rng = random.Random(SEED + 3)
    agent = {**stepper("crash-listing"), "model_params": {"delay_ms": 1}}
    cycles = KILL_CYCLES
    for cycle in range(cycles):
        server = start_server()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            if cycle == 0:
                assert (await client.post("/api/agents", json=agent)).status_code == 201

            created_one = asyncio.Event()

            async def load(created_one: asyncio.Event) -> None:
                while True:
                    body = {"agent_id": agent["id"], "message": question(rng)}
                    created = (await client.post("/api/runs", json=body)).json()
                    created_one.set()
                    if rng.random() < 0.3:
                        await client.post(f"/api/runs/{created['id']}/cancel?wait=0")

            users = [asyncio.create_task(load(created_one)) for _ in range(4)]
            # The kill comes while runs are made (a loaded machine may take a while for one).
            await asyncio.wait_for(created_one.wait(), 30)
            await asyncio.sleep(rng.uniform(0.2, 0.6))
            server.kill()
            for user in users:
                user.cancel()
            await asyncio.gather(*users, return_exceptions=True)
        async with Agio(settings) as agio:  # opening the store reconciles it
            await agio.list_runs(limit=1)
        listed, recorded, half_made = listing_and_records(home)
        assert listed == recorded, (cycle, set(listed.items()) ^ set(recorded.items()))
        # Folders younger than the grace period may be a creation in flight: none here is.
        assert all(
            time.time() - (home / "runs" / name).stat().st_mtime < 60 for name in half_made
        ), half_made
    # What the grace period spared is cleaned once it is over (here: at once).
    assert reconcile(TinyDBStore(home), half_created_after_s=0) >= len(half_made)
    listed, recorded, half_made_after = listing_and_records(home)
    assert listed == recorded and not half_made_after
    print(
        f"{cycles} SIGKILL cycles: {len(recorded)} runs, {len(half_made)} half made (cleaned), "
        "listing and records agree"
    )
