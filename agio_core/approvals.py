"""Tool approvals (SPEC §4, §8): the calls a run waits on, and the decisions people make.

A run whose model asks for a tool with policy `ask` stops `awaiting_approval` with those
calls in `Run.pending_approvals`. Decisions may come one by one, from any process; each is
stored on the run record at once (a compare-and-set, so concurrent deciders never lose one),
and the decision that completes the set also claims the run for the process that made it,
which continues the run (see `Agio.decide`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._time import utcnow
from .errors import InvalidInputError

if TYPE_CHECKING:
    from .runs import Run

Decision = Literal["approve", "deny"]
# What a remembered decision becomes for the rest of the session.
RULE_OF: dict[str, Literal["allow", "deny"]] = {"approve": "allow", "deny": "deny"}


class PendingApproval(BaseModel):
    """One tool call waiting for a person's decision (or decided, until the run goes on)."""

    tool_call_id: str
    name: str
    arguments: str = Field(description="The arguments as the model wrote them (JSON text).")
    step: int
    decision: Decision | None = None
    reason: str | None = None
    remembered: bool = Field(default=False, description="The decision became a session rule.")


# The fields of a PendingApproval that are the decision, not the call.
DECISION = {"decision", "reason", "remembered"}


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1, max_length=200)
    decision: Decision
    reason: str | None = Field(default=None, max_length=10_000)


def denial(call: PendingApproval) -> str:
    """The tool result of a denied call, as the model sees it."""
    why = f": {call.reason}" if call.reason else " (no reason given)"
    return f"Error: the user denied this call of {call.name!r}{why}"


def decisions_for(
    calls: Iterable[dict[str, Any]], recorded: Iterable[PendingApproval]
) -> list[PendingApproval]:
    """The recorded decisions that concern `calls` (a step's calls without a result yet)."""
    waiting = {call["id"] for call in calls}
    return [p for p in recorded if p.decision is not None and p.tool_call_id in waiting]


def calls_to_ask(
    calls: Iterable[dict[str, Any]],
    decided: Mapping[str, PendingApproval],
    policy_of: Callable[[str], str | None],
    step: int,
) -> list[PendingApproval]:
    """The calls (OpenAI `tool_calls` items) that need a decision before they run."""
    asked = []
    for call in calls:
        function = call.get("function", {})
        name = function.get("name", "")
        if call["id"] not in decided and policy_of(name) == "ask":
            asked.append(
                PendingApproval(
                    tool_call_id=call["id"],
                    name=name,
                    arguments=function.get("arguments") or "{}",
                    step=step,
                )
            )
    return asked


def resolution(call: PendingApproval) -> dict[str, Any]:
    """The fields of the `tool_approval_resolved` event for a decided call."""
    return {
        "tool_call_id": call.tool_call_id,
        "decision": "approved" if call.decision == "approve" else "denied",
        "reason": call.reason,
        "remembered": call.remembered,
    }


def undecided(pending: Iterable[PendingApproval]) -> list[PendingApproval]:
    return [p for p in pending if p.decision is None]


def apply_decisions(
    pending: list[PendingApproval],
    decisions: Iterable[ApprovalDecision],
    *,
    remember: bool,
    rules: Mapping[str, str],
) -> tuple[list[PendingApproval], dict[str, str]]:
    """The pending calls with `decisions` applied, and the session's rules after them.

    A decision for a call already decided replaces it (a person may change their mind until
    the run goes on). With `remember`, each decision becomes a rule for its tool, and the
    other undecided calls of that tool in this run are decided the same way.
    """
    by_id = {p.tool_call_id: p for p in pending}
    chosen: dict[str, ApprovalDecision] = {}
    for decision in decisions:
        if decision.tool_call_id not in by_id:
            known = ", ".join(by_id) or "none"
            raise InvalidInputError(
                f"tool_call_id: {decision.tool_call_id!r} is not pending on this run "
                f"(pending: {known})"
            )
        chosen[decision.tool_call_id] = decision
    # With `remember`, a decision stands for every undecided call of its tool.
    by_tool = {by_id[d.tool_call_id].name: d for d in chosen.values()} if remember else {}
    new_rules = dict(rules)
    new_rules.update({name: RULE_OF[d.decision] for name, d in by_tool.items()})
    updated = []
    for call in pending:
        made = chosen.get(call.tool_call_id)
        if made is None and call.decision is None:
            made = by_tool.get(call.name)
        if made is not None:
            call = call.model_copy(
                update={"decision": made.decision, "reason": made.reason, "remembered": remember}
            )
        updated.append(call)
    return updated, new_rules


def recording(
    decisions: list[ApprovalDecision], *, remember: bool, claim: dict[str, Any]
) -> Callable[[Run], dict[str, Any]]:
    """The change to a waiting run that stores `decisions` (for `Store.transition_run`); if
    they leave nothing undecided, it also applies `claim`, which makes the run `running`
    under the decider."""

    def change(current: Run) -> dict[str, Any]:
        pending, rules = apply_decisions(
            current.pending_approvals, decisions, remember=remember, rules=current.approval_rules
        )
        changes: dict[str, Any] = {
            "pending_approvals": pending,
            "approval_rules": rules,
            "updated_at": utcnow(),
        }
        return changes | claim if not undecided(pending) else changes

    return change
