"""Deciding tool calls at a terminal: `agio chat` asks before a tool that needs approval.

`y`es runs the call, `n`o denies it (the model is told), `a`lways approves it and every later
call of that tool in this session. While the question is on screen the run is durable and
anyone may decide it (`agio runs approve` in another terminal, the API): if someone does, the
question goes away and this terminal follows the run as it goes on there.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING

from . import _output as out
from ._errors import say
from ._render import Style, describe_call
from ._stream import Followable, how_to_decide, show_run

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agio_core import AgioFacade, Event, PendingApproval, Run, RunHandleFacade

ANSWERS = {"y": "approve", "yes": "approve", "n": "deny", "no": "deny", "a": "always"}
LOOK_EVERY_S = 0.5  # how often the question checks whether someone else decided


class _Shown:
    """A run being shown, and the seq of the last of its events shown: where a stretch
    that someone else continues is followed from."""

    def __init__(self, run: Followable, after_seq: int) -> None:
        self._run = run
        self.run_id = run.run_id
        self.seen = after_seq

    async def events(self, after_seq: int = 0) -> AsyncIterator[Event]:
        async for event in self._run.events(after_seq=after_seq):
            self.seen = max(self.seen, event.seq)
            yield event

    async def cancel(self, reason: str = "cancelled by user") -> Run:
        return await self._run.cancel(reason=reason)


class _Followed:
    """A run driven by another process (decided there), followed through the backend."""

    def __init__(self, agio: AgioFacade, run_id: str) -> None:
        self._agio = agio
        self.run_id = run_id

    def events(self, after_seq: int = 0) -> AsyncIterator[Event]:
        return self._agio.events(self.run_id, after_seq=after_seq)

    async def cancel(self, reason: str = "cancelled by user") -> Run:
        return await self._agio.cancel_run(self.run_id, reason=reason)


def can_ask() -> bool:
    return sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()


async def _read_line() -> str | None:
    """A line typed at the terminal, without blocking the loop (None at end of input)."""
    loop = asyncio.get_running_loop()
    typed: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def ready() -> None:
        if not typed.done():
            typed.set_result(sys.stdin.readline())

    loop.add_reader(fd, ready)
    try:
        line = await typed
    finally:
        loop.remove_reader(fd)
    return line if line else None


async def _ask(call: PendingApproval) -> str | None:
    """`approve`, `deny` or `always` for `call`; None at end of input."""
    out.console(stderr=True).print(
        f"[yellow]?[/] [bold]{call.name}[/]({describe_call(call.arguments)}) "
        "wants to run. Allow? [bold]y[/]es / [bold]n[/]o / [bold]a[/]lways for this session: ",
        end="",
        markup=True,
        highlight=False,
    )
    while True:
        line = await _read_line()
        if line is None:
            return None
        answer = ANSWERS.get(line.strip().lower())
        if answer is not None:
            return answer
        out.console(stderr=True).print("please answer y, n or a: ", end="")


class _Question:
    """The questions about one wait, racing with decisions made elsewhere."""

    def __init__(self, agio: AgioFacade, run: Run) -> None:
        self.agio = agio
        self.run = run
        self.deciding = False  # our own decision is being stored: the run moving is ours

    async def decided_elsewhere(self) -> None:
        while self.deciding or (await self.agio.get_run(self.run.id)).status == (
            "awaiting_approval"
        ):
            await asyncio.sleep(LOOK_EVERY_S)

    async def ask(self) -> RunHandleFacade | None:
        """Ask about each undecided call; the last answer continues the run here."""
        from agio_core import ApprovalDecision

        agio, run = self.agio, self.run
        handle = None
        while run.status == "awaiting_approval" and (
            waiting := [p for p in run.pending_approvals if p.decision is None]
        ):
            answer = await _ask(waiting[0])
            if answer is None:
                raise EOFError
            decision = ApprovalDecision(
                tool_call_id=waiting[0].tool_call_id,
                decision="deny" if answer == "deny" else "approve",
                reason="denied at the terminal" if answer == "deny" else None,
            )
            self.deciding = True
            try:  # shielded: a decision half made would leave the run claimed and idle
                handle = await asyncio.shield(
                    agio.decide_and_continue(run.id, [decision], remember=answer == "always")
                )
            finally:
                self.deciding = False
            if handle is not None:
                return handle
            run = await agio.get_run(run.id)
        return handle


async def follow_and_ask(
    agio: AgioFacade, handle: Followable, style: Style, *, stream: bool = True, after_seq: int = 0
) -> Run:
    """`show_run`, asking at the terminal whenever the run waits for approval."""
    watched = handle
    while True:
        shown = _Shown(watched, after_seq)
        run = await show_run(agio, shown, style, stream=stream, after_seq=after_seq)
        if run.status != "awaiting_approval" or not can_ask():
            return run
        after_seq = shown.seen  # a run decided elsewhere goes on after what was shown
        question = _Question(agio, run)
        asking = asyncio.create_task(question.ask())
        elsewhere = asyncio.create_task(question.decided_elsewhere())
        try:
            await asyncio.wait({asking, elsewhere}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # Ctrl-C at the question: the run goes on waiting
            say(how_to_decide(run))
            raise
        finally:
            for task in (asking, elsewhere):
                task.cancel()
            with contextlib.suppress(BaseException):
                await elsewhere
        if asking.done() and not asking.cancelled():
            try:
                continued = asking.result()
            except EOFError:  # Ctrl-D: the run waits; the caller says how to decide it
                sys.stderr.write("\n")
                return await agio.get_run(run.id)
            if continued is not None:
                watched, after_seq = continued, continued.first_seq - 1
            else:
                watched = _Followed(agio, run.id)
        else:
            with contextlib.suppress(BaseException):
                await asking
            say("decided elsewhere; following the run")
            watched = _Followed(agio, run.id)
