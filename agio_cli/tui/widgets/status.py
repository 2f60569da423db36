"""The chat's status bar: agent, model, run status, tokens, elapsed time, queue.

The status shown is set from outside (the follower's, which knows about pending requests and
a lost server); the clock and the tokens follow the run's events and record."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from agio_core import (
    Event,
    Run,
    RunAwaitingApproval,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunStarted,
    Usage,
)

from ..format import duration, model_label, status_text

SEPARATOR = (" │ ", "dim")
WIDE = 100  # narrower, the figures go without their labels


class StatusBar(Static):
    agent_id: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    status: reactive[str | None] = reactive(None)
    tokens: reactive[int | None] = reactive(0)  # None: the model server did not report them
    elapsed_ms: reactive[int | None] = reactive(None)
    queued: reactive[int] = reactive(0)
    server: reactive[str | None] = reactive(None)  # shown when the connection to it is lost

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._done_ms = 0  # time spent in finished running segments (pauses excluded)
        self._segment_start: datetime | None = None

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    def render(self) -> Text:
        def label(word: str) -> tuple[str, str]:
            return (word, "dim") if self.size.width >= WIDE else ("", "")

        parts: list[Text | str | tuple[str, str]] = [
            label("agent "),
            (self.agent_id or "—", "bold"),
            SEPARATOR,
            label("model "),
            model_label(self.model) if self.model else "—",
            SEPARATOR,
            label("run "),
            status_text(self.status),
            *([(f" from {self.server}", "bold red")] if self._disconnected else []),
            SEPARATOR,
            label("tokens "),
            "unknown" if self.tokens is None else str(self.tokens),
            SEPARATOR,
            label("time "),
            duration(self.elapsed_ms),
        ]
        if self.queued:
            parts += [SEPARATOR, (f"{self.queued} queued", "bold yellow")]
        return Text.assemble(*parts)

    @property
    def _disconnected(self) -> bool:
        return self.status == "disconnected" and self.server is not None

    def watch_status(self, status: str | None) -> None:
        if status == "disconnected":
            self._close_segment(datetime.now().astimezone())  # no news: the clock stops

    def reset(self) -> None:
        self.tokens = 0
        self.elapsed_ms = None
        self._done_ms = 0
        self._segment_start = None

    def show_run(self, run: Run) -> None:
        """Take the figures from the run record (a run joined midway, or after control)."""
        self.tokens = run.metrics.total_tokens
        if run.status != "running":
            self._segment_start = None
            self.elapsed_ms = self._done_ms = run.metrics.duration_ms
        elif self._segment_start is None and self.elapsed_ms is not None:
            # Back after a lost connection: go on counting from what was shown.
            self._done_ms = self.elapsed_ms
            self._segment_start = datetime.now().astimezone()

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.reset()
                self._open_segment(event.ts)
            case RunResumed():
                self._open_segment(event.ts)
            case Usage(total_tokens=total):
                # None: the server did not report it, so the run's sum is unknown too.
                self.tokens = None if total is None or self.tokens is None else self.tokens + total
            case RunPaused() | RunAwaitingApproval():
                # The run is not running while it waits (its duration stops as well); a
                # decision resumes it with `run_resumed`.
                self._close_segment(event.ts)
            case RunCancelled() | RunFailed():
                self._close_segment(event.ts)
            case RunCompleted(metrics=metrics):
                self._segment_start = None
                self.tokens = metrics.total_tokens
                self.elapsed_ms = self._done_ms = metrics.duration_ms

    def _open_segment(self, at: datetime) -> None:
        self._segment_start = at
        self._tick()

    def _close_segment(self, at: datetime) -> None:
        if self._segment_start is not None:
            self._done_ms += int((at - self._segment_start).total_seconds() * 1000)
            self._segment_start = None
        self.elapsed_ms = self._done_ms

    def _tick(self) -> None:
        if self._segment_start is not None:
            running = datetime.now(self._segment_start.tzinfo) - self._segment_start
            self.elapsed_ms = self._done_ms + max(int(running.total_seconds() * 1000), 0)
