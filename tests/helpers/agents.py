"""The offline test agents, as the bodies `create_agent` / `POST /api/agents` take."""

from __future__ import annotations

from typing import Any

# An offline agent that streams slowly enough to pause, cancel or leave mid-run.
SLOW_AGENT: dict[str, Any] = {
    "id": "slow",
    "name": "Slow",
    "model": "offline/demo",
    "model_params": {"delay_ms": 20},
    "tools": ["calculator"],
    "tags": ["test"],
}
# The offline model at full speed, for tests that only need a finished run.
QUICK_AGENT: dict[str, Any] = {
    "id": "quick",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["calculator"],
}
LONG_MESSAGE = "count to 400"  # 400 words at 20 ms: ~8 s unless stopped


def stepper_agent(
    agent_id: str = "stepper", *, delay_ms: int = 30, max_steps: int = 100
) -> dict[str, Any]:
    """One calculator call per step (no parallel calls), so a run has a safe point to pause
    at after every step of `sums_question`."""
    return {
        "id": agent_id,
        "model": "offline/demo",
        "model_params": {"delay_ms": delay_ms, "parallel_tool_calls": False},
        "tools": ["calculator"],
        "max_steps": max_steps,
    }


def sums_question(count: int) -> str:
    """'What is 1+1, 2+2, ...?': `count` calculator steps for the stepper."""
    return "What is " + ", ".join(f"{i}+{i}" for i in range(1, count + 1)) + "?"


def sums_answer(count: int) -> str:
    """The stepper's whole answer to `sums_question(count)`."""
    return ". ".join(f"{i}+{i} = {2 * i}" for i in range(1, count + 1)) + "."


STEPPER_AGENT = stepper_agent()  # ~1.5 s for STEPPER_QUESTION
STEPPER_QUESTION = sums_question(12)
STEPPER_ANSWER = sums_answer(12)
