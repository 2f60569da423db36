"""The conversation: one `RunView` per run, each rendered live from the run's events."""

from __future__ import annotations

from markdown_it import MarkdownIt
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

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


class Conversation(VerticalScroll):
    """The scrolling transcript; it follows the newest output unless the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()


class UserMessage(Static):
    """What the user sent (or queued, until the busy run lets it go)."""

    def __init__(self, text: str, *, queued: bool = False) -> None:
        super().__init__(Text(text), classes="user-message")
        self.text = text
        self.set_queued(queued)

    def set_queued(self, queued: bool) -> None:
        self.set_class(queued, "queued")
        self.border_title = "You · queued until the current run ends" if queued else "You"


def _markdown_parser() -> MarkdownIt:
    return MarkdownIt("gfm-like", options_update={"html": False})


class AnswerBlock(Markdown):
    """The text of one model step, streamed in as Markdown."""

    def __init__(self) -> None:
        # Raw HTML is shown as text: a model writing `<model>` means the word, not a tag.
        super().__init__("", classes="answer", parser_factory=_markdown_parser)
        self.text = ""
        self._stream: MarkdownStream | None = None

    async def write(self, fragment: str) -> None:
        self.text += fragment
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
        await self._stream.write(fragment)

    async def finish(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    def discard(self) -> None:
        """A pause cut this step: its text is void (the step is redone on resume)."""
        self.add_class("discarded")


class ToolCallView(Static):
    """A tool call: name and arguments when it starts; result and duration when it ends."""

    def __init__(self, name: str, arguments: str) -> None:
        super().__init__(classes="tool-call running")
        self.tool_name = name
        self.arguments = compact_json(arguments)
        self.result: str | None = None
        self.update(self._render_call("⚙", "running…", "italic"))

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
        self._block: AnswerBlock | None = None
        self._tools: dict[str, ToolCallView] = {}
        self._answered = False

    def compose(self) -> ComposeResult:
        if self.note:
            yield Notice(self.note, "fork")
        yield UserMessage(self.message)

    @property
    def answer(self) -> str:
        return "".join(
            block.text for block in self.query(AnswerBlock) if not block.has_class("discarded")
        )

    async def apply(self, event: Event) -> None:
        match event:
            case ContentDelta(content=content):
                await self._write(content)
            case StepStarted():
                await self._end_block()
            case StepDiscarded():
                if self._block is not None:
                    self._block.discard()
                await self._end_block()
            case ToolApprovalRequested():
                await self._end_block()
                arguments = clip(compact_json(event.arguments), 120)
                await self._note(f"? {event.name}({arguments}) needs approval", "approval")
            case ToolApprovalResolved(decision=decision, reason=reason):
                why = f": {reason}" if reason else ""
                await self._note(f"{event.tool_call_id} {decision}{why}", "approval")
            case RunAwaitingApproval(run_id=run_id):
                await self._note(
                    f"Awaiting approval: agio runs approve|deny {run_id} (any terminal)",
                    "paused",
                )
            case ToolCallStarted():
                await self._end_block()
                call = ToolCallView(event.name, event.arguments)
                self._tools[event.tool_call_id] = call
                await self.mount(call)
            case ToolCallCompleted():
                if view := self._tools.get(event.tool_call_id):
                    view.complete(
                        event.result, is_error=event.is_error, duration_ms=event.duration_ms
                    )
            case RunPaused(checkpoint_id=where):
                await self._end_block()
                at = f" at checkpoint {checkpoint_label(where)}" if where else ""
                await self._note(f"⏸ Paused{at}. Resume with ctrl+r, cancel with ctrl+x.", "paused")
            case RunResumed():
                await self._note("▶ Resumed.", "resumed")
            case RunCancelled(reason=reason):
                await self._end_block()
                await self._note(f"■ Cancelled: {reason or 'cancelled'}", "cancelled")
            case RunFailed(error=error):
                await self._end_block()
                await self._note(f"✗ Failed ({error.type}): {error.message}", "failed")
            case RunCompleted(response=response, finish_reason=finish_reason):
                await self._end_block()
                if response and not self.answer:
                    await self._write(response)  # joined after the stream: show the answer
                    await self._end_block()
                if note := finish_note(finish_reason):
                    await self._note(f"⚠ {note}", "cut")

    async def _write(self, fragment: str) -> None:
        if self._block is None:
            self._block = AnswerBlock()
            await self.mount(self._block)
        await self._block.write(fragment)

    async def _end_block(self) -> None:
        if self._block is not None:
            await self._block.finish()
            self._block = None

    async def _note(self, text: str, kind: str) -> None:
        await self.mount(Notice(text, kind))
