"""`offline/demo`: the embedded model that needs no key and no network.

It is deterministic and simple on purpose: it streams word by word (`model_params.delay_ms`,
default 20 ms, so pause and cancel can be tried by hand), calls `calculator` for arithmetic,
`current_time` for time questions and any tool for `call TOOL {json arguments}`, counts
(`count to 50`; at most to 100,000, and it says so when asked for more) for long streams,
and otherwise answers from the conversation while saying that it is the offline model. Like
OpenAI's models it calls tools in parallel unless `model_params.parallel_tool_calls` is
false; then it takes one expression per step, which makes long multi-step runs easy to
produce.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator
from typing import Any

from .._ticks import ticks
from ..attachments import text_of
from ..settings import Settings
from ._base import Message, ModelRequest, ModelResponse, StreamPart, TextDelta, ToolCall, Usage

DEFAULT_DELAY_MS = 20
TICK_S = 0.001  # the pacing's resolution: a word comes at most this much after its time
MAX_COUNT = 100_000
_EXPRESSION = re.compile(
    r"(?:sqrt|abs|round)?\(?-?\d[\d.]*(?:\s*(?:\*\*|[-+*/^×÷%])\s*\(?-?(?:sqrt\()?\d[\d.]*\)*)+\)*"
)
_TIME_QUESTION = re.compile(r"\b(time|date|today|what day)\b", re.IGNORECASE)
_COUNT = re.compile(r"\bcount (?:to|up to) (\d+)\b", re.IGNORECASE)
_NAME_STATEMENT = re.compile(r"\bmy name is ([A-Z][\w-]*)", re.IGNORECASE)
_NAME_QUESTION = re.compile(r"\bwhat(?:'s| is) my name\b", re.IGNORECASE)
# `call TOOL {json arguments}`: exactly that tool call, so any tool can be tried without a key
_CALL = re.compile(r"^\s*call\s+([a-zA-Z0-9_:.-]{1,200})\s*(.*?)\s*$", re.DOTALL | re.IGNORECASE)


def _words(text: str) -> int:
    return len(text.split())


def _text_of(message: Message) -> str:
    return text_of(message.get("content"))


def _images_in(message: Message) -> int:
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


class OfflineProvider:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    async def aclose(self) -> None:
        pass  # nothing is kept between requests

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamPart]:
        delay = float(request.params.get("delay_ms", DEFAULT_DELAY_MS)) / 1000
        tool_names = {t["function"]["name"] for t in request.tools}
        parallel = bool(request.params.get("parallel_tool_calls", True))
        content, calls = self._decide(request.messages, tool_names, parallel)
        if calls and delay > 0:
            await asyncio.sleep(delay)  # deciding on a tool call takes a moment too
        # Paced words wait for shared ticks: a timer per word is most of the event loop's work
        # for thousands of paced streams.
        pacer = ticks(TICK_S)
        due = pacer.loop.time()
        for word in re.findall(r"\S+\s*", content):
            if delay > 0:
                # Word k is due at start + k·delay: a word that came late (a busy loop) does
                # not push back all the words after it.
                due += delay
                await pacer.until(due)
            else:
                # At full speed still one loop turn a word, as a network stream gives:
                # readers, the event writer and a cancel get their turn while it streams.
                await asyncio.sleep(0)
            yield TextDelta(word)
        await asyncio.sleep(0)  # stay cancellable even with nothing to say
        prompt_tokens = sum(_words(_text_of(m)) for m in request.messages)
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=max(_words(content), 1))
        finish_reason = "tool_calls" if calls else "stop"
        yield ModelResponse(content, calls, usage, finish_reason)

    def _decide(
        self, messages: list[Message], tool_names: set[str], parallel: bool
    ) -> tuple[str, list[ToolCall]]:
        asked_at = max(
            (i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages)
        )
        question = _text_of(messages[asked_at]) if asked_at < len(messages) else ""
        since_question = messages[asked_at + 1 :]
        call_id = f"call_{len(messages)}"
        if since_question and since_question[-1].get("role") == "tool" and _CALL.match(question):
            return self._summarise_tool_results(messages, since_question), []
        asked = _CALL.match(question)
        if asked and (asked.group(1) in tool_names or asked.group(2).startswith("{")):
            return self._call(asked.group(1), asked.group(2), tool_names, call_id)
        expressions = [e.strip() for e in _EXPRESSION.findall(question)]
        done = sum(1 for m in since_question if m.get("role") == "tool")
        if since_question and since_question[-1].get("role") == "tool":
            if parallel or done >= len(expressions):
                return self._summarise_tool_results(messages, since_question), []
            expression = expressions[done]
            return "", [ToolCall(call_id, "calculator", json.dumps({"expression": expression}))]

        if expressions:
            if not parallel:
                expressions = expressions[:1]
            if "calculator" not in tool_names:
                return (
                    "That looks like arithmetic, but this agent has no `calculator` tool, "
                    "and the offline model does not guess at numbers.",
                    [],
                )
            return "", [
                ToolCall(f"{call_id}_{i}", "calculator", json.dumps({"expression": e}))
                for i, e in enumerate(expressions)
            ]
        if _TIME_QUESTION.search(question) and "current_time" in tool_names:
            return "", [ToolCall(f"{call_id}_0", "current_time", json.dumps({"timezone": "UTC"}))]
        if count := _COUNT.search(question):
            wanted = int(count.group(1))
            n = min(wanted, MAX_COUNT)
            answer = " ".join(str(i) for i in range(1, n + 1)) + "."
            if wanted > n:  # said in the answer itself: a silent cap looks like a lost stream
                answer += (
                    f" (The offline model counts to at most {MAX_COUNT:,}: "
                    f"it stopped there instead of at {wanted:,}.)"
                )
            return answer, []
        if _NAME_QUESTION.search(question):
            for message in reversed(messages[:-1]):
                if message.get("role") == "user" and (
                    m := _NAME_STATEMENT.search(_text_of(message))
                ):
                    return f"Your name is {m.group(1)}.", []
            return "You have not told me your name yet.", []
        if images := _images_in(messages[asked_at]) if asked_at < len(messages) else 0:
            seen = "an image" if images == 1 else f"{images} images"
            return (
                f"You attached {seen}, but I am agio's offline demo model and cannot see "
                "images; use a model that takes images (e.g. openai/gpt-4o-mini). "
                + self._default_answer(messages, question)
            ), []
        return self._default_answer(messages, question), []

    @staticmethod
    def _call(
        name: str, arguments: str, tool_names: set[str], call_id: str
    ) -> tuple[str, list[ToolCall]]:
        if name not in tool_names:
            offered = ", ".join(sorted(tool_names)) or "none"
            return f"This agent has no tool `{name}` (its tools: {offered}).", []
        # The arguments go as typed: a malformed object is the tool's to report.
        return "", [ToolCall(f"{call_id}_0", name, arguments or "{}")]

    @staticmethod
    def _summarise_tool_results(messages: list[Message], since_question: list[Message]) -> str:
        calls: dict[str, dict[str, Any]] = {}
        for message in messages:
            for call in message.get("tool_calls") or []:
                calls[call["id"]] = call["function"]
        lines = []
        for message in since_question:
            if message.get("role") != "tool":
                continue
            call = calls.get(message.get("tool_call_id", ""), {"name": "tool", "arguments": "{}"})
            result = _text_of(message)
            if result.startswith(("invalid", "ValueError", "Error")) or "Error:" in result:
                lines.append(f"The {call['name']} tool reported an error: {result}")
            elif call["name"] == "calculator":
                try:
                    expression = json.loads(call.get("arguments") or "{}").get("expression", "")
                except (ValueError, AttributeError):
                    expression = call.get("arguments", "")
                lines.append(f"{expression} = {result}")
            elif call["name"] == "current_time":
                lines.append(f"The current time is {result}")
            else:
                lines.append(f"{call['name']} returned: {result}")
        return ". ".join(lines).rstrip(".") + "."

    @staticmethod
    def _default_answer(messages: list[Message], question: str) -> str:
        system = next((_text_of(m) for m in messages if m.get("role") == "system"), "")
        turns = sum(1 for m in messages if m.get("role") == "user")
        quoted = question.strip().replace("\n", " ")
        if len(quoted) > 200:
            quoted = quoted[:200] + "…"
        parts = [
            "I am agio's offline demo model: I run without a network or an API key, "
            "so my answers are simple and deterministic.",
            f'You said: "{quoted}".' if quoted else "You sent an empty message.",
        ]
        if turns > 1:
            parts.append(f"This is message {turns} of our conversation.")
        if system:
            parts.append(f'My instructions are: "{system[:120]}".')
        parts.append(
            "Try arithmetic (What is 12*7?), the time, or 'count to 20'; "
            "set `AGIO_DEFAULT_MODEL=openai/<model>` for a real model."
        )
        return " ".join(parts)
