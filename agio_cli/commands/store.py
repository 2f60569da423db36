"""`agio store check [--repair]`: find the store's damaged files and, if asked, move them aside."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .. import _output as out
from .._connection import call, server_of
from .._errors import EXIT_FAILED, fail, say
from .._help import AgioTyper
from .._options import AS_JSON

if TYPE_CHECKING:
    from agio_core import AgioFacade
    from agio_core.store import Damage

app = AgioTyper(
    help="Look after the local store (AGIO_HOME or AGIO_DATABASE_URL).", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="store")


@app.command("check")
def check(
    ctx: typer.Context,
    repair: bool = typer.Option(
        False, "--repair", help="Move damaged files aside (under AGIO_HOME/damaged/)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Report damaged files, each of which spoils only its own run; exit 1 if any stay.

    \b
    Example:
      agio store check --repair
    """
    if server_of(ctx):
        fail("store check works on this machine's store, not through --server")

    async def check_here(backend: AgioFacade) -> list[Damage]:
        from agio_core import Agio

        assert isinstance(backend, Agio)  # no --server: the embedded core
        return await backend.check_store(repair=repair)

    found = call(ctx, check_here)
    if as_json:
        items = [damage.model_dump() for damage in found]
        out.print_json({"total": len(items), "items": items, "limit": len(items), "offset": 0})
    else:
        for damage in found:
            moved = f"\tmoved to {damage.moved_to}" if damage.moved_to else ""
            out.write(f"{damage.path}\t{damage.problem}{moved}\n")
        if not found:
            say("the store is sound: every file reads")
        elif not repair:
            say(f"{len(found)} damaged; `agio store check --repair` moves them aside")
    if found and not repair:
        raise typer.Exit(EXIT_FAILED)
