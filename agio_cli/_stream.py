"""Following a run to its end: `chat`, `runs resume`, `checkpoints restore|fork` all end here.

Ctrl-C cancels the run (it is recorded `cancelled`, partial output kept) and exits 130; a run
that does not complete makes the command exit 1 with a note saying why (and how to resume).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

import typer

from . import _output as out
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, CliError, error, fail, say
from ._render import Style, make_renderer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agio_core import AgioFacade, Event, Run

CANCEL_DRAIN_S = 5.0


def choose_style(*, as_json: bool = False, events: bool = False, quiet: bool = False) -> Style:
    chosen = [name for name, on in (("--json", as_json), ("--events", events), ("-q", quiet)) if on]
    if len(chosen) > 1:
        fail(f"{' and '.join(chosen)} cannot be combined")
    if as_json:
        return "json"
    if events:
        return "events"
    if quiet:
        return "quiet"
    return "fancy" if out.fancy() else "text"


class Followable(Protocol):
    """A run to show: a handle (`RunHandleFacade`) or a run this process only follows."""

    @property
    def run_id(self) -> str: ...

    def events(self, after_seq: int = 0) -> AsyncIterator[Event]: ...

    async def cancel(self, reason: str = ...) -> Run: ...


class Interrupted(CliError):
    is_error = False

    def __init__(self, run_id: str) -> None:
        super().__init__(f"interrupted: run {run_id} cancelled", EXIT_INTERRUPTED)


async def _model_of(agio: AgioFacade, run: Run) -> str | None:
    """The model that ran (a fork may have changed it): the last checkpoint's agent snapshot."""
    if run.last_checkpoint_id is None:
        return None
    with contextlib.suppress(Exception):
        return (await agio.get_checkpoint(run.last_checkpoint_id)).agent.model
    return None


class _RenderThread:
    """Renders in a thread of its own. Output can block (a pipe whose reader stopped
    reading); that must stall this thread only, not the event loop that drives the run and
    hears pause and cancel. The first error (e.g. a broken pipe) stops rendering and is
    raised by `close()`."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="agio-render", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            if self.error is None:
                try:
                    call()
                except BaseException as exc:
                    self.error = exc

    def __call__(self, call: Callable[[], None]) -> None:
        self._calls.put(call)

    async def close(self) -> None:
        import asyncio

        self._calls.put(None)
        await asyncio.to_thread(self._thread.join)
        if self.error is not None:
            raise self.error


async def show_run(
    agio: AgioFacade, handle: Followable, style: Style, *, stream: bool = True, after_seq: int = 0
) -> Run:
    """Show the run until it stops; Ctrl-C cancels it. Returns the run record at the end."""
    import asyncio

    renderer = make_renderer(style, stream=stream)
    render = _RenderThread()
    render(partial(renderer.started, handle.run_id))
    seen = after_seq
    try:
        async for event in handle.events(after_seq=after_seq):
            seen = event.seq
            render(partial(renderer.event, event))
            if render.error is not None:
                break
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or not task.cancelling():
            raise
        task.uncancel()  # Ctrl-C: we handle it here, and still have work to do
        render(renderer.stopped)
        with contextlib.suppress(Exception):  # it may have finished meanwhile
            await handle.cancel(reason="interrupted (Ctrl-C)")
            # What the run did until it stopped, `run_cancelled` included (for --events).
            async with asyncio.timeout(CANCEL_DRAIN_S):
                async for event in handle.events(after_seq=seen):
                    render(partial(renderer.event, event))
        with contextlib.suppress(Exception):
            await render.close()
        raise Interrupted(handle.run_id) from None
    except BaseException:
        render(renderer.stopped)
        with contextlib.suppress(Exception):
            await render.close()
        raise
    if render.error is not None:
        await render.close()  # raises it
    run = await agio.get_run(handle.run_id)
    model = await _model_of(agio, run) if style == "fancy" else None
    render(partial(renderer.finished, run, model))
    await render.close()
    return run


def exit_unless_completed(run: Run) -> None:
    """A run that did not complete makes the command fail (exit 1), with a note saying why."""
    if run.status == "completed":
        return
    if run.status == "failed":
        reason = f"{run.error.type}: {run.error.message}" if run.error else "unknown error"
        error(f"run {run.id} failed: {reason}")
    elif run.status == "paused":
        at = f" at checkpoint {run.last_checkpoint_id}" if run.last_checkpoint_id else ""
        say(f"run {run.id} was paused{at}; continue it with: agio runs resume {run.id}")
    elif run.status == "awaiting_approval":
        say(how_to_decide(run))
    elif run.status == "interrupted":
        say(f"run {run.id} was interrupted; continue it with: agio runs resume {run.id}")
    else:
        say(f"run {run.id} was {run.status}")
    raise typer.Exit(EXIT_FAILED)


def how_to_decide(run: Run) -> str:
    calls = ", ".join(
        f"{p.name} ({p.tool_call_id})" for p in run.pending_approvals if not p.decision
    )
    return (
        f"run {run.id} is awaiting approval of {calls or 'its tool calls'}; decide with: "
        f"agio runs approve {run.id} [CALL...] [--remember]  or  "
        f"agio runs deny {run.id} [CALL...] [--reason TEXT]"
    )
