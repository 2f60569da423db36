"""Pause now (SPEC §4): a model stream in flight is cut and redone on resume; a tool call in
flight finishes first and its result is kept."""

from __future__ import annotations

import asyncio
import json

import pytest

from agio_core import Agio, Settings
from agio_core.events import ContentDelta, Event, StepDiscarded

# 20 ms a word: counting to 100 streams for about 2 s, so a pause always lands mid-stream.
COUNTER = {"id": "counter", "model": "offline/demo", "model_params": {"delay_ms": 20}}
SLEEPER = {
    "id": "sleeper",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["shell"],
    "approval": {"shell": "allow"},
}


@pytest.fixture
async def agio(settings: Settings) -> Agio:
    async with Agio(settings) as facade:
        await facade.create_agent(COUNTER)
        await facade.create_agent(SLEEPER)
        yield facade


async def logged(agio: Agio, run_id: str) -> list[Event]:
    return [event async for event in agio.events(run_id, follow=False)]


async def first(agio: Agio, run_id: str, kind: type[Event], count: int = 1) -> None:
    seen = 0
    async for event in agio.events(run_id):
        if isinstance(event, kind):
            seen += 1
            if seen >= count:
                return


async def test_pause_cuts_the_stream_and_resume_redoes_the_step(agio: Agio) -> None:
    handle = await agio.start_chat("counter", "count to 100")
    await asyncio.wait_for(first(agio, handle.run_id, ContentDelta, 5), 10)
    paused = await agio.pause_run(handle.run_id, wait=5)
    assert paused.status == "paused"
    events = await logged(agio, handle.run_id)
    types = [e.type for e in events]
    assert types[-2:] == ["step_discarded", "run_paused"]
    discarded = events[-2]
    assert isinstance(discarded, StepDiscarded) and discarded.step == 1
    assert discarded.reason == "paused"
    assert "usage" not in types and "run_completed" not in types  # it stopped mid-stream
    streamed = "".join(e.content for e in events if isinstance(e, ContentDelta))
    assert streamed.startswith("1 2 3") and not streamed.rstrip().endswith("100")
    # The checkpoint is the state before the step: system prompt and question, no answer.
    checkpoint = await agio.get_checkpoint(paused.last_checkpoint_id or "")
    assert [m["role"] for m in checkpoint.messages] == ["system", "user"]
    assert checkpoint.step == 0 and paused.metrics.steps == 0 and paused.response is None

    resumed = await agio.resume_run(handle.run_id)
    done = await resumed.wait()
    assert done.status == "completed" and done.metrics.steps == 1
    assert done.response is not None and done.response.rstrip(".").endswith("100")
    redone = [e for e in await logged(agio, handle.run_id) if e.seq >= resumed.first_seq]
    assert [e.type for e in redone][:2] == ["run_resumed", "step_started"]
    assert redone[1].step == 1  # type: ignore[union-attr]  # the same step, done again


async def test_pause_during_a_tool_call_waits_for_it_and_keeps_its_result(agio: Agio) -> None:
    command = json.dumps({"command": "sleep 0.6; echo slept"})
    handle = await agio.start_chat("sleeper", f"call shell {command}")
    async for event in agio.events(handle.run_id):
        if event.type == "tool_call_started":
            break
    paused = await agio.pause_run(handle.run_id, wait=5)
    assert paused.status == "paused"
    events = await logged(agio, handle.run_id)
    types = [e.type for e in events]
    assert "step_discarded" not in types
    assert types.index("tool_call_completed") < types.index("run_paused")
    checkpoint = await agio.get_checkpoint(paused.last_checkpoint_id or "")
    assert (
        checkpoint.messages[-1]["role"] == "tool" and "slept" in checkpoint.messages[-1]["content"]
    )
    done = await (await agio.resume_run(handle.run_id)).wait()
    assert done.status == "completed"
    # The command ran once: resuming went on from its kept result.
    started = [e for e in await logged(agio, handle.run_id) if e.type == "tool_call_started"]
    assert len(started) == 1


async def test_pause_from_another_facade_cuts_the_stream(settings: Settings, agio: Agio) -> None:
    handle = await agio.start_chat("counter", "count to 100")
    await asyncio.wait_for(first(agio, handle.run_id, ContentDelta, 3), 10)
    async with Agio(settings) as other:  # not the owner: the request goes through the store
        paused = await other.pause_run(handle.run_id, wait=5)
    assert paused.status == "paused"
    # Followed, not read: the status is stored just before `run_paused` is logged.
    types = [event.type async for event in agio.events(handle.run_id)]
    assert types[-2:] == ["step_discarded", "run_paused"]
