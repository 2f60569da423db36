"""`AnswerBlock`: one model step's text, streamed in as Markdown without slowing down.

Rendering a growing Markdown document on every token costs O(length) each time, so a long
answer costs O(length²) and, as the engine shares the UI's event loop, slows the run too. Here
text is only collected as it arrives; a render happens at most every `interval` (which grows
with how long a render takes), and every top-level Markdown block that is finished — all but
the last — moves into a static `Markdown` widget that is never rendered again. Only the tail,
the block still being written, is re-rendered.
"""

from __future__ import annotations

import asyncio
import time

from markdown_it import MarkdownIt
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Markdown

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 1.0
RENDER_BUDGET = 0.1  # a render (update, layout, paint) may take this share of the time


def markdown_parser() -> MarkdownIt:
    # Raw HTML is shown as text: a model writing `<model>` means the word, not a tag.
    return MarkdownIt("gfm-like", options_update={"html": False})


def finished_length(source: str, parser: MarkdownIt) -> int:
    """How many leading characters of `source` are whole Markdown blocks that more text
    cannot change: everything before the start of its last top-level block."""
    starts = [t.map[0] for t in parser.parse(source) if t.map is not None and t.level == 0]
    if len(starts) < 2:
        return 0
    lines = source.splitlines(keepends=True)
    return sum(len(line) for line in lines[: starts[-1]])


class AnswerBlock(Vertical):
    def __init__(self, *, step: int | None = None) -> None:
        super().__init__(classes="answer")
        self.step = step
        self._parts: list[str] = []
        self._frozen = 0  # characters of the text already in frozen widgets
        self._shown = 0  # characters of the text rendered so far
        self._tail: Markdown | None = None
        self._timer: Timer | None = None
        self._interval = MIN_INTERVAL_S
        self._parser = markdown_parser()
        self._rendering = asyncio.Lock()  # a timer's render and `finish` take turns

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def shown(self) -> str:
        """The part of the text on screen (it trails `text` by at most one interval)."""
        return self.text[: self._shown]

    def write(self, fragment: str) -> None:
        """Take a fragment; it is shown at the next render (no await: the caller goes on)."""
        self._parts.append(fragment)
        self._schedule()

    def on_mount(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        """One render at a time: the next is timed when the last has finished."""
        if self._timer is None and self.is_mounted and self._parts:
            self._timer = self.set_timer(self._interval, self._paint_later)

    async def _paint_later(self) -> None:
        started = time.perf_counter()
        await self._paint(final=False)
        # The layout and drawing the update causes come next: time those too.
        self.call_after_refresh(self._painted, started)

    def _painted(self, started: float) -> None:
        spent = time.perf_counter() - started
        self._interval = min(max(spent / RENDER_BUDGET, MIN_INTERVAL_S), MAX_INTERVAL_S)
        self._timer = None
        if self._shown < len(self.text):
            self._schedule()

    async def finish(self) -> None:
        """The step is over: render what is left, now."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        await self._paint(final=True)

    async def _paint(self, *, final: bool) -> None:
        if not self.is_attached:
            return  # painted once mounted (see on_mount)
        async with self._rendering:
            await self._paint_tail(final=final)

    async def _paint_tail(self, *, final: bool) -> None:
        text = self.text
        if len(text) == self._shown and not final:
            return
        tail = text[self._frozen :]
        done = finished_length(tail, self._parser)
        if done:
            frozen = Markdown(tail[:done], classes="answer-part", parser_factory=markdown_parser)
            await self.mount(frozen, before=self._tail)
            self._frozen += done
            tail = tail[done:]
        if tail:
            if self._tail is None:
                self._tail = Markdown("", classes="answer-part", parser_factory=markdown_parser)
                await self.mount(self._tail)
            await self._tail.update(tail)
        elif self._tail is not None:
            await self._tail.remove()
            self._tail = None
        self._shown = len(text)
