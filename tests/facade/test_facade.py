"""One behavioural suite for `AgioFacade`, run on `Agio` and on `RemoteAgio` (see conftest):
the same calls give the same models, the same events and the same exception types.

The remote server is shared by the module, so each test names its own agents, sessions and
users (`unique`) instead of counting what is there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.agents import LONG_MESSAGE, STEPPER_ANSWER, STEPPER_QUESTION

from agio_core import (
    Agent,
    AgioFacade,
    BaseEvent,
    Checkpoint,
    CheckpointCreated,
    CheckpointSummary,
    ConflictError,
    InvalidInputError,
    MessageDiff,
    NotFoundError,
    Page,
    Run,
    TreeNode,
)
from agio_core.models import ModelCatalog

UNKNOWN_RUN = "run_0123456789abcdef"
UNKNOWN_CHECKPOINT = "ck_0123456789abcdef_0000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_agents_crud(facade: AgioFacade, tmp_path: Path) -> None:
    page = await facade.list_agents(tag="default")
    assert isinstance(page, Page) and isinstance(page.items[0], Agent)
    assert [a.id for a in page.items] == ["assistant"]
    agent_id = unique("agent")
    created = await facade.create_agent({"id": agent_id, "model": "offline/demo"})
    assert isinstance(created, Agent) and created.id == agent_id
    with pytest.raises(ConflictError):
        await facade.create_agent({"id": agent_id, "model": "offline/demo"})
    replaced = await facade.create_agent(
        {"id": agent_id, "model": "offline/demo", "name": "R"}, replace=True
    )
    assert replaced.name == "R" and replaced.created_at == created.created_at
    updated = await facade.update_agent(agent_id, {"model": "offline/demo", "name": "A"})
    assert updated.name == "A" and (await facade.get_agent(agent_id)).name == "A"
    with pytest.raises(InvalidInputError, match="unknown field"):
        await facade.create_agent({"id": unique("b"), "model": "offline/demo", "bogus": 1})
    with pytest.raises(InvalidInputError):
        await facade.update_agent(agent_id, {"id": "other", "model": "offline/demo"})
    yaml_file = tmp_path / "agent.yaml"
    file_id = unique("file")
    yaml_file.write_text(f"id: {file_id}\nmodel: offline/demo\ntags: [${{TAG:-filed}}]\n")
    from_file = await facade.create_agent_from_file(yaml_file)
    assert from_file.id == file_id and from_file.tags == ["filed"]
    await facade.delete_agent(agent_id)
    with pytest.raises(NotFoundError):
        await facade.get_agent(agent_id)
    with pytest.raises(NotFoundError):
        await facade.delete_agent(agent_id)
    with pytest.raises(NotFoundError):
        await facade.get_agent("../runs")
    with pytest.raises(ConflictError, match="built in"):
        await facade.delete_agent("assistant")


async def test_tools_and_models(facade: AgioFacade) -> None:
    tools = await facade.list_tools("quick")
    assert [(t.name, t.source) for t in tools.items] == [("calculator", "builtin")]
    builtin = await facade.list_tools()
    assert "calculator" in {t.name for t in builtin.items} and builtin.total == len(builtin.items)
    with pytest.raises(NotFoundError):
        await facade.list_tools("no-such-agent")
    catalog = await facade.list_models()
    assert isinstance(catalog, ModelCatalog)
    assert "offline/demo" in {m.id for m in catalog.items}


async def test_chat_events_and_listing(facade: AgioFacade) -> None:
    session = unique("session")
    run = await facade.chat("quick", "What is 3*4?", session_id=session)
    assert isinstance(run, Run) and run.status == "completed" and "12" in (run.response or "")
    assert await facade.latest_session() == session

    handle = await facade.start_chat("quick", "What is 5*5?", session_id=session)
    assert handle.first_seq == 1
    events = [event async for event in handle.events()]
    assert all(isinstance(e, BaseEvent) for e in events)
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished = await handle.wait()
    assert finished.id == handle.run_id and "25" in (finished.response or "")
    tail = [e async for e in facade.events(handle.run_id, after_seq=len(events) - 2)]
    assert tail == events[-2:]
    assert [e async for e in facade.events(handle.run_id, follow=False)] == events

    runs = await facade.list_runs(session_id=session)
    assert runs.total == 2 and [r.id for r in runs.items] == [handle.run_id, run.id]
    assert (await facade.list_runs(session_id=session, search="5*5")).total == 1
    assert (await facade.list_runs(session_id=session, limit=1, offset=1)).items[0].id == run.id
    assert (await facade.get_run(run.id)).response == run.response
    with pytest.raises(NotFoundError):
        await facade.start_chat("no-such-agent", "hi")
    with pytest.raises(InvalidInputError):
        await facade.list_runs(status="sleeping")
    with pytest.raises(NotFoundError):
        await facade.get_run(UNKNOWN_RUN)
    with pytest.raises(NotFoundError):
        await facade.get_run("not a run id")
    with pytest.raises(NotFoundError):
        [e async for e in facade.events(UNKNOWN_RUN, follow=False)]


async def test_user_id_and_options(facade: AgioFacade) -> None:
    user = unique("user «ü»")
    run = await facade.chat("quick", "What is 9*9?", user_id=user)
    assert run.user_id == user
    handle = await facade.start_chat("quick", "What is 2*3?", user_id=user, model="offline/demo")
    assert (await handle.wait()).user_id == user
    page = await facade.list_runs(user_id=user)
    assert page.total == 2 and {r.id for r in page.items} == {run.id, handle.run_id}
    with pytest.raises(InvalidInputError, match="user_id"):
        await facade.chat("quick", "hi", user_id="two\nlines")
    with pytest.raises(InvalidInputError):
        await facade.chat("quick", "hi", model="nowhere/none")


async def test_decisions_continue_the_run_from_first_seq(facade: AgioFacade) -> None:
    agent_id = unique("asker")
    await facade.create_agent(
        {
            "id": agent_id,
            "model": "offline/demo",
            "model_params": {"delay_ms": 0},
            "tools": ["calculator"],
            "approval": {"calculator": "ask"},
        }
    )
    waiting = await facade.chat(agent_id, "What is 2+3 and 4*5?")
    assert waiting.status == "awaiting_approval" and len(waiting.pending_approvals) == 2
    first, second = (p.tool_call_id for p in waiting.pending_approvals)
    before = [e async for e in facade.events(waiting.id, follow=False)]
    assert before[-1].type == "run_awaiting_approval"
    approve = {"tool_call_id": first, "decision": "approve"}
    assert await facade.decide_and_continue(waiting.id, [approve]) is None  # one still waits
    deny = {"tool_call_id": second, "decision": "deny", "reason": "not that one"}
    handle = await facade.decide_and_continue(waiting.id, [deny])
    assert handle is not None
    assert handle.run_id == waiting.id and handle.first_seq == before[-1].seq + 1
    stretch = [e async for e in handle.events(after_seq=handle.first_seq - 1)]
    assert stretch[0].type == "run_resumed" and stretch[0].seq == handle.first_seq
    assert stretch[-1].type == "run_completed"
    run = await handle.wait()
    assert run.status == "completed" and "not that one" in (run.response or "")
    with pytest.raises(ConflictError):
        await facade.decide_and_continue(waiting.id, [approve])


async def test_pause_resume_cancel(facade: AgioFacade) -> None:
    handle = await facade.start_chat("stepper", STEPPER_QUESTION)
    async for event in handle.events():
        if event.type == "tool_call_completed":
            break
    paused = await handle.pause()
    assert paused.status == "paused"
    with pytest.raises(ConflictError):
        await facade.pause_run(handle.run_id)
    before = [e async for e in facade.events(handle.run_id, follow=False)]
    assert before[-1].type == "run_paused"
    resumed = await facade.resume_run(handle.run_id)
    assert resumed.run_id == handle.run_id and resumed.first_seq == before[-1].seq + 1
    stretch = [e async for e in resumed.events(after_seq=resumed.first_seq - 1)]
    assert stretch[0].type == "run_resumed" and stretch[-1].type == "run_completed"
    run = await resumed.wait()
    assert run.status == "completed" and run.response == STEPPER_ANSWER
    with pytest.raises(ConflictError):
        await facade.resume_run(handle.run_id)

    other = await facade.start_chat("slow", LONG_MESSAGE)
    cancelled = await other.cancel(reason="the facade says stop")
    assert cancelled.status == "cancelled"
    events = [e async for e in facade.events(other.run_id)]
    assert events[-1].type == "run_cancelled" and events[-1].reason == "the facade says stop"
    with pytest.raises(ConflictError):
        await facade.cancel_run(other.run_id)
    with pytest.raises(NotFoundError):
        await facade.resume_run(UNKNOWN_RUN)
    with pytest.raises(NotFoundError):
        await facade.pause_run(UNKNOWN_RUN)


async def test_a_paused_run_can_be_cancelled(facade: AgioFacade) -> None:
    handle = await facade.start_chat("stepper", STEPPER_QUESTION)
    async for event in handle.events():
        if event.type == "tool_call_completed":
            break
    assert (await facade.pause_run(handle.run_id)).status == "paused"
    cancelled = await facade.cancel_run(handle.run_id, reason="never mind")
    assert cancelled.status == "cancelled"
    events = [e async for e in facade.events(handle.run_id)]
    assert [e.type for e in events[-2:]] == ["run_paused", "run_cancelled"]


async def test_checkpoints(facade: AgioFacade) -> None:
    run = await facade.chat("quick", "What is 9*9?")
    page = await facade.list_checkpoints(run.id)
    summaries = page.items
    assert page.total == len(summaries) == 3
    assert all(isinstance(c, CheckpointSummary) for c in summaries)
    later = await facade.list_checkpoints(run.id, limit=2, offset=1)
    assert (later.total, later.offset, [c.step for c in later.items]) == (3, 1, [1, 2])
    checkpoint = await facade.get_checkpoint(summaries[1].id)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.messages[1]["content"] == "What is 9*9?"
    manual = await facade.create_checkpoint(run.id, description="mine", tags=["t"])
    assert manual.kind == "manual" and manual.tags == ["t"] and manual.description == "mine"

    fork = await facade.fork_checkpoint(
        summaries[0].id, modifications={"modified_query": "What is 2*2?"}
    )
    assert fork.run_id != run.id and fork.first_seq == 1
    forked = await fork.wait()
    assert forked.parent_run_id == run.id and "4" in (forked.response or "")

    before = [e async for e in facade.events(run.id, follow=False)]
    restore = await facade.restore_checkpoint(summaries[0].id, create_new_run=False)
    assert restore.run_id == run.id and restore.first_seq == before[-1].seq + 1
    rewound = await restore.wait()
    assert rewound.status == "completed"
    stretch = [e async for e in restore.events(after_seq=restore.first_seq - 1)]
    assert stretch[0].seq == restore.first_seq and stretch[-1].type == "run_completed"

    new = await facade.restore_checkpoint(summaries[0].id)
    assert new.run_id not in {run.id, forked.id} and new.first_seq == 1
    assert (await new.wait()).status == "completed"

    tree = await facade.checkpoint_tree(forked.id)
    assert isinstance(tree, TreeNode) and tree.run_id == run.id
    assert {c.run_id for c in tree.children} == {forked.id, new.run_id}
    diff = await facade.diff_checkpoints(summaries[-1].id, forked.last_checkpoint_id or "")
    assert isinstance(diff, MessageDiff) and diff.common_prefix == 1


async def test_checkpoint_errors(facade: AgioFacade) -> None:
    run = await facade.chat("quick", "What is 1+1?")
    first = (await facade.list_checkpoints(run.id, limit=1)).items[0]
    with pytest.raises(InvalidInputError, match="bogus"):
        await facade.fork_checkpoint(first.id, modifications={"bogus": 1})
    with pytest.raises(NotFoundError):
        await facade.get_checkpoint(UNKNOWN_CHECKPOINT)
    with pytest.raises(NotFoundError):
        await facade.get_checkpoint("not a checkpoint")
    with pytest.raises(NotFoundError):
        await facade.fork_checkpoint(UNKNOWN_CHECKPOINT)
    with pytest.raises(NotFoundError):
        await facade.list_checkpoints(UNKNOWN_RUN)
    with pytest.raises(NotFoundError):
        await facade.create_checkpoint(UNKNOWN_RUN)
    with pytest.raises(NotFoundError):
        await facade.diff_checkpoints(first.id, UNKNOWN_CHECKPOINT)
    with pytest.raises(NotFoundError):
        await facade.checkpoint_tree(UNKNOWN_RUN)

    running = await facade.start_chat("slow", LONG_MESSAGE)
    async for event in running.events():
        if isinstance(event, CheckpointCreated):
            break
    with pytest.raises(ConflictError):
        await facade.create_checkpoint(running.run_id)
    with pytest.raises(ConflictError, match="running"):
        await facade.restore_checkpoint(event.checkpoint_id, create_new_run=False)
    await running.cancel()


async def test_delete_and_prune(facade: AgioFacade) -> None:
    user = unique("pruner")
    done = await facade.chat("quick", "What is 4+4?", user_id=user)
    gone = await facade.chat("quick", "What is 5+5?", user_id=user)
    await facade.delete_run(gone.id)
    with pytest.raises(NotFoundError):
        await facade.get_run(gone.id)
    with pytest.raises(NotFoundError):
        await facade.delete_run(gone.id)

    running = await facade.start_chat("slow", LONG_MESSAGE)
    with pytest.raises(ConflictError):
        await facade.delete_run(running.run_id)
    await running.cancel()

    with pytest.raises(InvalidInputError):
        await facade.prune_runs(status="running")
    assert await facade.prune_runs(older_than=timedelta(days=3650)) == []
    would = await facade.prune_runs(older_than=timedelta(0), dry_run=True)
    assert done.id in would and running.run_id in would
    assert (await facade.get_run(done.id)).status == "completed"
    pruned = await facade.prune_runs(older_than=timedelta(0), status="cancelled")
    assert running.run_id in pruned and done.id not in pruned
    with pytest.raises(NotFoundError):
        await facade.get_run(running.run_id)
    assert (await facade.list_runs(user_id=user)).total == 1
