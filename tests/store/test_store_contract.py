"""The store contract (agio_core/store/_base.py), run on every backend."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from event_samples import sample_events
from store_backends import damage_record, make_store, write_raw_events

from agio_core._time import utcnow
from agio_core.agents import Agent
from agio_core.approvals import ApprovalDecision, PendingApproval, apply_decisions, undecided
from agio_core.checkpoints import AgentSnapshot, CheckpointRecord
from agio_core.errors import NotFoundError, StoreError
from agio_core.events import (
    ContentDelta,
    Event,
    RunCancelled,
    RunCompleted,
    RunPaused,
    RunStarted,
)
from agio_core.ids import checkpoint_id, new_run_id
from agio_core.runs import ControlRequest, Run, RunMetrics
from agio_core.store import Store

HERE = Path(__file__).resolve().parent


def agent(agent_id: str, tags: list[str] | None = None) -> Agent:
    return Agent(id=agent_id, model="offline/demo", tags=tags or [])


def make_run(**fields: object) -> Run:
    values: dict[str, object] = {
        "id": new_run_id(),
        "agent_id": "assistant",
        "session_id": "sess-1",
        "input": "hello",
    }
    values.update(fields)
    return Run.model_validate(values)


def event(run_id: str, seq: int, content: str = "") -> Event:
    return ContentDelta(seq=seq, run_id=run_id, content=content, step=1)


def record(run_id: str, number: int, **fields: object) -> CheckpointRecord:
    values: dict[str, object] = {
        "id": checkpoint_id(run_id, number),
        "run_id": run_id,
        "step": number,
        "agent": AgentSnapshot(agent_id="assistant", model="offline/demo", system_prompt="hi"),
    }
    values.update(fields)
    return CheckpointRecord.model_validate(values)


# agents


async def test_agent_round_trip_and_missing(store: Store) -> None:
    assert await store.get_agent("nobody") is None
    original = Agent(
        id="researcher",
        name="Researcher",
        model="openai/gpt-4o-mini",
        model_params={"temperature": 0.2, "nested": {"a": [1, 2.5, None]}},
        system_prompt="Sources, always. «ünïcode» 🚀",
        tools=["calculator"],
        tags=["work", "x"],
        max_steps=7,
    )
    await store.put_agent(original)
    assert await store.get_agent("researcher") == original


async def test_put_agent_replaces(store: Store) -> None:
    await store.put_agent(agent("a", ["one"]))
    await store.put_agent(agent("a", ["two"]).model_copy(update={"name": "Renamed"}))
    saved = await store.get_agent("a")
    assert saved is not None and saved.name == "Renamed" and saved.tags == ["two"]
    assert [a.id for a in await store.list_agents()] == ["a"]


async def test_delete_agent(store: Store) -> None:
    await store.put_agent(agent("gone"))
    assert await store.delete_agent("gone") is True
    assert await store.get_agent("gone") is None
    assert await store.delete_agent("gone") is False


async def test_list_agents_sorted_and_by_tag(store: Store) -> None:
    for agent_id, tags in [
        ("zeta", ["t"]),
        ("alpha", []),
        ("b-2", ["t", "u"]),
        ("b_1", ["u"]),
        ("b1", ["t"]),
    ]:
        await store.put_agent(agent(agent_id, tags))
    # Sorted by id in code-point order, whatever the database's collation.
    assert [a.id for a in await store.list_agents()] == sorted(
        ["zeta", "alpha", "b-2", "b_1", "b1"]
    )
    assert [a.id for a in await store.list_agents("t")] == ["b-2", "b1", "zeta"]
    assert [a.id for a in await store.list_agents("u")] == ["b-2", "b_1"]
    assert await store.list_agents("none") == []


# runs


async def test_run_round_trip(store: Store) -> None:
    run = make_run(
        input="What is 12*7? «ü» 🚀",
        metrics=RunMetrics(steps=2, total_tokens=40, first_token_ms=12),
        owner="host:123",
        heartbeat_at=utcnow(),
        parent_run_id=new_run_id(),
        from_checkpoint_id="ck_0123456789abcdef_0002",
    )
    await store.create_run(run)
    assert await store.get_run(run.id) == run


async def test_get_run_unknown_and_malformed(store: Store) -> None:
    assert await store.get_run(new_run_id()) is None
    with pytest.raises(NotFoundError):
        await store.get_run("../../etc/passwd")


async def test_save_run_overwrites_and_updates_listing(store: Store) -> None:
    run = make_run()
    await store.create_run(run)
    finished = run.model_copy(
        update={"status": "completed", "response": "done", "finished_at": utcnow()}
    )
    await store.save_run(finished)
    assert await store.get_run(run.id) == finished
    assert (await store.list_runs(status="running"))[0] == 0
    total, page = await store.list_runs(status="completed")
    assert total == 1 and page == [finished]


async def test_transition_applies_when_status_expected(store: Store) -> None:
    run = make_run(status="paused")
    await store.create_run(run)
    changed = await store.transition_run(
        run.id, {"paused", "interrupted"}, {"status": "running", "owner": "me"}
    )
    assert changed is not None and changed.status == "running" and changed.owner == "me"
    assert await store.get_run(run.id) == changed
    assert (await store.list_runs(status="running"))[0] == 1


async def test_transition_refused_when_status_unexpected(store: Store) -> None:
    run = make_run(status="completed")
    await store.create_run(run)
    assert await store.transition_run(run.id, {"paused"}, {"status": "running"}) is None
    assert await store.get_run(run.id) == run


async def test_transition_unknown_run(store: Store) -> None:
    assert await store.transition_run(new_run_id(), {"running"}, {"status": "paused"}) is None


async def test_transition_with_function_of_current_run(store: Store) -> None:
    run = make_run(status="paused", checkpoint_count=3)
    await store.create_run(run)
    seen: list[Run] = []

    def bump(current: Run) -> dict[str, object]:
        seen.append(current)
        return {"checkpoint_count": current.checkpoint_count + 1}

    changed = await store.transition_run(run.id, {"paused"}, bump)
    assert changed is not None and changed.checkpoint_count == 4 and changed.status == "paused"
    assert seen == [run]
    # A function may return no change at all.
    assert await store.transition_run(run.id, {"paused"}, lambda _: {}) == changed


async def test_concurrent_decisions_on_a_waiting_run_are_all_kept(store: Store) -> None:
    """Deciders from many processes at once: every decision lands (none overwrites
    another), and only the one that completes the set claims the run."""
    pending = [
        PendingApproval(tool_call_id=f"c{i}", name="shell", arguments="{}", step=1)
        for i in range(6)
    ]
    run = make_run(status="awaiting_approval", pending_approvals=pending)
    await store.create_run(run)
    assert (await store.list_runs(status="awaiting_approval"))[0] == 1

    def deciding(call_id: str, owner: str) -> Callable[[Run], dict[str, object]]:
        def change(current: Run) -> dict[str, object]:
            calls, _ = apply_decisions(
                current.pending_approvals,
                [ApprovalDecision(tool_call_id=call_id, decision="approve")],
                remember=False,
                rules={},
            )
            claim = {"status": "running", "owner": owner} if not undecided(calls) else {}
            return {"pending_approvals": calls, **claim}

        return change

    results = await asyncio.gather(
        *(
            store.transition_run(run.id, {"awaiting_approval"}, deciding(p.tool_call_id, f"p{i}"))
            for i, p in enumerate(pending)
        )
    )
    assert all(result is not None for result in results)
    stored = await store.get_run(run.id)
    assert stored is not None and stored.status == "running"
    assert [p.decision for p in stored.pending_approvals] == ["approve"] * 6
    assert sum(1 for r in results if r is not None and r.status == "running") == 1


async def test_transition_is_compare_and_set(store: Store) -> None:
    """Many concurrent claims of one paused run: exactly one wins."""
    run = make_run(status="paused")
    await store.create_run(run)
    results = await asyncio.gather(
        *(
            store.transition_run(run.id, {"paused"}, {"status": "running", "owner": f"w{i}"})
            for i in range(8)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await store.get_run(run.id)
    assert stored is not None and stored.owner == winners[0].owner


async def test_concurrent_read_modify_write_loses_nothing(store: Store) -> None:
    run = make_run(status="paused")
    await store.create_run(run)
    await asyncio.gather(
        *(
            store.transition_run(
                run.id, {"paused"}, lambda r: {"checkpoint_count": r.checkpoint_count + 1}
            )
            for _ in range(20)
        )
    )
    stored = await store.get_run(run.id)
    assert stored is not None and stored.checkpoint_count == 20


async def test_list_runs_newest_first_with_total_and_pages(store: Store) -> None:
    start = utcnow()
    runs = [make_run(created_at=start + timedelta(seconds=i), input=str(i)) for i in range(7)]
    for run in [runs[3], runs[0], runs[6], runs[1], runs[5], runs[2], runs[4]]:
        await store.create_run(run)
    newest_first = list(reversed(runs))
    assert await store.list_runs() == (7, newest_first)
    assert await store.list_runs(limit=3) == (7, newest_first[:3])
    assert await store.list_runs(limit=3, offset=3) == (7, newest_first[3:6])
    assert await store.list_runs(limit=3, offset=6) == (7, newest_first[6:])
    assert await store.list_runs(limit=3, offset=10) == (7, [])


async def test_list_runs_filters(store: Store) -> None:
    start = utcnow()
    day = timedelta(days=1)
    parent = make_run(agent_id="a", session_id="s1", created_at=start)
    runs = [
        parent,
        make_run(agent_id="a", session_id="s1", status="completed", created_at=start + day),
        make_run(agent_id="b", session_id="s2", status="completed", created_at=start + 2 * day),
        make_run(
            agent_id="b",
            session_id="s3",
            status="paused",
            parent_run_id=parent.id,
            created_at=start + 3 * day,
        ),
        make_run(
            agent_id="a",
            session_id="s4",
            status="completed",
            parent_run_id=parent.id,
            created_at=start + 4 * day,
        ),
    ]
    for run in runs:
        await store.create_run(run)

    def ids(found: tuple[int, list[Run]]) -> tuple[int, list[str]]:
        return found[0], [r.id for r in found[1]]

    r = [run.id for run in runs]
    assert ids(await store.list_runs(agent_id="a")) == (3, [r[4], r[1], r[0]])
    assert ids(await store.list_runs(status="completed")) == (3, [r[4], r[2], r[1]])
    assert ids(await store.list_runs(session_id="s1")) == (2, [r[1], r[0]])
    assert ids(await store.list_runs(parent_run_id=parent.id)) == (2, [r[4], r[3]])
    assert ids(await store.list_runs(agent_id="a", status="completed")) == (2, [r[4], r[1]])
    assert ids(await store.list_runs(agent_id="a", status="completed", limit=1, offset=1)) == (
        2,
        [r[1]],
    )
    assert ids(await store.list_runs(agent_id="nobody")) == (0, [])


async def test_list_runs_by_user(store: Store) -> None:
    start = utcnow()
    runs = [
        make_run(user_id="ana@example.com", created_at=start),
        make_run(user_id="org/42 «ü»", created_at=start + timedelta(seconds=1)),
        make_run(created_at=start + timedelta(seconds=2)),
        make_run(user_id="ana@example.com", status="completed", created_at=start + timedelta(3)),
    ]
    for run in runs:
        await store.create_run(run)
    # A status change rewrites the listing entry: the user must stay on it.
    await store.transition_run(runs[0].id, {"running"}, {"status": "paused"})

    def ids(found: tuple[int, list[Run]]) -> tuple[int, list[str]]:
        return found[0], [r.id for r in found[1]]

    assert ids(await store.list_runs(user_id="ana@example.com")) == (2, [runs[3].id, runs[0].id])
    assert ids(await store.list_runs(user_id="ana@example.com", status="paused")) == (
        1,
        [runs[0].id],
    )
    assert ids(await store.list_runs(user_id="org/42 «ü»")) == (1, [runs[1].id])
    assert ids(await store.list_runs(user_id="ana")) == (0, [])
    assert (await store.list_runs(limit=10))[0] == 4
    stored = await store.get_run(runs[1].id)
    assert stored is not None and stored.user_id == "org/42 «ü»"


async def test_list_runs_searches_input_and_response_and_filters_by_age(store: Store) -> None:
    start = utcnow() - timedelta(days=10)
    runs = [
        make_run(input="Invoice for ACME", created_at=start),
        make_run(
            input="hello",
            response="the invoice is paid",
            status="completed",
            created_at=start + timedelta(days=5),
        ),
        make_run(input="100% sure_thing", created_at=start + timedelta(days=9)),
        make_run(input="unrelated", created_at=start + timedelta(days=9, hours=1)),
    ]
    for run in runs:
        await store.create_run(run)

    def ids(found: tuple[int, list[Run]]) -> tuple[int, list[str]]:
        return found[0], [r.id for r in found[1]]

    r = [run.id for run in runs]
    assert ids(await store.list_runs(search="INVOICE")) == (2, [r[1], r[0]])
    assert ids(await store.list_runs(search="invoice", limit=1)) == (2, [r[1]])
    # the text is matched as it is: no LIKE wildcards
    assert ids(await store.list_runs(search="0% s")) == (1, [r[2]])
    assert ids(await store.list_runs(search="_")) == (1, [r[2]])
    assert ids(await store.list_runs(search="%")) == (1, [r[2]])
    assert ids(await store.list_runs(search="nowhere")) == (0, [])
    cutoff = start + timedelta(days=6)
    assert ids(await store.list_runs(created_before=cutoff)) == (2, [r[1], r[0]])
    assert ids(await store.list_runs(created_before=cutoff, search="acme")) == (1, [r[0]])


async def test_delete_run_removes_it_all_and_checks_its_status(store: Store) -> None:
    keep = make_run(status="completed", session_id="other")
    gone = make_run(status="completed")
    running = make_run(status="running")
    for run in (keep, gone, running):
        await store.create_run(run, record(run.id, 0))
        await store.append_events(run.id, [event(run.id, 1, content="x")])
    await store.request_control(gone.id, ControlRequest(action="pause"))
    assert not await store.delete_run(running.id, {"completed"})  # not in `expected`
    assert not await store.delete_run(new_run_id(), {"completed"})  # no such run
    assert await store.delete_run(gone.id, {"completed", "paused"})
    assert await store.get_run(gone.id) is None
    assert await store.get_checkpoint(checkpoint_id(gone.id, 0)) is None
    assert await store.list_checkpoints(gone.id) == []
    assert await store.read_events(gone.id) == []
    assert await store.get_control(gone.id) is None
    assert not await store.delete_run(gone.id, {"completed"})  # already gone
    assert {r.id for r in (await store.list_runs())[1]} == {keep.id, running.id}
    assert (await store.list_runs(session_id="sess-1"))[0] == 1
    assert await store.get_run(keep.id) == keep
    assert len(await store.read_events(keep.id)) == 1


async def test_a_deleted_run_cannot_be_transitioned_back(store: Store) -> None:
    run = make_run(status="paused")
    await store.create_run(run)
    assert await store.delete_run(run.id, {"paused"})
    assert await store.transition_run(run.id, {"paused"}, {"status": "running"}) is None
    assert await store.list_runs() == (0, [])


async def test_delete_and_resume_race_one_wins(store: Store) -> None:
    for _ in range(10):
        run = make_run(status="paused")
        await store.create_run(run, record(run.id, 0))
        deleted, resumed = await asyncio.gather(
            store.delete_run(run.id, {"paused"}),
            store.transition_run(run.id, {"paused"}, {"status": "running"}),
        )
        assert deleted != (resumed is not None)  # exactly one of them happened
        stored = await store.get_run(run.id)
        if deleted:
            assert stored is None and await store.list_checkpoints(run.id) == []
        else:
            assert stored is not None and stored.status == "running"
        listed = {r.id for r in (await store.list_runs(limit=100))[1]}
        assert (run.id in listed) == (not deleted)  # the listing agrees with the record


# checkpoints


async def test_checkpoint_round_trip_holds_only_new_messages(store: Store) -> None:
    run = make_run()
    await store.create_run(run)
    first = record(
        run.id,
        0,
        new_messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi «ü» 🚀"},
        ],
        tags=["a"],
        metrics={"total_tokens": 5},
    )
    second = record(
        run.id,
        1,
        base_id=first.id,
        base_len=2,
        parent_checkpoint_id=first.id,
        new_messages=[
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "calculator", "arguments": '{"expression": "1+1"}'},
                    }
                ],
            }
        ],
    )
    await store.put_checkpoint(first)
    await store.put_checkpoint(second)
    assert await store.get_checkpoint(first.id) == first
    loaded = await store.get_checkpoint(second.id)
    assert loaded == second
    assert loaded is not None and loaded.message_count == 3 and len(loaded.new_messages) == 1


async def test_get_checkpoint_unknown_and_malformed(store: Store) -> None:
    assert await store.get_checkpoint(checkpoint_id(new_run_id(), 0)) is None
    with pytest.raises(NotFoundError):
        await store.get_checkpoint("ck_../../x")


async def test_create_run_with_its_first_checkpoint(store: Store) -> None:
    run = make_run()
    first = record(run.id, 0, new_messages=[{"role": "user", "content": "hello"}])
    run.checkpoint_count, run.last_checkpoint_id = 1, first.id
    await store.create_run(run, first_checkpoint=first)
    assert await store.get_run(run.id) == run
    assert await store.get_checkpoint(first.id) == first
    assert await store.list_checkpoints(run.id) == [first]
    assert [r.id for r in (await store.list_runs())[1]] == [run.id]


async def test_save_checkpoint_stores_it_with_the_record_that_points_at_it(store: Store) -> None:
    run = make_run()
    first = record(run.id, 0, new_messages=[{"role": "user", "content": "hello"}])
    run.checkpoint_count, run.last_checkpoint_id = 1, first.id
    await store.create_run(run, first_checkpoint=first)
    await store.append_events(run.id, [event(run.id, 1, "a"), event(run.id, 2, "b")])
    second = record(run.id, 1, new_messages=[{"role": "assistant", "content": "hi"}])
    ended = run.model_copy(
        update={
            "status": "completed",
            "response": "hi",
            "finished_at": utcnow(),
            "checkpoint_count": 2,
            "last_checkpoint_id": second.id,
        }
    )
    await store.save_checkpoint(second, ended)
    assert await store.get_run(run.id) == ended
    assert await store.list_checkpoints(run.id) == [first, second]
    assert [e.seq for e in await store.read_events(run.id)] == [1, 2]
    assert (await store.list_runs(status="completed"))[1] == [ended]
    # and again: the events' log, closed by the first, is reopened by the next append
    await store.append_events(run.id, [event(run.id, 3, "c")])
    third = record(run.id, 2)
    await store.save_checkpoint(third, ended.model_copy(update={"last_checkpoint_id": third.id}))
    assert [e.seq for e in await store.read_events(run.id)] == [1, 2, 3]
    assert (await store.get_run(run.id)).last_checkpoint_id == third.id  # type: ignore[union-attr]


async def test_list_checkpoints_in_creation_order(store: Store) -> None:
    run, other = make_run(), make_run()
    await store.create_run(run)
    await store.create_run(other)
    numbers = [*range(12), 10_000]
    for number in numbers:
        await store.put_checkpoint(record(run.id, number))
    await store.put_checkpoint(record(other.id, 0))
    assert [r.id for r in await store.list_checkpoints(run.id)] == [
        checkpoint_id(run.id, n) for n in numbers
    ]
    assert await store.list_checkpoints(new_run_id()) == []


async def test_page_checkpoints_counts_all_and_reads_the_page(store: Store) -> None:
    run, other = make_run(), make_run()
    await store.create_run(run)
    await store.create_run(other)
    numbers = [*range(12), 10_000]
    records = [record(run.id, n) for n in numbers]
    for item in reversed(records):  # written out of order: the page is still by number
        await store.put_checkpoint(item)
    others = [record(other.id, 0)]
    await store.put_checkpoint(others[0])
    assert await store.page_checkpoints(run.id, limit=20) == (13, records)
    assert await store.page_checkpoints(run.id, limit=5) == (13, records[:5])
    assert await store.page_checkpoints(run.id, limit=5, offset=10) == (13, records[10:])
    assert await store.page_checkpoints(run.id, limit=5, offset=13) == (13, [])
    assert await store.page_checkpoints(run.id, limit=0) == (13, [])
    assert await store.page_checkpoints(other.id, limit=20) == (1, others)
    assert await store.page_checkpoints(new_run_id(), limit=20) == (0, [])


async def test_mark_superseded(store: Store) -> None:
    run = make_run()
    await store.create_run(run)
    for number in range(4):
        await store.put_checkpoint(record(run.id, number))
    later = [checkpoint_id(run.id, 2), checkpoint_id(run.id, 3)]
    await store.mark_superseded(run.id, later)
    await store.mark_superseded(run.id, [])
    flags = {r.id: r.superseded for r in await store.list_checkpoints(run.id)}
    assert flags == {checkpoint_id(run.id, n): n >= 2 for n in range(4)}
    superseded = await store.get_checkpoint(later[0])
    assert superseded is not None and superseded.superseded


# events


async def test_events_append_read_and_after_seq(store: Store) -> None:
    run, other = make_run(), make_run()
    await store.create_run(run)
    await store.create_run(other)
    assert await store.read_events(run.id) == []
    first = [event(run.id, 1, content="a")]
    rest = [event(run.id, seq, content=f"w{seq} «ü» 🚀") for seq in range(2, 6)]
    await store.append_events(run.id, first)
    await store.append_events(run.id, rest)
    await store.append_events(other.id, [event(other.id, 1)])
    await store.sync_events(run.id)
    assert await store.read_events(run.id) == first + rest
    assert await store.read_events(run.id, after_seq=3) == rest[2:]
    assert await store.read_events(run.id, after_seq=5) == []
    assert await store.read_events(new_run_id()) == []


async def test_every_event_type_round_trips(store: Store) -> None:
    run = make_run()
    await store.create_run(run)
    events = sample_events(run.id)
    await store.append_events(run.id, events)
    assert await store.read_events(run.id) == events
    assert [e.to_json() for e in await store.read_events(run.id)] == [e.to_json() for e in events]


LEGACY_LOG = Path(__file__).with_name("legacy_events.jsonl")  # written by agio before v2


async def test_event_logs_of_the_nested_shape_stay_readable(
    store: Store, store_location: tuple[str, str]
) -> None:
    run = make_run()
    logged_as = "run_e1d571d189f6537f"  # a fresh id: a shared database may have seen that one
    lines = LEGACY_LOG.read_text(encoding="utf-8").replace(logged_as, run.id).splitlines()
    await store.create_run(run)
    write_raw_events(*store_location, run.id, lines)
    events = await store.read_events(run.id)
    assert [e.seq for e in events] == list(range(1, 17))
    match events[0]:
        case RunStarted(agent_id="assistant", session_id=session, parent_run_id=None):
            assert session.startswith("sess_")
        case other:
            raise AssertionError(other)
    assert [e.content for e in events if isinstance(e, ContentDelta)] == ["12*7 ", "= ", "84."]
    completed = events[13]
    assert isinstance(completed, RunCompleted) and completed.response == "12*7 = 84."
    assert completed.metrics.first_token_ms == 81 and completed.finish_reason is None
    # Events whose fields are all optional must not lose them either.
    assert events[14] == RunPaused(
        seq=15, run_id=run.id, ts=events[14].ts, checkpoint_id="ck_a00136ef12be9956_0001"
    )
    assert isinstance(events[15], RunCancelled) and events[15].reason == "stop it"
    # Read back, they are flat: the shape every reader sees now.
    assert "data" not in json.loads(events[1].to_json())
    assert (await store.read_events(run.id, after_seq=13))[0] == completed


async def test_a_logged_event_of_unknown_type_is_skipped_with_a_warning(
    store: Store, store_location: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    run = make_run()
    await store.create_run(run)
    first, last = event(run.id, 1, "a"), event(run.id, 4, "b")
    await store.append_events(run.id, [first])
    ts = "2026-12-01T21:31:04.856829Z"
    strange = [
        json.dumps({"seq": 2, "type": "from_the_future", "run_id": run.id, "ts": ts}),
        json.dumps({"seq": 3, "type": "content_delta", "run_id": run.id, "ts": ts}),  # no content
    ]
    write_raw_events(*store_location, run.id, strange)
    await store.append_events(run.id, [last])
    with caplog.at_level("WARNING", logger="agio.store"):
        assert await store.read_events(run.id) == [first, last]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2, skipped
    assert "unknown type 'from_the_future'" in skipped[0]
    assert "content_delta.content: Field required" in skipped[1]


async def test_a_damaged_record_spoils_only_itself_and_check_reports_it(
    store: Store, store_location: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A record that no longer validates (a hand edit, another agio version) behind the
    store's back: lists leave it out (with a warning) and go on, reading it alone says it is
    damaged, polling a damaged control request finds none, and `check` names each one."""
    await store.put_agent(agent("fine"))
    await store.put_agent(agent("spoilt"))
    bad_run, run = make_run(input="bad"), make_run(input="good")
    await store.create_run(bad_run)
    await store.create_run(run)
    for number in range(3):
        await store.put_checkpoint(record(run.id, number))
    await store.request_control(run.id, ControlRequest(action="pause"))
    bad_checkpoint = checkpoint_id(run.id, 1)
    for kind, key in [
        ("agent", "spoilt"),
        ("run", bad_run.id),
        ("checkpoint", bad_checkpoint),
        ("control", run.id),
    ]:
        damage_record(*store_location, kind, key)

    with caplog.at_level("WARNING", logger="agio.store"):
        assert [a.id for a in await store.list_agents()] == ["fine"]
        assert await store.get_agent("spoilt") is None
        total, page = await store.list_runs()
        assert total == 2 and [r.id for r in page] == [run.id]  # counted, not shown
        kept = [checkpoint_id(run.id, 0), checkpoint_id(run.id, 2)]
        assert [c.id for c in await store.list_checkpoints(run.id)] == kept
        total, records = await store.page_checkpoints(run.id, limit=10)
        assert total == 3 and [c.id for c in records] == kept
        assert await store.get_control(run.id) is None
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert all("damaged" in w for w in warnings) and len(warnings) >= 4, warnings
    for key in ("agent", bad_run.id, bad_checkpoint):
        assert any(key in w for w in warnings), (key, warnings)

    with pytest.raises(StoreError, match="damaged"):
        await store.get_run(bad_run.id)
    with pytest.raises(StoreError, match="damaged"):
        await store.transition_run(bad_run.id, {"running"}, {"status": "paused"})
    with pytest.raises(StoreError, match="damaged"):
        await store.get_checkpoint(bad_checkpoint)
    assert (await store.get_run(run.id)) == run  # its neighbours read as ever

    found = await store.check()
    assert len(found) == 4, found
    problems = {d.path: d.problem for d in found}
    for key in (bad_run.id, bad_checkpoint):
        assert sum(key in path for path in problems) == 1, (key, problems)
    assert any("control" in path and run.id in path for path in problems), problems
    # TinyDB holds every agent in one index, which `check` reports whole.
    assert any("spoilt" in path or path.endswith("index.json") for path in problems), problems
    assert all("not a valid" in problem for problem in problems.values()), problems


