"""Runs: one user message to one agent and everything the agent does until it answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ._time import utcnow
from .approvals import PendingApproval

RunStatus = Literal[
    "running", "paused", "awaiting_approval", "completed", "failed", "cancelled", "interrupted"
]
RUN_STATUSES: tuple[RunStatus, ...] = (
    "running",
    "paused",
    "awaiting_approval",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
RESUMABLE: frozenset[str] = frozenset({"paused", "interrupted"})
# What can be deleted: not `running` (its owner writes it), nor a run waiting for approval.
DELETABLE: frozenset[str] = FINISHED | RESUMABLE
# Stopped but not finished: nobody drives the run until someone resumes it or decides.
WAITING: frozenset[str] = RESUMABLE | {"awaiting_approval"}


class RunMetrics(BaseModel):
    duration_ms: int = 0
    steps: int = 0
    tool_calls: int = 0
    # `None` once a step's count is unknown (the model server did not report it): a sum
    # with a missing part is not a count, and 0 would be a made-up one (SPEC §3).
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    total_tokens: int | None = 0
    first_token_ms: int | None = None

    def add_usage(
        self, prompt_tokens: int | None, completion_tokens: int | None, total_tokens: int | None
    ) -> None:
        self.prompt_tokens = _plus(self.prompt_tokens, prompt_tokens)
        self.completion_tokens = _plus(self.completion_tokens, completion_tokens)
        self.total_tokens = _plus(self.total_tokens, total_tokens)


def _plus(known: int | None, more: int | None) -> int | None:
    return None if known is None or more is None else known + more


class RunError(BaseModel):
    type: str
    message: str


class Run(BaseModel):
    id: str
    agent_id: str
    session_id: str
    # Who the run is for, as the calling application names them (SPEC §2); agio only stores
    # it and filters by it.
    user_id: str | None = None
    status: RunStatus = "running"
    input: str
    response: str | None = None
    # Why the model stopped its final answer ("stop", "length" when max_tokens cut it, ...).
    finish_reason: str | None = None
    error: RunError | None = None
    metrics: RunMetrics = Field(default_factory=RunMetrics)
    parent_run_id: str | None = None
    from_checkpoint_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # Which process drives the run and when it last said so; how dead owners are found.
    owner: str | None = None
    heartbeat_at: datetime | None = None
    checkpoint_count: int = 0
    last_checkpoint_id: str | None = None
    # The tool calls a run `awaiting_approval` waits on, with the decisions made so far.
    pending_approvals: list[PendingApproval] = Field(default_factory=list)
    # Decisions made with `remember`: tool name -> policy, for the rest of the session (each
    # new run of the session starts with its previous run's rules).
    approval_rules: dict[str, Literal["allow", "deny"]] = Field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"owner", "heartbeat_at"})


class ControlRequest(BaseModel):
    """A pause or cancel asked for by any process; the run's owner acts on it."""

    action: Literal["pause", "cancel"]
    reason: str = ""
    requested_at: datetime = Field(default_factory=utcnow)
    requested_by: str = ""
