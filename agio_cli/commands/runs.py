"""`agio runs list | show | events | pause | resume | cancel | approve | deny`: runs of any
process, by id."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from .. import _output as out
from .._approval import follow_and_ask
from .._connection import call
from .._errors import EXIT_FAILED, error, exit_code_of, fail, say
from .._help import AgioTyper
from .._options import AS_JSON, RUN_ID
from .._render import describe_call
from .._stream import choose_style, exit_unless_completed
from .._wording import count, tokens

if TYPE_CHECKING:
    from agio_core import AgioFacade, Run
    from agio_core.runs import RunMetrics

app = AgioTyper(
    help="List and inspect runs; pause, resume, cancel, approve or deny them from any terminal.",
    no_args_is_help=True,
)


class Status(StrEnum):
    running = "running"
    paused = "paused"
    awaiting_approval = "awaiting_approval"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


STATUS = typer.Option(None, "--status", help="Only runs in this state.")
RUN_IDS = typer.Argument(..., metavar="RUN", help="Run ids.")


def register(root: typer.Typer) -> None:
    from . import decide  # noqa: F401  (adds `runs approve` and `runs deny` to `app`)

    root.add_typer(app, name="runs")


@app.command("list")
def list_runs(
    ctx: typer.Context,
    agent: str | None = typer.Option(
        None, "--agent", "-a", metavar="AGENT", help="Only runs of this agent."
    ),
    status: Status | None = STATUS,
    session: str | None = typer.Option(
        None, "--session", "-s", metavar="SESSION", help="Only this session."
    ),
    search: str | None = typer.Option(
        None, "--search", metavar="TEXT", help="Only runs whose input or answer has TEXT."
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=1, metavar="N", help="At most this many."),
    offset: int = typer.Option(0, "--offset", min=0, metavar="N", help="Skip this many."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print ids only."),
    as_json: bool = AS_JSON,
) -> None:
    """List runs, newest first.

    \b
    Examples:
      agio runs list --status paused
      agio runs list --search invoice -n 50
    """
    page = call(
        ctx,
        lambda agio: agio.list_runs(
            agent_id=agent,
            status=status.value if status else None,
            session_id=session,
            search=search,
            limit=limit,
            offset=offset,
        ),
    )
    if as_json:
        out.print_json(
            {
                "total": page.total,
                "items": [run.summary() for run in page.items],
                "limit": page.limit,
                "offset": page.offset,
            }
        )
        return
    if quiet:
        for run in page.items:
            out.write(run.id + "\n")
        out.cut_note(len(page.items), offset, page.total)
        return
    out.table(
        ["id", "status", "agent", "created", "tokens", "input"],
        (
            [
                r.id,
                r.status,
                r.agent_id,
                out.when(r.created_at),
                count(r.metrics.total_tokens),
                r.input,
            ]
            for r in page.items
        ),
    )
    out.cut_note(len(page.items), offset, page.total)


def _tokens(metrics: RunMetrics) -> str:
    if metrics.total_tokens is None:
        return f"{tokens(None)} (the model server did not report them)"
    return f"{tokens(metrics.total_tokens)} ({count(metrics.prompt_tokens)} prompt)"


def print_run(run: Run) -> None:
    metrics = run.metrics
    out.fields(
        [
            ("id", run.id),
            ("status", run.status),
            ("agent", run.agent_id),
            ("session", run.session_id),
            ("parent run", run.parent_run_id),
            ("from checkpoint", run.from_checkpoint_id),
            ("created", out.when(run.created_at)),
            ("finished", out.when(run.finished_at)),
            ("steps", metrics.steps),
            ("tool calls", metrics.tool_calls),
            ("tokens", _tokens(metrics)),
            ("duration", f"{metrics.duration_ms / 1000:.2f} s"),
            ("checkpoints", run.checkpoint_count),
            ("last checkpoint", run.last_checkpoint_id),
            ("finish reason", run.finish_reason),
            ("error", f"{run.error.type}: {run.error.message}" if run.error else None),
            ("input", run.input),
            ("response", run.response),
            *(
                (
                    f"pending {p.tool_call_id}",
                    f"{p.name}({describe_call(p.arguments)})"
                    + (f" → {p.decision}" if p.decision else " (undecided)"),
                )
                for p in run.pending_approvals
            ),
            *((f"rule {name}", policy) for name, policy in run.approval_rules.items()),
        ]
    )


@app.command("show")
def show(ctx: typer.Context, run_id: str = RUN_ID, as_json: bool = AS_JSON) -> None:
    """Show a run: status, metrics, input and response.

    \b
    Example:
      agio runs show run_0123456789abcdef --json
    """
    run = call(ctx, lambda agio: agio.get_run(run_id))
    if as_json:
        out.print_json(run.summary())
    else:
        print_run(run)


@app.command("events")
def events(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing until the run stops (tails a live run)."
    ),
    after: int = typer.Option(0, "--after", min=0, metavar="SEQ", help="Only events after SEQ."),
) -> None:
    """Print a run's events, one JSON object per line (as `chat --events` does).

    \b
    Example:
      agio runs events run_0123456789abcdef --follow
    """

    async def tail(agio: AgioFacade) -> None:
        async for event in agio.events(run_id, after_seq=after, follow=follow):
            out.write(event.to_json() + "\n")

    call(ctx, tail)


def _report_control(run: Run, wanted: str) -> None:
    if run.status == wanted:
        at = f" at checkpoint {run.last_checkpoint_id}" if wanted == "paused" else ""
        out.done(run.id, f"{wanted} run [bold]{run.id}[/]{at}")
    elif run.status == "running":
        action = "pause" if wanted == "paused" else "cancel"
        say(f"{action} requested; run {run.id} is still running and will stop at a safe point")
    elif run.status == "interrupted":
        say(f"run {run.id} is interrupted (its process died); resume or cancel it")
    else:
        error(f"run {run.id} {run.status} before it could be {wanted}")
        raise typer.Exit(EXIT_FAILED)


@app.command("pause")
def pause(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the pause is asked."),
    as_json: bool = AS_JSON,
) -> None:
    """Pause a running run now (a stream is cut and redone on resume; a tool call finishes).

    \b
    Example:
      agio runs pause run_0123456789abcdef
    """
    run = call(ctx, lambda agio: agio.pause_run(run_id, wait=0 if no_wait else 10.0))
    if as_json:
        out.print_json(run.summary())
    else:
        _report_control(run, "paused")


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    reason: str = typer.Option(
        "cancelled by user", "--reason", "-r", metavar="TEXT", help="Recorded reason."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Cancel a running, paused, interrupted or waiting run.

    \b
    Example:
      agio runs cancel run_0123456789abcdef -r "wrong question"
    """
    run = call(ctx, lambda agio: agio.cancel_run(run_id, reason=reason))
    if as_json:
        out.print_json(run.summary())
    else:
        _report_control(run, "cancelled")