async def test_nul_characters_do_not_break_writes(store: Store, store_location: object) -> None:
    """PostgreSQL text cannot hold U+0000: it is stored as U+FFFD there, verbatim elsewhere."""
    run = make_run(input="a\x00b \\u0000 \\\x00")
    await store.create_run(run)
    await store.append_events(run.id, [event(run.id, 1, content="x\x00y")])
    stored_run = await store.get_run(run.id)
    [stored_event] = await store.read_events(run.id)
    assert stored_run is not None
    if isinstance(store_location, tuple) and store_location[0] == "postgres":
        assert stored_run.input == "a\ufffdb \\u0000 \\\ufffd"
        assert stored_event.content == "x\ufffdy"
    else:
        assert stored_run.input == run.input
        assert stored_event.content == "x\x00y"


# control


async def test_control_request_get_replace_clear(store: Store) -> None:
    run = make_run()
    await store.create_run(run)
    assert await store.get_control(run.id) is None
    pause = ControlRequest(action="pause", requested_by="host-b:42")
    await store.request_control(run.id, pause)
    assert await store.get_control(run.id) == pause
    cancel = ControlRequest(action="cancel", reason="enough", requested_by="host-c:7")
    await store.request_control(run.id, cancel)
    assert await store.get_control(run.id) == cancel  # the latest request wins
    await store.clear_control(run.id)
    assert await store.get_control(run.id) is None
    await store.clear_control(run.id)  # clearing nothing is fine
    other = make_run()
    await store.create_run(other)
    assert await store.get_control(other.id) is None


