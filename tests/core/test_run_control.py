"""Pause, resume and cancel: in one process, across processes, and after a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers.agents import stepper_agent, sums_answer, sums_question
from helpers.waiting import until

from agio_core import Agio, Settings, _engine

DRIVER = Path(__file__).with_name("drive_run.py")
# One calculator call per step, 100 ms each: 12 steps, then a 36-word answer (about 5 s).
LONG_QUESTION = sums_question(12)
STEPPER = stepper_agent(delay_ms=100)


@pytest.fixture
async def agio(settings: Settings) -> Agio:
    async with Agio(settings) as facade:
        await facade.create_agent(STEPPER)
        yield facade


def expected_answer() -> str:
    return sums_answer(12)


def spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AGIO_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


async def test_pause_and_resume_in_process(agio: Agio) -> None:
    handle = await agio.start_chat("stepper", LONG_QUESTION)
    await asyncio.sleep(0.5)
    paused = await handle.pause()
    assert paused.status == "paused"
    events = [e async for e in agio.events(handle.run_id, follow=False)]
    assert events[-1].type == "run_paused"
    assert events[-1].checkpoint_id == paused.last_checkpoint_id
    steps_at_pause = paused.metrics.steps

    resumed = await agio.resume_run(handle.run_id)
    run = await resumed.wait()
    assert run.status == "completed" and run.response == expected_answer()
    assert run.metrics.steps == 13 > steps_at_pause
    types = [e.type async for e in agio.events(handle.run_id, follow=False)]
    assert types.count("run_resumed") == 1
    assert types[-1] == "run_completed"
    assert [t for t in types if t in {"run_completed", "run_failed", "run_cancelled"}] == [
        "run_completed"
    ]


async def test_cancel_a_paused_run(agio: Agio) -> None:
    handle = await agio.start_chat("stepper", LONG_QUESTION)
    await asyncio.sleep(0.3)
    await handle.pause()
    cancelled = await agio.cancel_run(handle.run_id, reason="changed my mind")
    assert cancelled.status == "cancelled"
    events = [e async for e in agio.events(handle.run_id, follow=False)]
    assert events[-1].type == "run_cancelled" and events[-1].reason == "changed my mind"


async def test_pause_from_another_process_then_resume_in_a_third(agio: Agio, home: Path) -> None:
    first = spawn(home, "start", "stepper", LONG_QUESTION)
    try:
        assert first.stdout is not None
        run_id = first.stdout.readline().strip()
        await asyncio.sleep(0.5)
        asked = time.monotonic()
        paused = await agio.pause_run(run_id)  # this test process is the second one
        assert paused.status == "paused"
        assert time.monotonic() - asked < 1.0
        assert first.wait(timeout=10) == 0
        assert first.stdout.read().strip() == "paused"
    finally:
        first.kill()

    third = spawn(home, "resume", run_id)
    out, err = third.communicate(timeout=20)
    assert third.returncode == 0, err
    assert out.split() == [run_id, "completed"]
    run = await agio.get_run(run_id)
    assert run.status == "completed" and run.response == expected_answer()


async def test_sigkill_leaves_an_interrupted_resumable_run(agio: Agio, home: Path) -> None:
    doomed = spawn(home, "start", "stepper", LONG_QUESTION)
    assert doomed.stdout is not None
    run_id = doomed.stdout.readline().strip()

    async def has_progress() -> bool:
        return len((await agio.list_checkpoints(run_id)).items) >= 4

    await until(has_progress, what="4 checkpoints")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=5)

    assert await agio.interrupt_orphans() == [run_id]  # what a server's sweeper finds
    run = await agio.get_run(run_id)  # the store opens and says what happened
    assert run.status == "interrupted"
    checkpoints = (await agio.list_checkpoints(run_id)).items
    assert len(checkpoints) >= 4
    assert [r.id for r in (await agio.list_runs(status="interrupted")).items] == [run_id]

    run = await (await agio.resume_run(run_id)).wait()
    assert run.status == "completed" and run.response == expected_answer()
    events = [e async for e in agio.events(run_id, follow=False)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_follow_a_run_driven_by_another_process(agio: Agio, home: Path) -> None:
    other = spawn(home, "start", "stepper", "What is 1+1, 2+2, 3+3?")
    try:
        assert other.stdout is not None
        run_id = other.stdout.readline().strip()
        events = [e async for e in agio.events(run_id)]
    finally:
        other.wait(timeout=10)
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert events[-1].response == "1+1 = 2. 2+2 = 4. 3+3 = 6."


WRITER = """
import asyncio, sys
from agio_core import Agio
async def main(prefix):
    async with Agio() as agio:
        for i in range(25):
            await agio.create_agent({"id": f"{prefix}-{i}", "model": "offline/demo",
                                     "tools": ["calculator"], "model_params": {"delay_ms": 0}})
            await agio.chat(f"{prefix}-{i}", "What is 2+2?")
