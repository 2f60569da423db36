"""Checkpoints after every step; restore, fork, modifications, superseded, tree and diff."""

from __future__ import annotations

import pytest

from agio_core import Agio, ConflictError, InvalidInputError, NotFoundError, Run


async def arithmetic_run(agio: Agio) -> Run:
    run = await agio.chat("assistant", "What is 12*7?")
    assert run.status == "completed" and run.response == "12*7 = 84."
    return run


async def test_a_checkpoint_after_every_step(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    summaries = (await agio.list_checkpoints(run.id)).items
    # step 0 (before the first model call), step 1 (tool call), step 2 (the answer)
    assert [(c.step, c.kind, c.message_count) for c in summaries] == [
        (0, "auto", 2),
        (1, "auto", 4),
        (2, "auto", 5),
    ]
    assert summaries[1].parent_checkpoint_id == summaries[0].id
    assert summaries[2].total_tokens == run.metrics.total_tokens
    records = [await agio.store.get_checkpoint(c.id) for c in summaries]
    assert [len(r.new_messages) for r in records if r] == [2, 2, 1]  # deltas, not histories
    final = await agio.get_checkpoint(summaries[-1].id)
    assert [m["role"] for m in final.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert final.messages[3] == {"role": "tool", "tool_call_id": "call_2_0", "content": "84"}
    assert final.agent.model == "offline/demo"
    events = [e async for e in agio.events(run.id, follow=False)]
    created = [e.checkpoint_id for e in events if e.type == "checkpoint_created"]
    assert created == [c.id for c in summaries]


async def test_fork_with_modifications_leaves_source_untouched(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    first = (await agio.list_checkpoints(run.id)).items[0]
    handle = await agio.fork_checkpoint(
        first.id,
        modifications={"modified_query": "count to 3", "system_prompt": "Count well."},
    )
    fork = await handle.wait()
    assert fork.status == "completed" and fork.response == "1 2 3."
    assert (fork.parent_run_id, fork.from_checkpoint_id, fork.input) == (
        run.id,
        first.id,
        "count to 3",
    )
    fork_checkpoints = (await agio.list_checkpoints(fork.id)).items
    assert fork_checkpoints[0].kind == "fork"
    assert fork_checkpoints[0].parent_checkpoint_id == first.id
    state = await agio.get_checkpoint(fork_checkpoints[-1].id)
    assert state.messages[0] == {"role": "system", "content": "Count well."}
    assert state.agent.system_prompt == "Count well."
    # The source run is exactly as it was.
    assert (await agio.get_run(run.id)).response == "12*7 = 84."
    assert len((await agio.list_checkpoints(run.id)).items) == 3


async def test_continuing_from_a_final_answer_regenerates_it(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    last = (await agio.list_checkpoints(run.id)).items[-1]
    fork = await (await agio.fork_checkpoint(last.id)).wait()
    assert fork.response == "12*7 = 84."
    assert fork.metrics.steps == 1  # one new model call, the tool result was reused


async def test_restore_in_place_supersedes_later_checkpoints(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    before = (await agio.list_checkpoints(run.id)).items
    handle = await agio.restore_checkpoint(
        before[0].id, create_new_run=False, modifications={"modified_query": "count to 2"}
    )
    assert handle.run_id == run.id
    rewound = await handle.wait()
    assert rewound.status == "completed" and rewound.response == "1 2."
    after = (await agio.list_checkpoints(run.id)).items
    assert [c.id for c in after[: len(before)]] == [c.id for c in before]  # nothing deleted
    assert [c.superseded for c in after] == [False, True, True, False, False]
    assert after[3].kind == "fork" and after[3].parent_checkpoint_id == before[0].id
    events = [e async for e in agio.events(run.id, follow=False)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("run_completed") == 2


async def test_restore_as_new_run(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    first = (await agio.list_checkpoints(run.id)).items[0]
    new = await (await agio.restore_checkpoint(first.id, create_new_run=True)).wait()
    assert new.id != run.id and new.parent_run_id == run.id
    assert new.response == "12*7 = 84."


async def test_modifications_are_checked(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    first = (await agio.list_checkpoints(run.id)).items[0]
    with pytest.raises(InvalidInputError, match="temperature: unknown field"):
        await agio.fork_checkpoint(first.id, modifications={"temperature": 0.5})
    with pytest.raises(InvalidInputError, match="unknown model"):
        await agio.fork_checkpoint(first.id, modifications={"model": "bogus/x"})
    with pytest.raises(InvalidInputError):
        await agio.fork_checkpoint(first.id, modifications={"max_steps": 0})
    fork = await (
        await agio.fork_checkpoint(
            first.id, modifications={"max_steps": 1, "model_params": {"delay_ms": 0}}
        )
    ).wait()
    assert fork.status == "failed" and fork.error is not None
    assert fork.error.type == "max_steps_exceeded"


async def test_manual_checkpoint(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    manual = await agio.create_checkpoint(run.id, description="good answer", tags=["keep"])
    assert (manual.kind, manual.description, manual.tags, manual.step) == (
        "manual",
        "good answer",
        ["keep"],
        2,
    )
    full = await agio.get_checkpoint(manual.id)
    last_auto = await agio.get_checkpoint((await agio.list_checkpoints(run.id)).items[-2].id)
    assert full.messages == last_auto.messages


async def test_tree_and_diff(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    first = (await agio.list_checkpoints(run.id)).items[0]
    fork_a = await (
        await agio.fork_checkpoint(first.id, modifications={"modified_query": "count to 2"})
    ).wait()
    a_first = (await agio.list_checkpoints(fork_a.id)).items[-1]
    fork_b = await (await agio.fork_checkpoint(a_first.id)).wait()

    tree = await agio.checkpoint_tree(fork_b.id)  # any run of the tree finds the root
    assert tree.run_id == run.id
    assert [c.run_id for c in tree.children] == [fork_a.id]
    assert [c.run_id for c in tree.children[0].children] == [fork_b.id]

    original_end = (await agio.list_checkpoints(run.id)).items[-1]
    diff = await agio.diff_checkpoints(original_end.id, a_first.id)
    assert diff.common_prefix == 1
    assert diff.only_in_b == [
        {"role": "user", "content": "count to 2"},
        {"role": "assistant", "content": "1 2."},
    ]
    assert "-user: What is 12*7?" in diff.unified and "+user: count to 2" in diff.unified


async def test_unknown_ids_are_not_found(agio: Agio) -> None:
    for call in (
        agio.get_run("run_0000000000000000"),
        agio.get_run("../../etc/passwd"),
        agio.get_checkpoint("ck_0000000000000000_0001"),
        agio.get_checkpoint("ck_../x"),
        agio.list_checkpoints("run_zz"),
        agio.fork_checkpoint("nope"),
    ):
        with pytest.raises(NotFoundError):
            await call


async def test_sessions_chain_runs(agio: Agio) -> None:
    first = await agio.chat("assistant", "My name is Ada.", session_id="s-1")
    second = await agio.chat("assistant", "What is my name?", session_id="s-1")
    assert second.session_id == first.session_id == "s-1"
    assert second.response == "Your name is Ada."
    # The new run's first checkpoint stores only what is new, not the session's history.
    assert second.last_checkpoint_id is not None
    start = (await agio.list_checkpoints(second.id)).items[0]
    record = await agio.store.get_checkpoint(start.id)
    assert record is not None and record.new_messages == [
        {"role": "user", "content": "What is my name?"}
    ]
    assert start.message_count == 4
    other = await agio.chat("assistant", "What is my name?")
    assert other.response == "You have not told me your name yet."
    assert await agio.latest_session() == other.session_id
    with pytest.raises(InvalidInputError):
        await agio.chat("assistant", "hi", session_id="bad session id!")


async def test_illegal_transitions_conflict(agio: Agio) -> None:
    run = await arithmetic_run(agio)
    for call in (agio.pause_run(run.id), agio.resume_run(run.id), agio.cancel_run(run.id)):
        with pytest.raises(ConflictError):
            await call
