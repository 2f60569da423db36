"""Tool approvals in the core (SPEC §4, §8): waiting, decisions, rules, cancel and races."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agio_core import Agio, ApprovalDecision, Run, Settings
from agio_core.errors import ConflictError, InvalidInputError

ASKING = {
    "id": "asker",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["calculator", "current_time"],
    "approval": {"calculator": "ask"},
}
TWO_SUMS = "What is 2+3 and 4*5?"


@pytest.fixture
async def agio(settings: Settings) -> Agio:
    async with Agio(settings) as facade:
        await facade.create_agent(ASKING)
        yield facade


async def types_of(agio: Agio, run_id: str) -> list[str]:
    return [event.type async for event in agio.events(run_id, follow=False)]


async def waiting_run(agio: Agio, question: str = TWO_SUMS, **options: str) -> Run:
    run = await (await agio.start_chat("asker", question, **options)).wait()
    assert run.status == "awaiting_approval", run
    return run


def approve(call_id: str) -> ApprovalDecision:
    return ApprovalDecision(tool_call_id=call_id, decision="approve")


async def test_ask_stops_the_run_with_the_calls_pending_and_checkpointed(agio: Agio) -> None:
    run = await waiting_run(agio)
    assert [(p.name, json.loads(p.arguments), p.decision) for p in run.pending_approvals] == [
        ("calculator", {"expression": "2+3"}, None),
        ("calculator", {"expression": "4*5"}, None),
    ]
    types = await types_of(agio, run.id)
    # Each call asked for, the state (with the calls unanswered) checkpointed, then the wait.
    assert types[-4:] == [
        "tool_approval_requested",
        "tool_approval_requested",
        "checkpoint_created",
        "run_awaiting_approval",
    ]
    assert "tool_call_started" not in types
    events = [e async for e in agio.events(run.id, follow=False)]
    assert events[-1].checkpoint_id == run.last_checkpoint_id  # type: ignore[union-attr]
    assert events[-1].tool_call_ids == [p.tool_call_id for p in run.pending_approvals]  # type: ignore[union-attr]
    checkpoint = await agio.get_checkpoint(run.last_checkpoint_id or "")
    assert len(checkpoint.messages[-1]["tool_calls"]) == 2  # the calls are in the state
    # Durable and never taken for an orphan: no process drives it, and that is right.
    assert await agio.interrupt_orphans() == []
    assert (await agio.get_run(run.id)).status == "awaiting_approval"
    listed = await agio.list_runs(status="awaiting_approval")
    assert [r.id for r in listed.items] == [run.id]


async def test_decisions_one_by_one_then_the_calls_run_in_order(agio: Agio) -> None:
    run = await waiting_run(agio)
    first, second = (p.tool_call_id for p in run.pending_approvals)
    partly = await agio.decide(
        run.id, [ApprovalDecision(tool_call_id=second, decision="deny", reason="no products")]
    )
    assert partly.status == "awaiting_approval"
    assert [p.decision for p in partly.pending_approvals] == [None, "deny"]
    # The partial decision is stored, not kept in this process only.
    async with Agio(agio.settings) as other:
        stored = await other.get_run(run.id)
        assert [p.decision for p in stored.pending_approvals] == [None, "deny"]
        handle = await other.decide_and_continue(run.id, [approve(first)])
        assert handle is not None
        done = await handle.wait()
    assert done.status == "completed" and done.pending_approvals == []
    assert "2+3 = 5" in (done.response or "")
    assert "no products" in (done.response or "")  # the model saw the reason
    events = [e async for e in agio.events(run.id, follow=False)]
    resolved = [e for e in events if e.type == "tool_approval_resolved"]
    assert [(e.tool_call_id, e.decision, e.reason) for e in resolved] == [  # type: ignore[union-attr]
        (first, "approved", None),
        (second, "denied", "no products"),
    ]
    completed = [e for e in events if e.type == "tool_call_completed"]
    assert [(e.tool_call_id, e.is_error) for e in completed] == [(first, False), (second, True)]  # type: ignore[union-attr]
    assert "no products" in completed[1].result  # type: ignore[union-attr]


async def test_remember_makes_a_rule_for_the_session(agio: Agio) -> None:
    run = await waiting_run(agio)
    first = run.pending_approvals[0].tool_call_id
    handle = await agio.decide_and_continue(run.id, [approve(first)], remember=True)
    assert handle is not None, "remember decides the other calculator call too"
    done = await handle.wait()
    assert done.status == "completed" and done.approval_rules == {"calculator": "allow"}
    resolved = [e async for e in agio.events(run.id, follow=False)]
    assert all(
        e.remembered  # type: ignore[union-attr]
        for e in resolved
        if e.type == "tool_approval_resolved"
    )
    # A later run of the session does not ask; a new session does.
    later = await (await agio.start_chat("asker", "What is 7*6?", session_id=run.session_id)).wait()
    assert later.status == "completed" and "42" in (later.response or "")
    assert "tool_approval_requested" not in await types_of(agio, later.id)
    fresh = await waiting_run(agio, "What is 7*6?")
    assert fresh.approval_rules == {}


async def test_a_remembered_denial_holds_for_the_session(agio: Agio) -> None:
    run = await waiting_run(agio, "What is 1+1?")
    call = run.pending_approvals[0].tool_call_id
    decision = ApprovalDecision(tool_call_id=call, decision="deny", reason="not today")
    handle = await agio.decide_and_continue(run.id, [decision], remember=True)
    assert handle is not None
    await handle.wait()
    later = await (await agio.start_chat("asker", "What is 2+2?", session_id=run.session_id)).wait()
    assert later.status == "completed"
    results = [e async for e in agio.events(later.id, follow=False)]
    completed = [e for e in results if e.type == "tool_call_completed"]
    assert completed and completed[0].is_error  # type: ignore[union-attr]


async def test_bad_decisions_are_refused_and_change_nothing(agio: Agio) -> None:
    run = await waiting_run(agio)
    with pytest.raises(InvalidInputError, match="call_nope"):
        await agio.decide(run.id, [approve("call_nope")])
    with pytest.raises(ValueError):
        await agio.decide(run.id, [{"tool_call_id": "x", "decision": "maybe"}])  # type: ignore[list-item]
    assert all(p.decision is None for p in (await agio.get_run(run.id)).pending_approvals)
    other = await (await agio.start_chat("assistant", "hello")).wait()
    with pytest.raises(ConflictError, match="no tool call waits"):
        await agio.decide(other.id, [approve("call_1")])
    with pytest.raises(ConflictError, match="awaiting approval"):
        await agio.resume_run(run.id)
    with pytest.raises(ConflictError, match="awaiting approval"):
        await agio.start_chat("asker", "hi", session_id=run.session_id)
    with pytest.raises(ConflictError):
        await agio.pause_run(run.id)


async def test_cancel_a_waiting_run(agio: Agio) -> None:
    run = await waiting_run(agio)
    cancelled = await agio.cancel_run(run.id, reason="changed my mind")
    assert cancelled.status == "cancelled" and cancelled.pending_approvals == []
    types = await types_of(agio, run.id)
    assert types[-2:] == ["run_awaiting_approval", "run_cancelled"]
    with pytest.raises(ConflictError):
        await agio.decide(run.id, [approve(run.pending_approvals[0].tool_call_id)])


async def test_approve_racing_cancel_has_one_winner_and_the_log_agrees(
    settings: Settings, agio: Agio
) -> None:
    async def cancel_after(rival: Agio, run_id: str, delay: float) -> Run:
        await asyncio.sleep(delay)
        return await rival.cancel_run(run_id, reason="race")

    # The cancel lands before the decision, while it is written, and while the tool runs.
    for attempt in range(8):
        run = await waiting_run(agio, "What is 9+9?")
        call = run.pending_approvals[0].tool_call_id
        async with Agio(settings) as rival:  # another facade: its own view, one store
            outcomes = await asyncio.gather(
                agio.decide_and_continue(run.id, [approve(call)]),
                cancel_after(rival, run.id, attempt * 0.004),
                return_exceptions=True,
            )
            handle = outcomes[0]
            if not isinstance(handle, BaseException) and handle is not None:
                await handle.wait()
            final = await agio.get_run(run.id)
        events = [e async for e in agio.events(run.id, follow=False)]
        ends = [e.type for e in events if e.type in {"run_completed", "run_cancelled"}]
        assert len(ends) == 1, ends
        assert final.status == ends[0].removeprefix("run_"), (final.status, ends)
        if final.status == "completed":
            assert not isinstance(outcomes[0], BaseException)
        else:
            # The decision lost (refused) or won and was then cancelled while it ran.
            assert isinstance(outcomes[0], ConflictError) or outcomes[0] is not None
        seqs = [e.seq for e in events]
        assert seqs == list(range(1, len(seqs) + 1))


async def test_each_step_asks_again_and_deny_beats_ask_without_asking(
    settings: Settings,
) -> None:
    stepper = {
        **ASKING,
        "id": "stepper",
        "model_params": {"delay_ms": 0, "parallel_tool_calls": False},
    }
    # The exact name beats the glob: calculator is denied at once, without asking.
    strict = {**ASKING, "id": "strict", "approval": {"calc*": "ask", "calculator": "deny"}}
    async with Agio(settings) as agio:
        await agio.create_agent(stepper)
        await agio.create_agent(strict)
        run = await (await agio.start_chat("stepper", "What is 1+1, 2+2?")).wait()
        for expected in ("1+1", "2+2"):
            assert run.status == "awaiting_approval"
            (pending,) = run.pending_approvals
            assert expected in pending.arguments
            handle = await agio.decide_and_continue(run.id, [approve(pending.tool_call_id)])
            assert handle is not None
            run = await handle.wait()
        assert run.status == "completed" and "2+2 = 4" in (run.response or "")

        run = await (await agio.start_chat("strict", "What is 1+1?")).wait()
        assert run.status == "completed"
        events = [e async for e in agio.events(run.id, follow=False)]
        assert "tool_approval_requested" not in [e.type for e in events]
        assert any(e.type == "tool_call_completed" and e.is_error for e in events)  # type: ignore[union-attr]


async def test_a_pause_between_approved_calls_keeps_the_decisions(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "slow_calc.py"
    module.write_text(
        "import asyncio\n\n"
        "async def calculator(expression: str) -> str:\n"
        '    """Adds or multiplies two numbers, slowly."""\n'
        "    await asyncio.sleep(0.4)\n"
        "    a, op, b = expression.partition('+') if '+' in expression else "
        "expression.partition('*')\n"
        "    return str(int(a) + int(b) if op == '+' else int(a) * int(b))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = {**ASKING, "id": "slow-asker", "tools": ["slow_calc:calculator"]}
    async with Agio(settings) as agio:
        await agio.create_agent(agent)
        run = await (await agio.start_chat("slow-asker", TWO_SUMS)).wait()
        assert run.status == "awaiting_approval"
        decisions = [approve(p.tool_call_id) for p in run.pending_approvals]
        handle = await agio.decide_and_continue(run.id, decisions)
        assert handle is not None
        async for event in agio.events(run.id, after_seq=handle.first_seq - 1):
            if event.type == "tool_call_started":
                break
        paused = await agio.pause_run(run.id, wait=5)
        # The first call finished; the second has not run, and its approval is kept.
        assert paused.status == "paused"
        second = run.pending_approvals[1].tool_call_id
        assert (second, "approve") in [
            (p.tool_call_id, p.decision) for p in paused.pending_approvals
        ]
        resumed = await agio.resume_run(run.id)
        done = await resumed.wait()
        assert done.status == "completed" and done.pending_approvals == []
        assert "2+3 = 5" in (done.response or "") and "4*5 = 20" in (done.response or "")
        later = [e.type async for e in agio.events(run.id, after_seq=resumed.first_seq - 1)]
        assert "tool_approval_requested" not in later and later.count("tool_call_completed") == 1
