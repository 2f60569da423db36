"""`agio runs approve | deny`: decide the tool calls a run waits on, from any terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .. import _output as out
from .._approval import follow_and_ask
from .._connection import call
from .._options import RUN_ID
from .._stream import Style, choose_style, exit_unless_completed
from .runs import app

if TYPE_CHECKING:
    from agio_core import AgioFacade, Run

CALLS = typer.Argument(
    None, metavar="CALL", help="Tool call ids to decide (default: every undecided call)."
)
AS_JSON = typer.Option(False, "--json", help="Print the run record as JSON.")
EVENTS = typer.Option(False, "--events", help="Print events as NDJSON.")


def _decide(
    ctx: typer.Context,
    run_id: str,
    calls: list[str] | None,
    decision: str,
    style: Style,
    *,
    reason: str | None = None,
    remember: bool,
) -> None:
    """Decide `calls`; if that was the last undecided one, follow the run here like resume."""

    async def decide_here(agio: AgioFacade) -> Run | None:
        run = await agio.get_run(run_id)
        wanted = calls or [p.tool_call_id for p in run.pending_approvals if p.decision is None]
        decisions = [{"tool_call_id": c, "decision": decision, "reason": reason} for c in wanted]
        handle = await agio.decide_and_continue(run_id, decisions, remember=remember)
        if handle is None:
            return None
        return await follow_and_ask(agio, handle, style, after_seq=handle.first_seq - 1)

    run = call(ctx, decide_here)
    if run is None:
        waiting = call(ctx, lambda agio: agio.get_run(run_id))
        left = [p.tool_call_id for p in waiting.pending_approvals if p.decision is None]
        out.done(run_id, f"{decision}d; run [bold]{run_id}[/] still waits on {', '.join(left)}")
        return
    exit_unless_completed(run)


@app.command("approve")
def approve(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    calls: list[str] | None = CALLS,
    remember: bool = typer.Option(
        False, "--remember", help="Allow these tools for the rest of the session."
    ),
    as_json: bool = AS_JSON,
    events: bool = EVENTS,
) -> None:
    """Approve tool calls a run waits on; once all are decided, follow the run here.

    \b
    Examples:
      agio runs approve run_0123456789abcdef                (every undecided call)
      agio runs approve run_0123456789abcdef call_2_0 --remember
    """
    style = choose_style(as_json=as_json, events=events)
    _decide(ctx, run_id, calls, "approve", style, remember=remember)


@app.command("deny")
def deny(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    calls: list[str] | None = CALLS,
    reason: str | None = typer.Option(
        None, "--reason", "-r", metavar="TEXT", help="Why; the model is told."
    ),
    remember: bool = typer.Option(
        False, "--remember", help="Deny these tools for the rest of the session."
    ),
    as_json: bool = AS_JSON,
    events: bool = EVENTS,
) -> None:
    """Deny tool calls a run waits on (the model gets an error carrying the reason).

    \b
    Example:
      agio runs deny run_0123456789abcdef call_2_1 --reason "not on prod"
    """
    style = choose_style(as_json=as_json, events=events)
    _decide(ctx, run_id, calls, "deny", style, reason=reason, remember=remember)
