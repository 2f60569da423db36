"""A step's tool calls: which are still to make, the approval gate before them, making them."""

from __future__ import annotations

import time
from typing import Any

from ._ending import Ending
from .approvals import DECISION, calls_to_ask, decisions_for, denial, resolution
from .checkpoints import Message
from .events import (
    RunAwaitingApproval,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallCompleted,
    ToolCallStarted,
)
from .tools import Policy


def pending_tool_calls(messages: list[Message]) -> list[dict[str, Any]]:
    """Tool calls of the last assistant message that have no result yet."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") == "assistant":
            answered = {m.get("tool_call_id") for m in messages[position + 1 :]}
            return [c for c in message.get("tool_calls") or [] if c["id"] not in answered]
        if message.get("role") != "tool":
            return []
    return []


class ToolCalls(Ending):
    """The tool calls of a step, in order, each after the decision its policy asks for."""

    def _policy_of(self, name: str) -> Policy | None:
        """The policy for calling `name` in this run (None: no such tool): the agent's,
        unless a decision remembered in this session turned an `ask` into a rule."""
        policy = self.toolbox.policies.get(name)
        if policy == "ask":
            return self.run.approval_rules.get(name, policy)
        return policy

    async def _ask_for_approval(self, pending: list[dict[str, Any]]) -> bool:
        """Stop the run `awaiting_approval` if calls of this step need a person's decision
        first (True); otherwise take the decisions made (if the run goes on after them) and
        return False, so the calls run in order."""
        # Decisions stay on the run record until the step's calls are done: a pause (or a
        # crash) between two of them must not lose the decisions of the rest.
        kept = decisions_for(pending, self.run.pending_approvals)
        for decided in kept:
            if decided.tool_call_id in self.decisions:
                continue
            self.decisions[decided.tool_call_id] = decided
            await self.log.emit(ToolApprovalResolved(**self.log.envelope(), **resolution(decided)))
        self.run.pending_approvals = kept
        asked = calls_to_ask(pending, self.decisions, self._policy_of, self.step)
        if not asked:
            return False
        for call in asked:
            await self.log.emit(
                ToolApprovalRequested(**self.log.envelope(), **call.model_dump(exclude=DECISION))
            )
        self.run.pending_approvals = [*kept, *asked]
        await self._end_with(self._record_awaiting([call.tool_call_id for call in asked]))
        return True

    async def _record_awaiting(self, tool_call_ids: list[str]) -> None:
        await self._settle("awaiting_approval", description="awaiting approval")
        await self.log.emit(
            RunAwaitingApproval(
                **self.log.envelope(),
                checkpoint_id=self.run.last_checkpoint_id or "",
                tool_call_ids=tool_call_ids,
            )
        )
        await self._sync_events()

    async def _call_tool(self, call: dict[str, Any]) -> None:
        function = call.get("function", {})
        name, arguments = function.get("name", ""), function.get("arguments") or "{}"
        await self.log.emit(
            ToolCallStarted(
                **self.log.envelope(),
                tool_call_id=call["id"],
                name=name,
                arguments=arguments,
                step=self.step,
            )
        )
        started = time.monotonic()
        tool = self.toolbox.tools.get(name)
        policy = self._policy_of(name)
        decided = self.decisions.get(call["id"])
        if tool is None:
            content, is_error = self.toolbox.missing(name), True
        elif policy == "deny":
            content, is_error = f"{name!r} is denied by this agent's approval policy", True
        elif decided is not None and decided.decision == "deny":
            content, is_error = denial(decided), True
        else:
            result = await tool.call(arguments, self.context)
            content, is_error = result.content, result.is_error
        duration_ms = int((time.monotonic() - started) * 1000)
        self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        self.run.metrics.tool_calls += 1
        await self.log.emit(
            ToolCallCompleted(
                **self.log.envelope(),
                tool_call_id=call["id"],
                name=name,
                result=content,
                is_error=is_error,
                duration_ms=duration_ms,
                step=self.step,
            )
        )