@app.command("resume")
def resume(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
    events: bool = typer.Option(False, "--events", help="Print events as NDJSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print the run id only."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print the answer once complete."),
) -> None:
    """Resume a paused or interrupted run here, streaming it like chat.

    \b
    Example:
      agio runs resume run_0123456789abcdef
    """
    style = choose_style(as_json=as_json, events=events, quiet=quiet)

    async def resume_here(agio: AgioFacade) -> Run:
        handle = await agio.resume_run(run_id)
        return await follow_and_ask(
            agio, handle, style, stream=not no_stream, after_seq=handle.first_seq - 1
        )

    exit_unless_completed(call(ctx, resume_here))


@app.command("delete")
def delete(
    ctx: typer.Context,
    run_ids: list[str] = RUN_IDS,
) -> None:
    """Delete runs (not while they run); runs that build on them keep working.

    \b
    Example:
      agio runs delete run_0123456789abcdef
      agio runs list -q --status failed | xargs agio runs delete
    """

    async def delete_all(agio: AgioFacade) -> list[tuple[str, BaseException]]:
        failures: list[tuple[str, BaseException]] = []
        for run_id in run_ids:
            try:
                await agio.delete_run(run_id)
            except Exception as exc:  # the others are still deleted
                failures.append((run_id, exc))
            else:
                out.done(run_id, f"deleted run [bold]{run_id}[/]")
        return failures

    failures = call(ctx, delete_all)
    codes = [exit_code_of(exc) for _, exc in failures]
    if codes:
        raise typer.Exit(max(codes))


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w`, `45s` (a bare number is days)."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    value, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "d")
    if not (value.isascii() and value.isdigit()):
        fail(f"--older-than: expected a whole number and a unit (s, m, h, d, w), got {text!r}")
    return timedelta(**{units[unit]: int(value)})


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: str = typer.Option(
        "30d",
        "--older-than",
        metavar="AGE",
        help="Only runs created longer ago than AGE (30d, 12h, 90m, 2w; 0 for any age).",
    ),
    status: Status | None = STATUS,
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="List them; delete nothing."),
    as_json: bool = AS_JSON,
) -> None:
    """Delete old runs (never running ones); runs that build on them keep working.

    \b
    Examples:
      agio runs prune                              (runs older than 30 days)
      agio runs prune --older-than 0 --status interrupted
      agio runs prune --older-than 2w --dry-run
    """
    age = parse_age(older_than)
    ids = call(
        ctx,
        lambda agio: agio.prune_runs(
            older_than=age if age else None,
            status=status.value if status else None,
            dry_run=dry_run,
        ),
    )
    if as_json:
        out.print_json({"deleted": [] if dry_run else ids, "would_delete": ids if dry_run else []})
        return
    if not out.fancy():
        for run_id in ids:
            out.write(run_id + "\n")
    elif ids:
        verb = "would delete" if dry_run else "deleted"
        out.console().print(f"{verb} {len(ids)} run{'s' if len(ids) != 1 else ''}")
    if not ids:
        say("no runs to prune")
