"""The conversation: one `RunView` per run, each rendered live from the run's events."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from agio_core import (
    ContentDelta,
    Event,
    RunAwaitingApproval,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    StepDiscarded,
    StepStarted,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallCompleted,
    ToolCallStarted,
)

from ..._wording import finish_note
from ..format import checkpoint_label, clip, compact_json, duration
from .answer import AnswerBlock

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    return [match.group(2) for match in _FENCE.finditer(markdown)]


class Conversation(VerticalScroll):
    """The scrolling transcript; it follows the newest output unless the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()


class MessageAction(Message):
    """The user asked for something on a focused message (copy, edit, regenerate…)."""

    def __init__(self, action: str, widget: Widget) -> None:
        super().__init__()
        self.action, self.widget = action, widget

    @property
    def run_view(self) -> RunView | None:
        for node in self.widget.ancestors_with_self:
            if isinstance(node, RunView):
                return node
        return None


class _Focusable(Widget):
    """Tab (or a click) focuses a message; its keys then act on it, up in the chat screen."""

    can_focus = True

    def action_act(self, action: str) -> None:
        self.post_message(MessageAction(action, self))


class UserMessage(_Focusable, Static):
    """What the user sent (or queued, until the busy run lets it go)."""

    BINDINGS = [
        Binding("c", "act('copy')", "Copy"),
        Binding("e", "act('edit')", "Edit & resend"),
    ]

    def __init__(self, text: str, *, queued: bool = False) -> None:
        super().__init__(Text(text), classes="user-message")
        self.text = text
        self.set_queued(queued)

    def set_queued(self, queued: bool) -> None:
        self.set_class(queued, "queued")
        self.border_title = "You · queued until the current run ends" if queued else "You"


class Answer(_Focusable, AnswerBlock):
    """An answer in the transcript: focus it to copy it, copy its code or regenerate it."""

    BINDINGS = [
        Binding("c", "act('copy')", "Copy"),
        Binding("k", "act('copy_code')", "Copy code"),
        Binding("g", "act('regenerate')", "Regenerate"),
    ]

    def __init__(self, *, step: int | None = None) -> None:
        super().__init__(step=step)
        self.code_copied = 0  # how many code blocks, from the last, were copied in a row

    def mark(self, kind: str, title: str) -> None:
        self.add_class(kind)
        self.border_title = title


class ToolCallView(Static):
    """A tool call: name and arguments when it starts; result and duration when it ends."""

    def __init__(self, name: str, arguments: str) -> None:
        super().__init__(classes="tool-call running")
        self.tool_name = name
        self.arguments = compact_json(arguments)
        self.result: str | None = None
        self.update(self._render_call("⚙", "running…", "italic"))

    def awaiting(self) -> None:
        self.set_class(True, "awaiting")
        self.update(self._render_call("?", "awaiting your approval", "bold yellow"))

    def resolved(self, decision: str, reason: str | None) -> None:
        self.set_class(False, "awaiting")
        if decision == "denied":
            self.update(self._render_call("✗", f"denied: {reason or 'no reason'}", "red"))
        else:
            self.update(self._render_call("⚙", "approved, running…", "italic"))

    def complete(self, result: str, *, is_error: bool, duration_ms: int) -> None:
        self.result = result
        self.set_class(False, "running")
        self.set_class(is_error, "error")
        icon, style = ("✗", "red") if is_error else ("✓", "green")
        self.update(
            self._render_call(icon, f"→ {clip(result, 200)}  ({duration(duration_ms)})", style)
        )

    def _render_call(self, icon: str, outcome: str, style: str) -> Text:
        return Text.assemble(
            (f"{icon} ", style),
            (self.tool_name, "bold"),
            f"({clip(self.arguments, 120)}) ",
            (outcome, style),
        )


class Notice(Static):
    """A one-line note in the transcript: paused, resumed, cancelled, failed, forked…"""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Text(text), classes=f"notice {kind}")