async def test_writes_about_unknown_runs_fail(
    store: Store, store_location: tuple[str, str]
) -> None:
    ghost = new_run_id()
    with pytest.raises(StoreError):
        await store.append_events(ghost, [event(ghost, 1)])
    # TinyDB's write_atomic lets mkstemp's FileNotFoundError through (reported upstream).
    failure = StoreError if store_location[0] == "postgres" else (StoreError, OSError)
    with pytest.raises(failure):
        await store.request_control(ghost, ControlRequest(action="pause"))
    with pytest.raises(failure):
        await store.put_checkpoint(record(ghost, 0))


# durability and wakeups


async def test_everything_survives_reopening(store_location: tuple[str, str]) -> None:
    first = make_store(*store_location)
    await first.open()
    run = make_run(status="paused")
    await first.put_agent(agent("kept"))
    await first.create_run(run)
    await first.put_checkpoint(record(run.id, 0))
    await first.append_events(run.id, [event(run.id, 1)])
    await first.sync_events(run.id)
    await first.request_control(run.id, ControlRequest(action="cancel"))
    await first.close()

    second = make_store(*store_location)
    await second.open()
    await second.open()  # opening twice is harmless
    try:
        assert await second.get_agent("kept") is not None
        assert await second.get_run(run.id) == run
        assert len(await second.list_checkpoints(run.id)) == 1
        assert len(await second.read_events(run.id)) == 1
        control = await second.get_control(run.id)
        assert control is not None and control.action == "cancel"
    finally:
        await second.close()


