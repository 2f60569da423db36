"""One event of every SPEC §3 type, with awkward values, for round-trip tests."""

from __future__ import annotations

from datetime import UTC, datetime

from agio_core.events import (
    EVENT_CLASSES,
    CheckpointCreated,
    ContentDelta,
    Event,
    RunAwaitingApproval,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunStarted,
    StepDiscarded,
    StepStarted,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallCompleted,
    ToolCallStarted,
    Usage,
)
from agio_core.runs import RunError, RunMetrics

# Text that looks like the old nested shape, or like JSON, must stay text.
TRICKY = 'w «ü» 🚀 \n\t "data": {"content": 1} \\ \u2028'


def sample_events(run_id: str) -> list[Event]:
    ts = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    fields: list[Event] = [
        RunStarted(
            seq=1,
            run_id=run_id,
            ts=ts,
            agent_id="a",
            session_id="s",
            user_id="u-٣",
            parent_run_id=None,
            from_checkpoint_id="c-1",
        ),
        StepStarted(seq=2, run_id=run_id, ts=ts, step=1),
        ContentDelta(seq=3, run_id=run_id, ts=ts, content=TRICKY, step=1),
        StepDiscarded(seq=4, run_id=run_id, ts=ts, step=1, reason="paused"),
        ToolCallStarted(
            seq=5,
            run_id=run_id,
            ts=ts,
            tool_call_id="t1",
            name="shell",
            arguments='{"command": "echo \\"data\\": 1"}',
            step=1,
        ),
        ToolApprovalRequested(
            seq=6,
            run_id=run_id,
            ts=ts,
            tool_call_id="t1",
            name="shell",
            arguments="{}",
            step=1,
        ),
        ToolApprovalResolved(
            seq=7,
            run_id=run_id,
            ts=ts,
            tool_call_id="t1",
            decision="denied",
            reason=TRICKY,
            remembered=True,
        ),
        ToolCallCompleted(
            seq=8,
            run_id=run_id,
            ts=ts,
            tool_call_id="t1",
            name="shell",
            result=TRICKY,
            is_error=True,
            duration_ms=12,
            step=1,
        ),
        CheckpointCreated(seq=9, run_id=run_id, ts=ts, checkpoint_id="c-2", step=1),
        Usage(
            seq=10,
            run_id=run_id,
            ts=ts,
            prompt_tokens=None,
            completion_tokens=3,
            total_tokens=None,
            step=1,
        ),
        RunAwaitingApproval(
            seq=11, run_id=run_id, ts=ts, checkpoint_id="c-2", tool_call_ids=["t1", "t2"]
        ),
        RunPaused(seq=12, run_id=run_id, ts=ts, checkpoint_id="c-2"),
        RunResumed(seq=13, run_id=run_id, ts=ts, checkpoint_id=None),
        RunCancelled(seq=14, run_id=run_id, ts=ts, reason=TRICKY),
        RunFailed(seq=15, run_id=run_id, ts=ts, error=RunError(type="t", message=TRICKY)),
        RunCompleted(
            seq=16,
            run_id=run_id,
            ts=ts,
            response=TRICKY,
            finish_reason="length",
            metrics=RunMetrics(duration_ms=5, steps=1, total_tokens=3, first_token_ms=None),
        ),
    ]
    assert {type(e) for e in fields} == set(EVENT_CLASSES), "one sample of every event type"
    return fields
