"""Request and response bodies of the HTTP API (SPEC §5).

Core models (`Agent`, `Checkpoint`, `Event`, ...) are returned as they are; this module holds
only what the API adds: request bodies (unknown fields are a 422, never ignored) and the
public view of a run, which leaves out who drives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..agents import AgentSpec
from ..approvals import ApprovalDecision, PendingApproval
from ..attachments import Attachment
from ..checkpoints import Modifications
from ..errors import InvalidInputError
from ..ids import USER_ID_MAX, check_user_id
from ..runs import Run, RunError, RunMetrics, RunStatus

OnDisconnect = Literal["continue", "cancel"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in one line.")


class ValidationProblem(BaseModel):
    """One reason a request was invalid, as FastAPI reports it."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class InvalidOut(BaseModel):
    detail: str | list[ValidationProblem] = Field(
        description="What was wrong: one line, or one entry per invalid field."
    )


class HealthOut(BaseModel):
    status: Literal["healthy"] = "healthy"
    version: str
    timestamp: datetime


class AgentUpdate(AgentSpec):
    """An agent's complete new definition; `id` may be left out (it cannot change)."""

    id: str = ""


def _user_id(value: str | None) -> str | None:
    # As a validation error, so a bad user_id is the same 422 as any other bad field.
    try:
        return None if value is None else check_user_id(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message.removeprefix("user_id: ")) from None


UserId = Annotated[
    str | None,
    Field(
        max_length=USER_ID_MAX,
        description="Who the run is for, in your application's terms; stored on the run, "
        "sent in run_started, and a filter of GET /api/runs. One line, no control characters.",
    ),
    AfterValidator(_user_id),
]


class ChatRequest(_Request):
    agent_id: str = Field(default="assistant", description="The agent to talk to.")
    message: str = Field(description="The user's message.")
    stream: bool = Field(default=True, description="SSE of run events, else one JSON answer.")
    session_id: str | None = Field(
        default=None, description="Continue this conversation (a new one if it has no runs)."
    )
    user_id: UserId = None
    on_disconnect: OnDisconnect = Field(
        default="continue",
        description="(extension) What happens to the run when a streaming client goes away: "
        "it goes on (re-join it at /api/runs/{run_id}/events), or it is cancelled.",
    )


class ChatResponse(BaseModel):
    run_id: str
    response: str | None
    metrics: RunMetrics
    status: RunStatus


class RunStartRequest(_Request):
    agent_id: str = "assistant"
    message: str
    session_id: str | None = None
    user_id: UserId = None
    model: str | None = Field(default=None, description="Another model, for this run only.")
    system_prompt: str | None = Field(
        default=None, description="Another system prompt, for this run only."
    )
    model_params: dict[str, Any] | None = Field(
        default=None,
        description="Model parameters added to the agent's, for this run only; checked for "
        "the model's provider (an unknown key or a wrong type is a 422).",
    )
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=100, description="Text files and images."
    )


class RunOut(BaseModel):
    """A run as clients see it (the run's owner process and heartbeat are internal)."""

    id: str
    agent_id: str
    session_id: str
    user_id: str | None = None
    status: RunStatus
    input: str
    response: str | None = None
    finish_reason: str | None = None
    error: RunError | None = None
    metrics: RunMetrics
    parent_run_id: str | None = None
    from_checkpoint_id: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    checkpoint_count: int = 0
    last_checkpoint_id: str | None = None
    pending_approvals: list[PendingApproval] = Field(
        default_factory=list,
        description="(v2) The tool calls the run waits on (`awaiting_approval`), with the "
        "decisions made so far.",
    )
    approval_rules: dict[str, Literal["allow", "deny"]] = Field(
        default_factory=dict,
        description="(v2) Tool name -> policy, from decisions made with `remember`: they hold "
        "for the rest of the session.",
    )


class ApprovalsRequest(_Request):
    decisions: list[ApprovalDecision] = Field(min_length=1, max_length=1000)
    remember: bool = Field(
        default=False, description="Make each decision a rule for the rest of the session."
    )


class ResumedOut(RunOut):
    """A resumed run, and where this stretch of its event log starts."""

    first_seq: int = Field(
        description="The resumed stretch's events have seq >= first_seq (run_resumed first); "
        "follow them at /api/runs/{run_id}/events?after_seq=first_seq-1."
    )


class DecidedOut(RunOut):
    """The run after a decision, and where its continuation's events start if it goes on."""

    first_seq: int | None = Field(
        default=None,
        description="Set when the decision left no call undecided, so the run goes on: the "
        "continuation's events have seq >= first_seq (run_resumed first); follow them at "
        "/api/runs/{run_id}/events?after_seq=first_seq-1. Null while calls wait.",
    )


class StreamTokenOut(BaseModel):
    token: str = Field(description="Send as `?token=` on this run's events, nowhere else.")
    expires_at: datetime = Field(description="The token admits no new stream after this.")
    events_url: str = Field(description="The run's events URL with the token in it.")


class CancelRequest(_Request):
    reason: str = Field(default="cancelled by user", max_length=1000)


class LatestSessionOut(BaseModel):
    session_id: str | None = Field(description="The session of the newest run; null if none.")


class CheckpointCreate(_Request):
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)


class RestoreRequest(_Request):
    create_new_run: bool = Field(
        default=True, description="Continue in a new run; false rewinds the checkpoint's run."
    )
    modifications: Modifications | None = None
    stream: bool = Field(default=False, description="SSE of the continuation's events.")


class ForkRequest(_Request):
    modifications: Modifications | None = None
    stream: bool = Field(default=False, description="SSE of the new run's events.")


class ContinuationOut(BaseModel):
    """A run that goes on in the background from a checkpoint."""

    run_id: str
    first_seq: int = Field(
        description="The continuation's events have seq >= first_seq; follow them at "
        "/api/runs/{run_id}/events?after_seq=first_seq-1."
    )
    run: RunOut


def run_out(run: Run) -> RunOut:
    return RunOut.model_validate(run.model_dump())