async def test_wait_for_events_wakes_on_append_from_another_store(
    store: Store, store_location: tuple[str, str]
) -> None:
    run = make_run()
    await store.create_run(run)
    await store.append_events(run.id, [event(run.id, 1)])
    loop = asyncio.get_running_loop()

    started = loop.time()
    await store.wait_for_events(run.id, 0, 5.0)  # already there: no waiting
    assert loop.time() - started < 1.0

    started = loop.time()
    await store.wait_for_events(run.id, 1, 0.3)  # nothing new: at most the timeout
    assert loop.time() - started < 1.0

    writer = make_store(*store_location)  # its own connections, as another process has
    await writer.open()
    try:

        async def append_later() -> None:
            await asyncio.sleep(0.3)
            await writer.append_events(run.id, [event(run.id, 2)])

        appending = asyncio.create_task(append_later())
        started = loop.time()
        while not await store.read_events(run.id, 1):
            await store.wait_for_events(run.id, 1, 5.0)
            assert loop.time() - started < 3.0
        await appending
    finally:
        await writer.close()


async def test_wait_for_control_wakes_on_request(
    store: Store, store_location: tuple[str, str]
) -> None:
    run = make_run()
    await store.create_run(run)
    loop = asyncio.get_running_loop()
    await store.wait_for_control(run.id, 0.2)  # first wait: may be cut short, never long
    requester = make_store(*store_location)
    await requester.open()
    try:

        async def request_later() -> None:
            await asyncio.sleep(0.3)
            await requester.request_control(run.id, ControlRequest(action="pause"))

        requesting = asyncio.create_task(request_later())
        started = loop.time()
        while await store.get_control(run.id) is None:
            await store.wait_for_control(run.id, 10.0)
            assert loop.time() - started < 3.0
        await requesting
    finally:
        await requester.close()


