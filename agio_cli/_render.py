"""Renderers: how a run's events are shown, one class per output style.

fancy   a terminal: live text with a spinner, tool calls as they happen, then the answer as
        Markdown and a footer (run id, model, tokens, time)
text    a pipe or NO_COLOR: the answer's text as it streams, nothing else
events  one event per line (NDJSON), as the API streams them
json    one JSON document, the run record, once the run stops
quiet   the run id alone, printed as soon as the run starts
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, Protocol

from . import _output as out
from ._errors import say
from ._wording import finish_note, tokens

if TYPE_CHECKING:
    from rich.console import RenderableType

    from agio_core import Event, Run

Style = Literal["fancy", "text", "events", "json", "quiet"]


def run_document(run: Run) -> dict[str, Any]:
    """The run record as every `--json` prints it (`runs show`, `chat`, `resume`, ...)."""
    return run.summary()


def model_label(model: str | None) -> str:
    if model is None:
        return "model unknown"
    return f"{model} (offline model)" if model.startswith("offline/") else model


class Renderer(Protocol):
    def started(self, run_id: str) -> None: ...
    def event(self, event: Event) -> None: ...
    def stopped(self) -> None:
        """The run is left early (Ctrl-C, a broken pipe): tidy up what is on screen."""

    def finished(self, run: Run, model: str | None) -> None:
        """The run stopped (completed, failed, cancelled or paused); `run` is its record."""


class SilentRenderer:
    """Shows nothing; the machine-readable renderers each add one thing."""

    def started(self, run_id: str) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def stopped(self) -> None:
        pass

    def finished(self, run: Run, model: str | None) -> None:
        pass


class EventsRenderer(SilentRenderer):
    def event(self, event: Event) -> None:
        out.write(event.to_json() + "\n")


class JsonRenderer(SilentRenderer):
    def finished(self, run: Run, model: str | None) -> None:
        out.print_json(run_document(run))


class QuietRenderer(SilentRenderer):
    def started(self, run_id: str) -> None:
        out.write(run_id + "\n")


class TextRenderer:
    """The answer's text, streamed; steps that end in tool calls are separated by a blank line."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.step_text = ""
        self.printed = ""

    def _print(self, text: str) -> None:
        out.write(text)
        self.printed += text

    def started(self, run_id: str) -> None:
        pass

    def event(self, event: Event) -> None:
        if not self.stream:
            return
        # Here, not at the top: `agio --help` must not import agio_core.
        from agio_core.events import ContentDelta, StepDiscarded, StepStarted

        match event:
            case StepStarted():
                if self.printed and not self.printed.endswith("\n\n"):
                    self._print("\n" if self.printed.endswith("\n") else "\n\n")
                self.step_text = ""
            case ContentDelta(content=content):
                self.step_text += content
                self._print(content)
            case StepDiscarded():
                # Printed text cannot be taken back from a pipe: say it is void.
                if self.step_text:
                    self._end_line()
                    say("(the text above was cut by a pause and is void; resuming redoes it)")
                self.step_text = ""

    def stopped(self) -> None:
        self._end_line()

    def finished(self, run: Run, model: str | None) -> None:
        # A run resumed after its answer was written streams no text: print the answer.
        if run.response and not self.step_text and run.status == "completed":
            self._print(run.response)
        self._end_line()
        if run.status == "completed" and (note := finish_note(run.finish_reason)):
            say(note)  # stderr: stdout is the answer alone

    def _end_line(self) -> None:
        if self.printed and not self.printed.endswith("\n"):
            self._print("\n")


