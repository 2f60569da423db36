"""Run events (SPEC §3): the same objects on SSE, in `--events` NDJSON and in the store."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ._time import utcnow

EventType = Literal[
    "run_started",
    "step_started",
    "content_delta",
    "tool_call_started",
    "tool_call_completed",
    "checkpoint_created",
    "usage",
    "run_paused",
    "run_resumed",
    "run_cancelled",
    "run_failed",
    "run_completed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
TERMINAL_EVENTS = frozenset({"run_completed", "run_failed", "run_cancelled"})
# A paused run's stream ends too: nothing more happens until someone resumes it.
STREAM_END_EVENTS = TERMINAL_EVENTS | {"run_paused"}


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    type: EventType
    run_id: str
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)

    @cached_property
    def json_text(self) -> str:
        # Serialised once, though written to the store and sent to every reader.
        return self.model_dump_json()

    def to_json(self) -> str:
        return self.json_text
