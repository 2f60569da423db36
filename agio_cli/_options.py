"""Options and arguments that several command groups share (same flag, same help)."""

from __future__ import annotations

import typer

AS_JSON = typer.Option(False, "--json", help="Print JSON.")
RUN_ID = typer.Argument(..., metavar="RUN", help="Run id.")
