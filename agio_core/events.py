"""Run events (SPEC §2, §3): the same flat objects on SSE, in `--events` NDJSON and in the store.

Every event is `{seq, type, run_id, ts, ...fields}`: one model per `type`, the fields of that
type beside the envelope. `Event` is the union of them all, discriminated on `type`, and
`parse_event` is how every reader (stores, the remote client, tests) turns JSON back into one.
Match on the classes (`case ContentDelta(content=text):`); `isinstance(x, BaseEvent)` tells
whether `x` is an event at all (`Event`, a union, cannot be used with `isinstance`).

Events are emitted by the run's owner through its `EventLog` (`agio_core._engine`):

    await log.emit(ContentDelta(**log.envelope(), content="Hi", step=1))
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias, TypedDict, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._time import utcnow
from .runs import RunError, RunMetrics


class Envelope(TypedDict):
    """What numbers and dates an event within its run: given by the run's event log."""

    seq: int
    run_id: str
    ts: datetime  # given, not left to `default_factory`: that costs pydantic twice as much


class _cached(cached_property):
    """`cached_property` without the lock Python 3.11 takes on every first access (3.12
    dropped it): an event's JSON is computed once per event, by whichever reader asks first,
    and a duplicate computation in a race would give the same bytes."""

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.attrname] = self.func(instance)
        return value


class BaseEvent(BaseModel):
    """The envelope every event carries; subclasses add `type` and their fields."""

    # Unknown fields are ignored, not refused: a reader older than the writer (a CLI against
    # a newer server) still reads the events it knows.
    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        json_schema_serialization_defaults_required=True,
        ignored_types=(_cached,),
    )

    seq: int = Field(description="Monotonic per run; the SSE `id`.")
    type: str
    run_id: str
    ts: datetime = Field(default_factory=utcnow)

    @_cached
    def json_bytes(self) -> bytes:
        # Serialised once, though written to the store and sent to every reader.
        return self.__pydantic_serializer__.to_json(self)

    @_cached
    def json_text(self) -> str:
        return self.json_bytes.decode()

    def to_json(self) -> str:
        return self.json_text


class RunStarted(BaseEvent):
    type: Literal["run_started"] = "run_started"
    agent_id: str
    session_id: str
    user_id: str | None = None
    parent_run_id: str | None = None
    from_checkpoint_id: str | None = None


class StepStarted(BaseEvent):
    type: Literal["step_started"] = "step_started"
    step: int


class ContentDelta(BaseEvent):
    type: Literal["content_delta"] = "content_delta"
    content: str
    step: int

    @classmethod
    def trusted(cls, envelope: Envelope, content: str, step: int) -> ContentDelta:
        """The event of one streamed token, built without validating what the engine already
        typed: the envelope from its event log, the text a provider gave as `str`.

        One per token, so its cost is per token (bench/serve_capacity.py): validation is about
        three times this, and this shares one `model_fields_set` (a set per event was ~0.5 KB
        and one more object for the garbage collector to walk, for each token a live run keeps
        in memory). The same event as `ContentDelta(**envelope, content=..., step=...)`: equal
        to it, the same JSON (tests/core/test_events.py). Anything but a plain `str` and `int`
        (a subclass, a wrong type from a provider) goes through validation as before.
        """
        if type(content) is not str or type(step) is not int:
            return cls(**envelope, content=content, step=step)
        event = object.__new__(cls)
        # What `model_construct` sets (it is ~5x slower: it looks for defaults and aliases).
        _set_slot(
            event,
            "__dict__",
            {
                "seq": envelope["seq"],
                "type": "content_delta",
                "run_id": envelope["run_id"],
                "ts": envelope["ts"],
                "content": content,
                "step": step,
            },
        )
        # Shared, which is safe as events are frozen: pydantic only adds to this set on an
        # assignment (refused here) and copies it before updating it in `model_copy`.
        _set_slot(event, "__pydantic_fields_set__", _TRUSTED_DELTA_FIELDS)
        _set_slot(event, "__pydantic_extra__", None)
        _set_slot(event, "__pydantic_private__", None)
        return event


_set_slot = object.__setattr__  # pydantic's own way past a model's `__setattr__`
# What validation records as set for `ContentDelta(**envelope, content=..., step=...)`.
_TRUSTED_DELTA_FIELDS = {"seq", "run_id", "ts", "content", "step"}


class StepDiscarded(BaseEvent):
    """The step's streamed text so far is void (a pause cut it; it is redone on resume)."""

    type: Literal["step_discarded"] = "step_discarded"
    step: int
    reason: str


class _ToolCallAsked(BaseEvent):
    """A tool call the model asked for (not an event type itself)."""

    tool_call_id: str
    name: str
    arguments: str = Field(description="The arguments as the model wrote them (JSON text).")
    step: int


