"""Tool approvals (SPEC §4, §8): the calls a run waits on, and the decisions people make.

A run whose model asks for a tool with policy `ask` stops `awaiting_approval` with those
calls in `Run.pending_approvals`. Decisions may come one by one, from any process; each is
stored on the run record at once (a compare-and-set, so concurrent deciders never lose one),
and the decision that completes the set also claims the run for the process that made it,
which continues the run (see `Agio.decide`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidInputError

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


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1, max_length=200)
    decision: Decision
    reason: str | None = Field(default=None, max_length=10_000)


def denial(call: PendingApproval) -> str:
    """The tool result of a denied call, as the model sees it."""
    why = f": {call.reason}" if call.reason else " (no reason given)"
    return f"Error: the user denied this call of {call.name!r}{why}"


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
