"""Checkpoints: the complete state of a run after a step, and what can be done with them."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._time import utcnow
from .agents import check_json_params, format_validation_error
from .attachments import text_of
from .errors import InvalidInputError

CheckpointKind = Literal["auto", "manual", "fork"]
Message = dict[str, Any]


class AgentSnapshot(BaseModel):
    """What the model saw: the parts of the agent that shape a continuation."""

    agent_id: str
    model: str
    model_params: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str
    tools: list[str] = Field(default_factory=list)
    max_steps: int = 10
    # the folder file and shell tools work in; None: AGIO_HOME/workspaces/<agent_id>/
    workspace: str | None = None


class CheckpointRecord(BaseModel):
    """How a checkpoint is stored: only the messages that are new since `base_id`.

    The full history is `messages(base_id)[:base_len] + new_messages`, so a write at step
    1,000 costs what a write at step 1 costs. `base_id` is a storage detail and differs from
    `parent_checkpoint_id`, the lineage shown to users (they coincide inside one run).
    """

    id: str
    run_id: str
    step: int
    created_at: datetime = Field(default_factory=utcnow)
    kind: CheckpointKind = "auto"
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    agent: AgentSnapshot
    metrics: dict[str, Any] = Field(default_factory=dict)
    parent_checkpoint_id: str | None = None
    superseded: bool = False
    base_id: str | None = None
    base_len: int = 0
    new_messages: list[Message] = Field(default_factory=list)

    @property
    def message_count(self) -> int:
        return self.base_len + len(self.new_messages)


class CheckpointSummary(BaseModel):
    id: str
    run_id: str
    step: int
    created_at: datetime
    kind: CheckpointKind
    description: str
    tags: list[str]
    parent_checkpoint_id: str | None
    superseded: bool
    message_count: int
    total_tokens: int | None  # None: the model server did not report every count

    @classmethod
    def of(cls, record: CheckpointRecord) -> CheckpointSummary:
        return cls(
            **record.model_dump(include=set(cls.model_fields) - {"message_count", "total_tokens"}),
            message_count=record.message_count,
            total_tokens=record.metrics.get("total_tokens", 0),
        )


class Checkpoint(CheckpointSummary):
    messages: list[Message]
    agent: AgentSnapshot
    metrics: dict[str, Any]


class Modifications(BaseModel):
    """What may change when continuing from a checkpoint (SPEC §4). Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    modified_query: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    model_params: dict[str, Any] | None = None
    max_steps: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("model_params")
    @classmethod
    def _json_params(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_json_params(value)

    @classmethod
    def parse(cls, data: Any) -> Modifications:
        if data is None:
            return cls()
        if isinstance(data, Modifications):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInputError(format_validation_error(exc, "modifications")) from None

    def apply(
        self, messages: list[Message], agent: AgentSnapshot
    ) -> tuple[list[Message], AgentSnapshot]:
        messages = [dict(m) for m in messages]
        if self.system_prompt is not None:
            if messages and messages[0].get("role") == "system":
                messages[0]["content"] = self.system_prompt
            else:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
        if self.modified_query is not None:
            last_user = max(
                (i for i, m in enumerate(messages) if m.get("role") == "user"), default=None
            )
            if last_user is None:
                raise InvalidInputError("modified_query: the checkpoint has no user message")
            # The question changed, so everything the agent did after it no longer applies.
            messages = [*messages[:last_user], {"role": "user", "content": self.modified_query}]
        changes = self.model_dump(
            exclude_none=True, include={"system_prompt", "model", "model_params", "max_steps"}
        )
        return messages, agent.model_copy(update=changes)


class TreeNode(BaseModel):
    """A run in the fork tree, with the runs that continued from its checkpoints."""

    run_id: str
    status: str
    input: str
    from_checkpoint_id: str | None = None
    children: list[TreeNode] = Field(default_factory=list)


class MessageDiff(BaseModel):
    a: str
    b: str
    common_prefix: int
    only_in_a: list[Message]
    only_in_b: list[Message]
    unified: str


def common_prefix(a: list[Message], b: list[Message]) -> int:
    """How many leading messages `a` and `b` share."""
    common = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        common += 1
    return common


def diff_messages(a_id: str, a: list[Message], b_id: str, b: list[Message]) -> MessageDiff:
    common = common_prefix(a, b)

    def lines(messages: list[Message]) -> list[str]:
        """One line per message, and one per tool call, as a person reads them."""
        out = []
        for m in messages:
            role = m.get("role")
            text = " ".join(text_of(m.get("content")).splitlines())
            if role == "tool":
                out.append(f"tool {m.get('tool_call_id', '')}: {text}")
                continue
            if text or not m.get("tool_calls"):
                out.append(f"{role}: {text}")
            for call in m.get("tool_calls") or []:
                function = call.get("function") or {}
                name, arguments = function.get("name", "?"), function.get("arguments") or ""
                out.append(f"{role} calls {name}({arguments}) [{call.get('id', '')}]")
        return out

    unified = "\n".join(
        difflib.unified_diff(lines(a), lines(b), fromfile=a_id, tofile=b_id, lineterm="")
    )
    return MessageDiff(
        a=a_id,
        b=b_id,
        common_prefix=common,
        only_in_a=a[common:],
        only_in_b=b[common:],
        unified=unified,
    )