class ToolCallStarted(_ToolCallAsked):
    type: Literal["tool_call_started"] = "tool_call_started"


class ToolApprovalRequested(_ToolCallAsked):
    """The call waits for a person's decision (its tool's approval policy is `ask`)."""

    type: Literal["tool_approval_requested"] = "tool_approval_requested"


class ToolApprovalResolved(BaseEvent):
    type: Literal["tool_approval_resolved"] = "tool_approval_resolved"
    tool_call_id: str
    decision: Literal["approved", "denied"]
    reason: str | None = None
    remembered: bool = Field(default=False, description="Made a rule for the session.")


class ToolCallCompleted(BaseEvent):
    type: Literal["tool_call_completed"] = "tool_call_completed"
    tool_call_id: str
    name: str
    result: str
    is_error: bool
    duration_ms: int
    step: int


class CheckpointCreated(BaseEvent):
    type: Literal["checkpoint_created"] = "checkpoint_created"
    checkpoint_id: str
    step: int


class Usage(BaseEvent):
    """Token counts of one model call; `null` where the model server did not report one."""

    type: Literal["usage"] = "usage"
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    step: int


class RunAwaitingApproval(BaseEvent):
    type: Literal["run_awaiting_approval"] = "run_awaiting_approval"
    checkpoint_id: str
    tool_call_ids: list[str]


class RunPaused(BaseEvent):
    type: Literal["run_paused"] = "run_paused"
    checkpoint_id: str | None = None


class RunResumed(BaseEvent):
    type: Literal["run_resumed"] = "run_resumed"
    checkpoint_id: str | None = None


class RunCancelled(BaseEvent):
    type: Literal["run_cancelled"] = "run_cancelled"
    reason: str


class RunFailed(BaseEvent):
    type: Literal["run_failed"] = "run_failed"
    error: RunError


class RunCompleted(BaseEvent):
    type: Literal["run_completed"] = "run_completed"
    response: str
    finish_reason: str | None = Field(
        default=None, description="Why the model stopped (`stop`, `length`, …); null if unknown."
    )
    metrics: RunMetrics


Event: TypeAlias = Annotated[
    RunStarted
    | StepStarted
    | ContentDelta
    | StepDiscarded
    | ToolCallStarted
    | ToolApprovalRequested
    | ToolApprovalResolved
    | ToolCallCompleted
    | CheckpointCreated
    | Usage
    | RunAwaitingApproval
    | RunPaused
    | RunResumed
    | RunCancelled
    | RunFailed
    | RunCompleted,
    Field(discriminator="type"),
]
EVENT_CLASSES: tuple[type[BaseEvent], ...] = get_args(get_args(Event)[0])
EventType = Literal[
    "run_started",
    "step_started",
    "content_delta",
    "step_discarded",
    "tool_call_started",
    "tool_approval_requested",
    "tool_approval_resolved",
    "tool_call_completed",
    "checkpoint_created",
    "usage",
    "run_awaiting_approval",
    "run_paused",
    "run_resumed",
    "run_cancelled",
    "run_failed",
    "run_completed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# Logs written before events were flat nest the fields under a top-level `data` key. In JSON,
# `"data":` can only be a key (a quote inside a string is escaped): lines without it take the
# fast path; those with it the slow one, which is right for either shape.
_LEGACY_MARK = '"data":'
_LEGACY_MARK_BYTES = _LEGACY_MARK.encode()


def parse_event(text: str | bytes) -> Event:
    """The event in `text` (JSON), whichever shape it was written in.

    Raises `pydantic.ValidationError` for anything that is not a known event, an unknown
    `type` included; readers of stored logs skip such lines (see the stores).
    """
    legacy = _LEGACY_MARK_BYTES in text if isinstance(text, bytes) else _LEGACY_MARK in text
    if not legacy:
        return EVENT_ADAPTER.validate_json(text)
    try:
        value: Any = json.loads(text)
    except ValueError:  # not JSON, or not UTF-8: say so as pydantic does for the flat shape
        return EVENT_ADAPTER.validate_json(text)
    if isinstance(value, dict) and isinstance(value.get("data"), dict):
        # The envelope wins: old `run_started` data repeated `run_id`.
        value = {**value.pop("data"), **value}
    return EVENT_ADAPTER.validate_python(value)


def why_not_an_event(exc: ValidationError) -> str:
    """One short line saying why `parse_event` refused a text, for a reader's warning."""
    problem = exc.errors(include_url=False)[0]
    if problem["type"] == "union_tag_invalid":
        return f"unknown type {problem.get('ctx', {}).get('tag')!r}"
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]
