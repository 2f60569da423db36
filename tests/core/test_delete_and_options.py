"""Deleting runs that others build on; per-run model, prompt, params and attachments; one
check of model params for chat, fork, restore and the API."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from agio_core import Agio, ConflictError, InvalidInputError, NotFoundError
from agio_core.attachments import attachment_of, load_attachment

FAST = {
    "id": "fast",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["calculator"],
}
SLOW = {"id": "slow", "model": "offline/demo", "model_params": {"delay_ms": 50}}
# The smallest valid PNG: 1x1, transparent.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAFAAH/q1zYAAAAAElFTkSuQmCC"
)


@pytest.fixture
async def agents(agio: Agio) -> Agio:
    await agio.create_agent(FAST)
    await agio.create_agent(SLOW)
    return agio


async def test_deleting_a_sessions_first_run_keeps_the_rest_of_the_session(agents: Agio) -> None:
    agio = agents
    first = await agio.chat("fast", "My name is Ada.")
    second = await agio.chat("fast", "What is my name?", session_id=first.session_id)
    await agio.delete_run(first.id)
    with pytest.raises(NotFoundError):
        await agio.get_run(first.id)
    # the second run's history no longer needs the first run's checkpoints
    last = await agio.get_checkpoint(second.last_checkpoint_id or "")
    assert last.messages[1] == {"role": "user", "content": "My name is Ada."}
    third = await agio.chat("fast", "What is my name?", session_id=first.session_id)
    assert third.response == "Your name is Ada."
    fork = await (await agio.fork_checkpoint(last.id)).wait()
    assert fork.status == "completed"


async def test_deleting_a_forks_base_keeps_the_fork_whole(agents: Agio) -> None:
    agio = agents
    source = await agio.chat("fast", "What is 12*7?")
    checkpoints = (await agio.list_checkpoints(source.id)).items
    fork = await (await agio.fork_checkpoint(checkpoints[1].id)).wait()
    before = (await agio.get_checkpoint(fork.last_checkpoint_id or "")).messages
    await agio.delete_run(source.id)
    after = await agio.get_checkpoint(fork.last_checkpoint_id or "")
    assert after.messages == before
    assert (await agio.checkpoint_tree(fork.id)).run_id == fork.id  # its parent is gone
    again = await (await agio.restore_checkpoint(after.id, create_new_run=False)).wait()
    assert again.status == "completed" and again.response == "12*7 = 84."


async def test_a_running_run_cannot_be_deleted(agents: Agio) -> None:
    agio = agents
    handle = await agents.start_chat("slow", "count to 200")
    with pytest.raises(ConflictError, match="running"):
        await agio.delete_run(handle.run_id)
    await handle.cancel()
    await agio.delete_run(handle.run_id)
    with pytest.raises(NotFoundError):
        await agio.delete_run(handle.run_id)


async def test_prune_by_age_and_status_keeps_what_remains_working(agents: Agio) -> None:
    agio = agents
    first = await agio.chat("fast", "My name is Ada.")
    second = await agio.chat("fast", "hello", session_id=first.session_id)
    cancelled = await agio.start_chat("slow", "count to 200")
    await cancelled.cancel()
    assert await agio.prune_runs(older_than=timedelta(days=1)) == []  # all are new
    assert await agio.prune_runs(status="cancelled", dry_run=True) == [cancelled.run_id]
    assert await agio.prune_runs(status="cancelled") == [cancelled.run_id]
    with pytest.raises(InvalidInputError):
        await agio.prune_runs(status="running")
    assert await agio.prune_runs(status="completed") == [second.id, first.id]  # newest first
    assert (await agio.list_runs()).total == 0


async def test_chat_options_are_for_this_run_and_recorded_on_its_checkpoints(
    agents: Agio,
) -> None:
    agio = agents
    run = await agio.chat(
        "fast",
        "hello",
        system_prompt="Be terse.",
        model_params={"temperature": "0.25", "max_tokens": 50},
    )
    checkpoint = await agio.get_checkpoint(run.last_checkpoint_id or "")
    assert checkpoint.agent.system_prompt == "Be terse."
    assert checkpoint.agent.model_params == {"delay_ms": 0, "temperature": 0.25, "max_tokens": 50}
    assert checkpoint.messages[0] == {"role": "system", "content": "Be terse."}
    assert 'My instructions are: "Be terse."' in (run.response or "")
    plain = await agio.chat("fast", "hello")  # the agent itself did not change
    assert (await agio.get_checkpoint(plain.last_checkpoint_id or "")).agent.model_params == {
        "delay_ms": 0
    }


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"temperature": "abc"}, "temperature: Input should be a valid number"),
        ({"temperature": 3}, "temperature: Input should be less than or equal to 2"),
        ({"max_tokens": 1.5}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": "١٢"}, "max_tokens: Input should be a valid integer"),  # Arabic digits
        ({"nonsense": 1}, "nonsense: not a parameter of offline models"),
        ({"base_url": "http://evil.example"}, "base_url: set it in the agent's definition"),
    ],
)
async def test_bad_model_params_are_refused_everywhere(
    agents: Agio, params: dict[str, object], problem: str
) -> None:
    agio = agents
    with pytest.raises(InvalidInputError, match=problem):
        await agio.start_chat("fast", "hello", model_params=params)
    run = await agio.chat("fast", "hello")
    checkpoint = (await agio.list_checkpoints(run.id)).items[0].id
    with pytest.raises(InvalidInputError, match=problem):
        await agio.fork_checkpoint(checkpoint, modifications={"model_params": params})
    with pytest.raises(InvalidInputError, match=problem):
        await agio.restore_checkpoint(
            checkpoint, create_new_run=False, modifications={"model_params": params}
        )
    assert (await agio.list_runs()).total == 1  # nothing was started


async def test_fork_params_are_coerced_and_unchanged_ones_carried_over(agents: Agio) -> None:
    agio = agents
    run = await agio.chat("fast", "hello")
    checkpoint = (await agio.list_checkpoints(run.id)).items[0].id
    params = {"delay_ms": 0, "temperature": "0.5"}
    fork = await (
        await agio.fork_checkpoint(checkpoint, modifications={"model_params": params})
    ).wait()
    snapshot = (await agio.get_checkpoint(fork.last_checkpoint_id or "")).agent
    assert snapshot.model_params == {"delay_ms": 0, "temperature": 0.5}
    # to another provider: delay_ms (unchanged, the agent's own) is carried, not refused;
    # what the caller changed is checked for the new provider
    moved = {"model": "openai/gpt-4o-mini", "model_params": {"delay_ms": 0, "seed": "7"}}
    other = await (await agio.fork_checkpoint(checkpoint, modifications=moved)).wait()
    snapshot = (await agio.get_checkpoint(other.last_checkpoint_id or "")).agent
    assert snapshot.model == "openai/gpt-4o-mini"
    assert snapshot.model_params == {"delay_ms": 0, "seed": 7}
    moved["model_params"] = {"delay_ms": 5}
    with pytest.raises(InvalidInputError, match="delay_ms: not a parameter of openai models"):
        await agio.fork_checkpoint(checkpoint, modifications=moved)


async def test_in_place_restore_with_a_new_query_updates_the_runs_input(agents: Agio) -> None:
    agio = agents
    run = await agio.chat("fast", "What is 12*7?")
    first = (await agio.list_checkpoints(run.id)).items[0].id
    handle = await agio.restore_checkpoint(
        first, create_new_run=False, modifications={"modified_query": "What is 6*7?"}
    )
    restored = await handle.wait()
    assert restored.id == run.id
    assert restored.input == "What is 6*7?" and restored.response == "6*7 = 42."
    assert (await agio.get_run(run.id)).input == "What is 6*7?"


async def test_attachments_text_as_context_and_images_as_parts(agents: Agio, tmp_path) -> None:  # type: ignore[no-untyped-def]
    agio = agents
    notes = tmp_path / "notes.txt"
    notes.write_text("```inner fence```\nline two\n")
    text = load_attachment(str(notes))
    image = attachment_of("dot.png", PNG)
    run = await agio.chat("fast", "Summarise.", attachments=[text, image])
    assert run.input == "Summarise."
    messages = (await agio.get_checkpoint(run.last_checkpoint_id or "")).messages
    parts = next(m for m in messages if m["role"] == "user")["content"]
    assert parts[0]["type"] == "text"
    assert parts[0]["text"].startswith("Summarise.\n\nFile: notes.txt\n````\n```inner fence```")
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
    assert "cannot see images" in (run.response or "")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\x00\x01\x02binary", "a binary file"),
        (b"caf\xe9 latin-1", "a binary file"),
        (b"x" * 1_000_001, "too long"),
    ],
)
def test_attachments_refuse_binary_and_oversized(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        attachment_of("blob", raw)


def test_attachments_refuse_directories_missing_files_and_other_schemes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="a directory"):
        load_attachment(str(tmp_path))
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_attachment(str(tmp_path / "missing.txt"))
    with pytest.raises(InvalidInputError, match="only http"):
        load_attachment("file:///etc/passwd")