class RunView(Vertical):
    """One run: the user's message, then the answer and tool calls as the events arrive."""

    def __init__(self, message: str, *, note: str | None = None) -> None:
        super().__init__(classes="run-view")
        self.message = message
        self.note = note
        self.run_id: str | None = None
        self._block: Answer | None = None
        self._tools: dict[str, ToolCallView] = {}

    def compose(self) -> ComposeResult:
        if self.note:
            yield Notice(self.note, "fork")
        yield UserMessage(self.message)

    @property
    def answer(self) -> str:
        """What the model said, without the text of steps a pause discarded."""
        return "".join(b.text for b in self.query(Answer) if not b.has_class("discarded"))

    @property
    def shown(self) -> str:
        """The answer as far as it is on screen."""
        return "".join(b.shown for b in self.query(Answer) if not b.has_class("discarded"))

    async def apply(self, event: Event) -> None:
        match event:
            case ContentDelta(content=content, step=step):
                await self._write(content, step)
            case StepStarted():
                await self._end_block()
            case StepDiscarded(reason=reason):
                if self._block is not None:
                    self._block.mark("discarded", f"discarded: {reason} — redone on resume")
                await self._end_block()
            case ToolCallStarted() | ToolApprovalRequested():
                await self._end_block()
                call = self._tools.get(event.tool_call_id)
                if call is None:
                    call = self._tools[event.tool_call_id] = ToolCallView(
                        event.name, event.arguments
                    )
                    await self.mount(call)
                if isinstance(event, ToolApprovalRequested):
                    call.awaiting()
            case ToolApprovalResolved(decision=decision, reason=reason):
                if view := self._tools.get(event.tool_call_id):
                    view.resolved(decision, reason)
            case ToolCallCompleted():
                if view := self._tools.get(event.tool_call_id):
                    view.complete(
                        event.result, is_error=event.is_error, duration_ms=event.duration_ms
                    )
            case RunAwaitingApproval():
                await self._note("? Waiting for your approval of a tool call (ctrl+a).", "paused")
            case RunPaused(checkpoint_id=where):
                await self._end_block()
                at = f" at checkpoint {checkpoint_label(where)}" if where else ""
                await self._note(f"⏸ Paused{at}. Resume with ctrl+r, cancel with ctrl+x.", "paused")
            case RunResumed():
                await self._note("▶ Resumed.", "resumed")
            case RunCancelled(reason=reason):
                await self._end_block(partial="cut short: the run was cancelled")
                await self._note(f"■ Cancelled: {reason or 'cancelled'}", "cancelled")
            case RunFailed(error=error):
                await self._end_block(partial="cut short: the run failed")
                await self._note(f"✗ Failed ({error.type}): {error.message}", "failed")
            case RunCompleted(response=response, finish_reason=finish_reason):
                await self._end_block()
                if response and not self.answer:
                    await self._write(response, None)  # joined after the stream: show it
                    await self._end_block()
                if note := finish_note(finish_reason):
                    await self._note(f"⚠ {note}", "cut")

    async def _write(self, fragment: str, step: int | None) -> None:
        if self._block is None:
            self._block = Answer(step=step)
            await self.mount(self._block)
        self._block.write(fragment)

    async def _end_block(self, *, partial: str | None = None) -> None:
        if self._block is not None:
            block, self._block = self._block, None
            if partial:
                block.mark("partial", partial)
            await block.finish()

    async def finish(self) -> None:
        """Show everything received now (the run is not followed any more)."""
        await self._end_block()

    async def _note(self, text: str, kind: str) -> None:
        await self.mount(Notice(text, kind))

    def to_markdown(self, agent: str) -> str:
        parts = [f"## You\n\n{self.message}\n"]
        for child in self.children:
            if isinstance(child, Answer) and not child.has_class("discarded"):
                suffix = f"\n\n*({child.border_title})*" if child.has_class("partial") else ""
                parts.append(f"## {agent}\n\n{child.text.strip()}{suffix}\n")
            elif isinstance(child, ToolCallView):
                parts.append(
                    f"> tool `{child.tool_name}({child.arguments})` → `{child.result or '…'}`\n"
                )
            elif isinstance(child, Notice) and not child.has_class("fork"):
                parts.append(f"*{child.render()}*\n")
        return "\n".join(parts)
