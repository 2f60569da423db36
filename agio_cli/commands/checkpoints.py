"""`agio checkpoints list | show | create | restore | fork | tree | diff`: time travel."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import typer

from .. import _output as out
from .._approval import follow_and_ask
from .._connection import call
from .._errors import fail, say
from .._help import AgioTyper
from .._options import AS_JSON, RUN_ID, param_value
from .._render import Style
from .._stream import choose_style, exit_unless_completed
from .._wording import count

if TYPE_CHECKING:
    from agio_core import AgioFacade, Checkpoint, Run, TreeNode

app = AgioTyper(
    help="Inspect a run's checkpoints; restore, fork, compare them.",
    no_args_is_help=True,
)

CHECKPOINT_ID = typer.Argument(..., metavar="ID", help="Checkpoint id.")
TAGS = typer.Option([], "--tag", "-t", metavar="TAG", help="A tag (repeatable).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="checkpoints")


@app.command("list")
def list_checkpoints(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    limit: int = typer.Option(20, "--limit", "-n", min=1, metavar="N", help="At most this many."),
    offset: int = typer.Option(0, "--offset", min=0, metavar="N", help="Skip this many."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print ids only."),
    as_json: bool = AS_JSON,
) -> None:
    """List a run's checkpoints, oldest first.

    \b
    Example:
      agio checkpoints list run_0123456789abcdef
    """
    page = call(ctx, lambda agio: agio.list_checkpoints(run_id, limit=limit, offset=offset))
    if as_json:
        out.print_json(page.model_dump(mode="json"))
        return
    summaries = page.items
    if quiet:
        for summary in summaries:
            out.write(summary.id + "\n")
        out.cut_note(len(summaries), offset, page.total)
        return
    out.table(
        ["id", "step", "kind", "created", "messages", "tokens", "description"],
        (
            [
                s.id,
                str(s.step),
                s.kind + (" (superseded)" if s.superseded else ""),
                out.when(s.created_at),
                str(s.message_count),
                count(s.total_tokens),
                s.description,
            ]
            for s in summaries
        ),
    )
    out.cut_note(len(summaries), offset, page.total)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    calls = message.get("tool_calls") or []
    called = [f"{c['function']['name']}({c['function'].get('arguments', '')})" for c in calls]
    return "\n".join([content, *(f"→ {call}" for call in called)]).strip()


def print_messages(messages: list[dict[str, Any]]) -> None:
    if not out.fancy():
        for message in messages:
            out.write(f"{message.get('role')}: {_message_text(message)}\n")
        return
    from rich.text import Text

    for message in messages:
        line = Text(f"{message.get('role')}: ", style="bold")
        line.append(_message_text(message))
        out.console().print(line)


@app.command("show")
def show(
    ctx: typer.Context,
    checkpoint_id: str = CHECKPOINT_ID,
    messages: bool = typer.Option(False, "--messages", "-m", help="Include the messages."),
    as_json: bool = AS_JSON,
) -> None:
    """Show a checkpoint: where it is, the agent then, and (with --messages) the conversation.

    \b
    Example:
      agio checkpoints show ck_0123456789abcdef_0002 --messages
    """
    checkpoint = call(ctx, lambda agio: agio.get_checkpoint(checkpoint_id))
    if as_json:
        out.print_json(
            checkpoint.model_dump(mode="json", exclude=None if messages else {"messages"})
        )
        return
    out.fields(
        [
            ("id", checkpoint.id),
            ("run", checkpoint.run_id),
            ("step", checkpoint.step),
            ("kind", checkpoint.kind + (" (superseded)" if checkpoint.superseded else "")),
            ("created", out.when(checkpoint.created_at)),
            ("description", checkpoint.description or None),
            ("tags", ", ".join(checkpoint.tags) or None),
            ("parent", checkpoint.parent_checkpoint_id),
            ("messages", checkpoint.message_count),
            ("tokens", count(checkpoint.total_tokens)),
            ("model", checkpoint.agent.model),
            ("model params", json.dumps(checkpoint.agent.model_params) or None),
        ]
    )
    if messages:
        out.write("\n")
        print_messages(checkpoint.messages)


@app.command("create")
def create(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    description: str = typer.Option(
        "", "--description", "-d", metavar="TEXT", help="What this state is."
    ),
    tags: list[str] = TAGS,
    as_json: bool = AS_JSON,
) -> None:
    """Add a manual checkpoint of a run's current state (the run must not be running).

    \b
    Example:
      agio checkpoints create run_0123456789abcdef -d "before the refactor"
    """
    summary = call(
        ctx, lambda agio: agio.create_checkpoint(run_id, description=description, tags=tags)
    )
    if as_json:
        out.print_json(summary.model_dump(mode="json"))
    else:
        out.done(summary.id, f"created checkpoint [bold]{summary.id}[/] of run {run_id}")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; values are read as YAML scalars (numbers, true/false, strings) and
    checked against the model's provider by the core."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--param: expected KEY=VALUE, got {pair!r}")
        params[key.strip()] = param_value(value)
    return params


class Changes:
    """The modifications options shared by `restore` and `fork`."""

    def __init__(
        self,
        query: str | None,
        system_prompt: str | None,
        model: str | None,
        params: list[str],
        max_steps: int | None,
    ) -> None:
        self.fields: dict[str, Any] = {
            key: value
            for key, value in (
                ("modified_query", query),
                ("system_prompt", system_prompt),
                ("model", model),
                ("max_steps", max_steps),
            )
            if value is not None
        }
        self.params = parse_params(params)

    def resolve(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """`--param` adds to the checkpoint's model params rather than replacing them all."""
        if not self.params:
            return self.fields
        return {**self.fields, "model_params": {**checkpoint.agent.model_params, **self.params}}