# several OS processes


def test_two_processes_lose_nothing(store_location: tuple[str, str]) -> None:
    backend, where = store_location

    async def setup() -> tuple[str, list[str]]:
        store = make_store(backend, where)
        await store.open()
        counter = make_run(status="paused")
        claimable = [make_run(status="paused") for _ in range(15)]
        for run in [counter, *claimable]:
            await store.create_run(run)
        await store.close()
        return counter.id, [r.id for r in claimable]

    counter, claimable = asyncio.run(setup())
    rounds = 25
    shared = json.dumps({"counter": counter, "claimable": claimable, "rounds": rounds})
    writers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_writer.py"), backend, where, name, shared],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    outputs = []
    for writer in writers:
        out, err = writer.communicate(timeout=90)
        assert writer.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    async def check() -> None:
        store = make_store(backend, where)
        await store.open()
        try:
            for name in ("alpha", "beta"):
                assert len(await store.list_agents(name)) == rounds
            total, _ = await store.list_runs(limit=1)
            assert total == 1 + len(claimable) + 2 * rounds
            for output in outputs:
                for run_id in output["runs"]:
                    assert len(await store.read_events(run_id)) == 1
            shared_run = await store.get_run(counter)
            assert shared_run is not None and shared_run.checkpoint_count == 2 * rounds
            won = outputs[0]["claimed"] + outputs[1]["claimed"]
            assert sorted(won) == sorted(claimable)  # each claimed once, by one process
            for run_id in claimable:
                run = await store.get_run(run_id)
                winner = "alpha" if run_id in outputs[0]["claimed"] else "beta"
                assert run is not None and run.status == "running" and run.owner == winner
        finally:
            await store.close()

    asyncio.run(check())