asyncio.run(main(sys.argv[1]))
"""


async def test_concurrent_writers_lose_nothing(agio: Agio, home: Path) -> None:
    env = {**os.environ, "AGIO_HOME": str(home)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, stderr=subprocess.PIPE)
        for name in ("left", "right")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    agents = {a.id for a in (await agio.list_agents(limit=100)).items}
    assert {f"{p}-{i}" for p in ("left", "right") for i in range(25)} <= agents
    runs = await agio.list_runs(limit=100)
    assert runs.total == 50
    assert all(r.status == "completed" and r.response == "2+2 = 4." for r in runs.items)


async def test_pause_during_the_final_answer_is_honoured(agio: Agio) -> None:
    await agio.create_agent(
        {"id": "counter", "model": "offline/demo", "model_params": {"delay_ms": 10}}
    )
    handle = await agio.start_chat("counter", "count to 60")
    async for event in handle.events():
        if event.type == "content_delta":
            break
    paused = await handle.pause()
    assert paused.status == "paused"
    run = await (await agio.resume_run(handle.run_id)).wait()
    assert run.status == "completed"
    assert run.response == " ".join(str(i) for i in range(1, 61)) + "."
    assert run.metrics.steps == 1  # the stored answer was used, not regenerated


async def test_a_running_run_keeps_a_heartbeat_and_runs_started_together_do_not_beat_together(
    agio: Agio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each live run rewrites its record every HEARTBEAT_EVERY_S (how other hosts tell a live
    owner from a dead one); the first beat falls anywhere in the first interval, so runs
    started at once do not all write at the same moment."""
    monkeypatch.setattr(_engine, "HEARTBEAT_EVERY_S", 0.3)
    # One long step: no checkpoint (which also stamps the record) until its end.
    await agio.create_agent(
        {"id": "slow", "model": "offline/demo", "model_params": {"delay_ms": 20}}
    )
    handles = [await agio.start_chat("slow", "count to 500") for _ in range(6)]
    started = {h.run_id: (await agio.get_run(h.run_id)).heartbeat_at for h in handles}
    beats: dict[str, list[datetime]] = {h.run_id: [] for h in handles}

    async def all_beat_twice() -> bool:
        for handle in handles:
            beat = (await agio.get_run(handle.run_id)).heartbeat_at
            assert beat is not None
            if beat != started[handle.run_id] and beat not in beats[handle.run_id]:
                beats[handle.run_id].append(beat)
        return all(len(b) >= 2 for b in beats.values())

    await until(all_beat_twice, timeout=5, what="two heartbeats of each run")
    firsts = sorted(b[0] - started[run_id] for run_id, b in beats.items())
    # Spread over the first interval, not one interval after each run's start.
    assert firsts[0] < timedelta(seconds=0.3)
    assert firsts[-1] - firsts[0] > timedelta(seconds=0.05)
    for handle in handles:
        await handle.cancel()