QUERY = typer.Option(None, "--query", metavar="TEXT", help="Replace the last user message.")
SYSTEM_PROMPT = typer.Option(
    None, "--system-prompt", metavar="TEXT", help="Replace the system prompt."
)
MODEL = typer.Option(
    None, "--model", metavar="MODEL", help="Use another model, e.g. openai/gpt-4o-mini."
)
PARAMS = typer.Option(
    [], "--param", "-p", metavar="KEY=VALUE", help="Set a model parameter (repeatable)."
)
MAX_STEPS = typer.Option(None, "--max-steps", min=1, metavar="N", help="Change the step limit.")
JSON_RECORD = typer.Option(False, "--json", help="Print the run record as JSON.")
EVENTS = typer.Option(False, "--events", help="Print events as NDJSON.")
QUIET = typer.Option(False, "--quiet", "-q", help="Print the run id only (for scripts).")
NO_STREAM = typer.Option(False, "--no-stream", help="Print the answer once complete.")


def _continue(
    ctx: typer.Context,
    checkpoint_id: str,
    changes: Changes,
    style: Style,
    *,
    stream: bool,
    in_place: bool,
) -> None:
    async def continue_from(agio: AgioFacade) -> Run:
        checkpoint = await agio.get_checkpoint(checkpoint_id)
        modifications = changes.resolve(checkpoint)
        if in_place:
            handle = await agio.restore_checkpoint(
                checkpoint_id, create_new_run=False, modifications=modifications
            )
        else:
            handle = await agio.fork_checkpoint(checkpoint_id, modifications=modifications)
        return await follow_and_ask(
            agio, handle, style, stream=stream, after_seq=handle.first_seq - 1
        )

    exit_unless_completed(call(ctx, continue_from))


@app.command("restore")
def restore(
    ctx: typer.Context,
    checkpoint_id: str = CHECKPOINT_ID,
    in_place: bool = typer.Option(
        False, "--in-place", help="Rewind the run itself (later checkpoints are superseded)."
    ),
    query: str | None = QUERY,
    system_prompt: str | None = SYSTEM_PROMPT,
    model: str | None = MODEL,
    params: list[str] = PARAMS,
    max_steps: int | None = MAX_STEPS,
    as_json: bool = JSON_RECORD,
    events: bool = EVENTS,
    quiet: bool = QUIET,
    no_stream: bool = NO_STREAM,
) -> None:
    """Continue from a checkpoint: in a new run, or --in-place by rewinding its own run.

    \b
    Example:
      agio checkpoints restore ck_0123456789abcdef_0001 --in-place --query "what is 6*7?"
    """
    style = choose_style(as_json=as_json, events=events, quiet=quiet)
    changes = Changes(query, system_prompt, model, params, max_steps)
    _continue(ctx, checkpoint_id, changes, style, stream=not no_stream, in_place=in_place)


