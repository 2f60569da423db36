"""`agio models`: the models `-m` and an agent's `model` can name."""

from __future__ import annotations

import typer

from .. import _output as out
from .._connection import call
from .._errors import say
from .._options import AS_JSON


def register(app: typer.Typer) -> None:
    @app.command()
    def models(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
        """List models: the offline ones, and those the OpenAI-compatible server lists.

        \b
        Example:
          AGIO_OPENAI_BASE_URL=http://localhost:11434/v1 agio models
        """
        catalog = call(ctx, lambda agio: agio.list_models())
        if as_json:
            items = [m.model_dump() for m in catalog.items]
            out.print_json({"total": len(items), "items": items, "limit": len(items), "offset": 0})
        else:
            out.table(
                ["model", "provider", "note"],
                (
                    [m.id, m.provider, "offline: no network, no key" if m.offline else ""]
                    for m in catalog.items
                ),
            )
        for note in catalog.notes:
            say(note)