class FancyRenderer:
    """Live text under a spinner while the run works; Markdown and a footer when it is done."""

    def __init__(self, stream: bool) -> None:
        from rich.live import Live

        self.console = out.console()
        self.stream = stream
        self.step_text = ""
        self.status = "thinking…"
        self.tool_arguments: dict[str, Any] = {}  # by tool_call_id, until the call completes
        self.live = Live(
            console=self.console,
            get_renderable=self._view,
            transient=True,
            refresh_per_second=12,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def _view(self) -> RenderableType:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.text import Text

        spinner = Spinner("dots", Text(self.status, style="dim"))
        if not self.step_text:
            return spinner
        # Show the tail of the text: a live region taller than the screen cannot be redrawn.
        lines = Text(self.step_text).wrap(self.console, self.console.width)
        keep = max(self.console.height - 3, 3)
        visible = Text("\n").join(lines[-keep:])
        return Group(visible, spinner)

    def started(self, run_id: str) -> None:
        self.live.start()

    def _flush_step_text(self) -> None:
        from rich.text import Text

        if self.step_text.strip():
            self.live.console.print(Text(self.step_text.strip(), style="dim"))
        self.step_text = ""

    def event(self, event: Event) -> None:
        from rich.text import Text

        from agio_core.events import (
            ContentDelta,
            StepDiscarded,
            StepStarted,
            ToolApprovalRequested,
            ToolCallCompleted,
            ToolCallStarted,
        )

        match event:
            case StepDiscarded():
                self.step_text = ""  # on screen only in the live region: gone with it
                self.status = "pausing…"
            case ToolApprovalRequested():
                self._flush_step_text()
                line = Text("  ? ", style="yellow")
                line.append(f"{event.name}({describe_call(event.arguments)})", style="bold")
                line.append(" needs approval", style="dim")
                self.live.console.print(line)
            case ContentDelta(content=content) if self.stream:
                self.step_text += content
                self.status = "writing…"
            case StepStarted():
                self._flush_step_text()
                self.status = "thinking…"
            case ToolCallStarted():
                self._flush_step_text()
                self.tool_arguments[event.tool_call_id] = event.arguments
                self.status = f"running {event.name}…"
            case ToolCallCompleted():
                line = Text("  ⚙ ", style="cyan")
                arguments = describe_call(self.tool_arguments.pop(event.tool_call_id, None))
                line.append(f"{event.name}({arguments})", style="bold")
                line.append(" → ")
                line.append(out.one_line(event.result, 200), style="red" if event.is_error else "")
                line.append(f"  {event.duration_ms} ms", style="dim")
                self.live.console.print(line)
                self.status = "thinking…"

    def stopped(self) -> None:
        from rich.text import Text

        self.live.stop()
        if self.step_text:
            self.console.print(Text(self.step_text))

    def finished(self, run: Run, model: str | None) -> None:
        from rich.markdown import Markdown
        from rich.text import Text

        self.live.stop()
        answer = run.response if run.response is not None else self.step_text
        if answer and run.status == "completed":
            self.console.print(Markdown(answer))
        elif answer:
            self.console.print(Text(answer))
        if run.status == "completed" and (note := finish_note(run.finish_reason)):
            self.console.print(Text(f"⚠ {note}", style="yellow"))
        if run.status == "awaiting_approval":
            return  # the run is not over: a question or how to decide it follows
        metrics = run.metrics
        footer = " · ".join(
            [
                run.id,
                model_label(model),
                tokens(metrics.total_tokens),
                f"{metrics.duration_ms / 1000:.1f} s",
            ]
        )
        self.console.print(Text(footer, style="dim"))


def describe_call(raw: Any) -> str:
    """A tool call's arguments on one short line: `expression='2+3'`."""
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return out.one_line(str(raw), 80)
    if isinstance(parsed, dict):
        return out.one_line(", ".join(f"{k}={v!r}" for k, v in parsed.items()), 80)
    return out.one_line(str(parsed), 80)


def make_renderer(style: Style, *, stream: bool = True) -> Renderer:
    if style == "events":
        return EventsRenderer()
    if style == "json":
        return JsonRenderer()
    if style == "quiet":
        return QuietRenderer()
    return FancyRenderer(stream) if style == "fancy" else TextRenderer(stream)