@app.command("fork")
def fork(
    ctx: typer.Context,
    checkpoint_id: str = CHECKPOINT_ID,
    query: str | None = QUERY,
    system_prompt: str | None = SYSTEM_PROMPT,
    model: str | None = MODEL,
    params: list[str] = PARAMS,
    max_steps: int | None = MAX_STEPS,
    as_json: bool = JSON_RECORD,
    events: bool = EVENTS,
    quiet: bool = QUIET,
    no_stream: bool = NO_STREAM,
) -> None:
    """Continue from a checkpoint in a new run; the source run is left untouched.

    \b
    Example:
      agio checkpoints fork ck_0123456789abcdef_0001 -p temperature=0.2 --model openai/gpt-4o-mini
    """
    style = choose_style(as_json=as_json, events=events, quiet=quiet)
    changes = Changes(query, system_prompt, model, params, max_steps)
    _continue(ctx, checkpoint_id, changes, style, stream=not no_stream, in_place=False)


def _label(node: TreeNode) -> str:
    origin = f" from {node.from_checkpoint_id}" if node.from_checkpoint_id else ""
    return f"{node.run_id} {node.status}{origin} {json.dumps(node.input, ensure_ascii=False)}"


def _plain_tree(node: TreeNode, depth: int = 0) -> None:
    out.write("  " * depth + _label(node) + "\n")
    for child in node.children:
        _plain_tree(child, depth + 1)


def _rich_tree(node: TreeNode, highlight: str) -> Any:
    from rich.text import Text
    from rich.tree import Tree

    def label(of: TreeNode) -> Text:
        text = Text(of.run_id, style="bold underline" if of.run_id == highlight else "bold")
        text.append(f" {of.status}", style=out.STATUS_STYLES.get(of.status, ""))
        if of.from_checkpoint_id:
            text.append(f" from {of.from_checkpoint_id}", style="dim")
        text.append(f"  {out.one_line(of.input, 50)}")
        return text

    def grow(branch: Tree, of: TreeNode) -> None:
        for child in of.children:
            grow(branch.add(label(child)), child)

    tree = Tree(label(node))
    grow(tree, node)
    return tree


@app.command("tree")
def tree(ctx: typer.Context, run_id: str = RUN_ID, as_json: bool = AS_JSON) -> None:
    """Draw the fork tree a run belongs to, from its root run down.

    \b
    Example:
      agio checkpoints tree run_0123456789abcdef
    """
    root = call(ctx, lambda agio: agio.checkpoint_tree(run_id))
    if as_json:
        out.print_json(root.model_dump(mode="json"))
    elif out.fancy():
        out.console().print(_rich_tree(root, run_id))
    else:
        _plain_tree(root)


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., metavar="A", help="Checkpoint id."),
    b: str = typer.Argument(..., metavar="B", help="Checkpoint id."),
    as_json: bool = AS_JSON,
) -> None:
    """Show how the conversations at two checkpoints differ (unified diff).

    \b
    Example:
      agio checkpoints diff ck_0123456789abcdef_0002 ck_fedcba9876543210_0001
    """
    result = call(ctx, lambda agio: agio.diff_checkpoints(a, b))
    differ = bool(result.only_in_a or result.only_in_b)
    if as_json:
        out.print_json(result.model_dump(mode="json"))
    elif not differ:
        say("no difference in messages")
    elif not result.unified:
        say("the messages differ only in fields the diff does not show; see --json")
    elif not out.fancy():
        out.write(result.unified + "\n")
    else:
        from rich.text import Text

        colours = {"+": "green", "-": "red", "@": "cyan"}
        for line in result.unified.splitlines():
            out.console().print(Text(line, style=colours.get(line[:1], "")))
    if differ:  # as diff(1): 0 the same, 1 different
        raise typer.Exit(1)


COMPLETED_IDS = 1000  # checkpoints offered per run


@app.command("ids", hidden=True)
def ids(
    ctx: typer.Context,
    word: str = typer.Argument("", metavar="WORD", help="What is typed so far."),
) -> None:
    """Checkpoint ids for shell completion: those of the run named in WORD (`ck_<run>_...`),
    else those of the latest runs."""
    import re

    named = re.match(r"ck_([0-9a-f]{16})", word)

    async def collect(agio: AgioFacade) -> list[str]:
        if named:
            run_ids = [f"run_{named.group(1)}"]
        else:
            run_ids = [run.id for run in (await agio.list_runs(limit=10)).items]
        found: list[str] = []
        for run_id in run_ids:
            with contextlib.suppress(Exception):  # a run deleted meanwhile: offer the rest
                page = await agio.list_checkpoints(run_id, limit=COMPLETED_IDS)
                found += [c.id for c in page.items]
        return found

    for checkpoint_id in call(ctx, collect):
        out.write(checkpoint_id + "\n")
