"""`RemoteAgio`: the core facade over HTTP, against a real server, compared with `Agio`."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_helpers import API_KEY
from helpers.agents import STEPPER_ANSWER, STEPPER_QUESTION
from helpers.servers import Server, free_port

from agio_cli.remote import AuthenticationError, RemoteAgio, RemoteRunHandle, ServerError
from agio_core import (
    Agent,
    Agio,
    BaseEvent,
    Checkpoint,
    CheckpointSummary,
    ConflictError,
    InvalidInputError,
    MessageDiff,
    NotFoundError,
    Page,
    Run,
    RunHandle,
    TreeNode,
)

TERMINAL = {"run_completed", "run_failed", "run_cancelled"}


@pytest.fixture
async def remote(server: Server) -> AsyncIterator[RemoteAgio]:
    async with RemoteAgio(server.url) as client:
        yield client


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


# What the server itself uses, not something its clients ask for: housekeeping it runs
# periodically, the batched event reading behind its SSE relay (clients use `events`), and
# checking its own store's files (`agio store check` runs where the store is).
SERVER_SIDE = {"interrupt_orphans", "event_batches", "check_store"}


def test_remote_has_the_facades_methods_and_signatures() -> None:
    facade, remote = _public(Agio), _public(RemoteAgio)
    facade = {name: sig for name, sig in facade.items() if name not in SERVER_SIDE}
    assert set(facade) <= set(remote)
    for name, signature in facade.items():
        theirs = remote[name]
        assert list(theirs.parameters) == list(signature.parameters), name
        for param, expected in signature.parameters.items():
            assert theirs.parameters[param].default == expected.default, (name, param)
            assert theirs.parameters[param].kind == expected.kind, (name, param)
    handle, remote_handle = _public(RunHandle), _public(RemoteRunHandle)
    assert set(handle) <= set(remote_handle)
    for name, signature in handle.items():
        assert str(remote_handle[name]) == str(signature).replace(
            "AsyncIterator", "AsyncGenerator"
        ).replace("[Event]", "[Event, None]") or list(remote_handle[name].parameters) == list(
            signature.parameters
        ), name


async def test_agents(remote: RemoteAgio, tmp_path: Path) -> None:
    page = await remote.list_agents(tag="default")
    assert isinstance(page, Page) and isinstance(page.items[0], Agent)
    assert [a.id for a in page.items] == ["assistant"]
    created = await remote.create_agent({"id": "remote-a", "model": "offline/demo"})
    assert isinstance(created, Agent) and created.id == "remote-a"
    with pytest.raises(ConflictError):
        await remote.create_agent({"id": "remote-a", "model": "offline/demo"})
    updated = await remote.update_agent("remote-a", {"model": "offline/demo", "name": "A"})
    assert updated.name == "A" and (await remote.get_agent("remote-a")).name == "A"
    with pytest.raises(InvalidInputError, match="unknown field"):
        await remote.create_agent({"id": "remote-b", "model": "offline/demo", "bogus": 1})
    yaml_file = tmp_path / "agent.yaml"
    yaml_file.write_text("id: remote-file\nmodel: offline/demo\ntags: [${TAG:-filed}]\n")
    from_file = await remote.create_agent_from_file(yaml_file)
    assert from_file.tags == ["filed"]
    await remote.delete_agent("remote-a")
    with pytest.raises(NotFoundError):
        await remote.get_agent("remote-a")
    with pytest.raises(NotFoundError):
        await remote.delete_agent("remote-a")
    with pytest.raises(NotFoundError):
        await remote.get_agent("../runs")


async def test_chat_and_streaming_handles(remote: RemoteAgio) -> None:
    run = await remote.chat("quick", "What is 3*4?", session_id="remote-session")
    assert isinstance(run, Run) and run.status == "completed" and "12" in (run.response or "")
    assert await remote.latest_session() == "remote-session"

    handle = await remote.start_chat("quick", "What is 5*5?")
    events = [event async for event in handle.events()]
    assert all(isinstance(e, BaseEvent) for e in events)
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished = await handle.wait()
    assert finished.id == handle.run_id and "25" in (finished.response or "")
    tail = [e async for e in remote.events(handle.run_id, after_seq=len(events) - 2)]
    assert tail == events[-2:]
    assert [e async for e in remote.events(handle.run_id, follow=False)] == events

    runs = await remote.list_runs(session_id="remote-session")
    assert runs.total == 1 and isinstance(runs.items[0], Run)
    assert (await remote.get_run(run.id)).response == run.response
    with pytest.raises(NotFoundError):
        await remote.start_chat("no-such-agent", "hi")
    with pytest.raises(InvalidInputError):
        await remote.list_runs(status="sleeping")


async def test_pause_resume_cancel(remote: RemoteAgio) -> None:
    handle = await remote.start_chat("stepper", STEPPER_QUESTION)
    async for event in handle.events():
        if event.type == "tool_call_completed":
            break
    paused = await handle.pause()
    assert paused.status == "paused"
    with pytest.raises(ConflictError):
        await remote.pause_run(handle.run_id)
    resumed = await remote.resume_run(handle.run_id)
    assert isinstance(resumed, RemoteRunHandle)
    run = await resumed.wait()
    assert run.status == "completed" and run.response == STEPPER_ANSWER

    other = await remote.start_chat("slow", "count to 400")
    cancelled = await other.cancel(reason="remote says stop")
    assert cancelled.status == "cancelled"
    events = [e async for e in remote.events(other.run_id)]
    assert events[-1].type == "run_cancelled" and events[-1].reason == "remote says stop"
    with pytest.raises(ConflictError):
        await remote.cancel_run(other.run_id)
    with pytest.raises(NotFoundError):
        await remote.resume_run("run_0123456789abcdef")


async def test_checkpoints(remote: RemoteAgio) -> None:
    run = await remote.chat("quick", "What is 9*9?")
    summaries = (await remote.list_checkpoints(run.id)).items
    assert all(isinstance(c, CheckpointSummary) for c in summaries)
    checkpoint = await remote.get_checkpoint(summaries[1].id)
    assert (
        isinstance(checkpoint, Checkpoint) and checkpoint.messages[1]["content"] == "What is 9*9?"
    )
    manual = await remote.create_checkpoint(run.id, description="mine", tags=["t"])
    assert manual.kind == "manual" and manual.tags == ["t"]

    fork = await remote.fork_checkpoint(
        summaries[0].id, modifications={"modified_query": "What is 2*2?"}
    )
    forked = await fork.wait()
    assert forked.parent_run_id == run.id and "4" in (forked.response or "")
    with pytest.raises(InvalidInputError, match="bogus"):
        await remote.fork_checkpoint(summaries[0].id, modifications={"bogus": 1})

    restore = await remote.restore_checkpoint(summaries[0].id, create_new_run=False)
    assert restore.run_id == run.id
    rewound = await restore.wait()
    assert rewound.status == "completed"

    tree = await remote.checkpoint_tree(forked.id)
    assert isinstance(tree, TreeNode) and tree.run_id == run.id
    assert [c.run_id for c in tree.children] == [forked.id]
    diff = await remote.diff_checkpoints(summaries[-1].id, forked.last_checkpoint_id or "")
    assert isinstance(diff, MessageDiff) and diff.common_prefix == 1
    with pytest.raises(NotFoundError):
        await remote.get_checkpoint("ck_0123456789abcdef_0000")


async def test_auth_errors_are_clear(auth_server: Server) -> None:
    async with RemoteAgio(auth_server.url) as anonymous:
        with pytest.raises(AuthenticationError, match="AGIO_API_KEY"):
            await anonymous.list_agents()
    async with RemoteAgio(auth_server.url, api_key="wrong") as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.list_runs()
    async with RemoteAgio(auth_server.url, api_key=API_KEY) as keyed:
        assert (await keyed.get_agent("assistant")).id == "assistant"
        handle = await keyed.start_chat("assistant", "What is 1+1?")
        assert (await handle.wait()).status == "completed"


async def test_an_unreachable_server_is_a_clear_error() -> None:
    async with RemoteAgio(f"http://127.0.0.1:{free_port()}") as nowhere:
        with pytest.raises(ServerError, match="cannot reach"):
            await nowhere.list_agents()


async def test_user_id_and_checkpoint_pages(remote: RemoteAgio) -> None:
    user = "remote-user «ü»"
    run = await remote.chat("quick", "What is 9*9?", user_id=user)
    assert run.user_id == user
    handle = await remote.start_chat("quick", "What is 2*3?", user_id=user)
    assert (await handle.wait()).user_id == user
    page = await remote.list_runs(user_id=user)
    assert page.total == 2 and {r.id for r in page.items} == {run.id, handle.run_id}
    with pytest.raises(InvalidInputError, match="user_id"):
        await remote.chat("quick", "hi", user_id="two\nlines")
    checkpoints = await remote.list_checkpoints(run.id, limit=2, offset=1)
    assert isinstance(checkpoints, Page) and (checkpoints.total, checkpoints.offset) == (3, 1)
    assert [c.step for c in checkpoints.items] == [1, 2]
