"""Following a run to its end: `chat`, `runs resume`, `checkpoints restore|fork` all end here.

Ctrl-C cancels the run (it is recorded `cancelled`, partial output kept) and exits 130; a run
that does not complete makes the command exit 1 with a note saying why (and how to resume).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import typer

from . import _output as out
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, CliError, error, fail, say
from ._render import Style, make_renderer

if TYPE_CHECKING:
    from agio_core import Agio, Run, RunHandle

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


class Interrupted(CliError):
    is_error = False

    def __init__(self, run_id: str) -> None:
        super().__init__(f"interrupted: run {run_id} cancelled", EXIT_INTERRUPTED)


async def _model_of(agio: Agio, run: Run) -> str | None:
    """The model that ran (a fork may have changed it): the last checkpoint's agent snapshot."""
    if run.last_checkpoint_id is None:
        return None
    with contextlib.suppress(Exception):
        return (await agio.get_checkpoint(run.last_checkpoint_id)).agent.model
    return None


async def show_run(
    agio: Agio, handle: RunHandle, style: Style, *, stream: bool = True, after_seq: int = 0
) -> Run:
    """Show the run until it stops; Ctrl-C cancels it. Returns the run record at the end."""
    import asyncio

    renderer = make_renderer(style, stream=stream)
    renderer.started(handle.run_id)
    seen = after_seq
    try:
        async for event in handle.events(after_seq=after_seq):
            seen = event.seq
            renderer.event(event)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or not task.cancelling():
            raise
        task.uncancel()  # Ctrl-C: we handle it here, and still have work to do
        renderer.stopped()
        with contextlib.suppress(Exception):  # it may have finished meanwhile
            await handle.cancel(reason="interrupted (Ctrl-C)")
            # What the run did until it stopped, `run_cancelled` included (for --events).
            async with asyncio.timeout(CANCEL_DRAIN_S):
                async for event in handle.events(after_seq=seen):
                    renderer.event(event)
        raise Interrupted(handle.run_id) from None
    except BaseException:
        renderer.stopped()
        raise
    run = await agio.get_run(handle.run_id)
    renderer.finished(run, await _model_of(agio, run) if style == "fancy" else None)
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
    elif run.status == "interrupted":
        say(f"run {run.id} was interrupted; continue it with: agio runs resume {run.id}")
    else:
        say(f"run {run.id} was {run.status}")
    raise typer.Exit(EXIT_FAILED)
