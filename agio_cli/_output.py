"""How commands print: rich for a person at a terminal, plain parseable text for everything else.

One switch decides (`fancy()`): stdout is a terminal and NO_COLOR is unset. Otherwise there is
no colour, no spinner, no Markdown and no wrapping — lines a script can cut, grep and read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def fancy() -> bool:
    """A person's terminal: tables, spinner, Markdown. NO_COLOR keeps this layout and drops
    only the colour (rich reads NO_COLOR itself)."""
    if os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def console(*, stderr: bool = False) -> Console:
    """The rich console; only for `fancy()` output."""
    return _console(stderr)


def write(text: str) -> None:
    """Plain text straight to stdout, flushed: streaming into a pipe still streams."""
    sys.stdout.write(text)
    sys.stdout.flush()


def print_json(data: Any) -> None:
    write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def one_line(text: str | None, width: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cell_text(value: str) -> str:
    """A whole value as one tab-separated field: backslash, tab, newline and carriage
    return escaped as `\\`, `\t`, `\n`, `\r` (PostgreSQL's COPY text format), never cut."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def cut_note(shown: int, offset: int, total: int) -> None:
    """Say on stderr that a list stops before its end (scripts read stdout only)."""
    if total > offset + shown:
        print(
            f"agio: showing {shown} of {total} (from {offset}); see --limit and --offset",
            file=sys.stderr,
            flush=True,
        )


def when(moment: datetime | None) -> str:
    """Local time for people; ISO 8601 (UTC, as stored) for scripts."""
    if moment is None:
        return "-"
    if fancy():
        return moment.astimezone().strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


STATUS_STYLES = {
    "running": "cyan",
    "paused": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "interrupted": "yellow",
}


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, styles: bool = True) -> None:
    """A rich table at a terminal; tab-separated rows without a header (id first) otherwise."""
    if not fancy():
        for row in rows:
            write("\t".join(cell_text(cell) for cell in row) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    rows = [[" ".join(cell.split()) for cell in row] for row in rows]
    grid = Table(box=None, header_style="bold", pad_edge=False)
    for index, header in enumerate(headers):
        if index == len(headers) - 1:  # the free-text column gives way first
            grid.add_column(header, no_wrap=True, overflow="ellipsis", ratio=1)
        else:  # ids and the like are never cut
            widest = max((len(row[index]) for row in rows), default=0)
            grid.add_column(header, no_wrap=True, min_width=max(widest, len(header)))
    status_column = list(headers).index("status") if styles and "status" in headers else -1
    for row in rows:
        grid.add_row(
            *(
                Text(cell, style=STATUS_STYLES.get(cell, "") if i == status_column else "")
                for i, cell in enumerate(row)
            )
        )
    console().print(grid)


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """`key: value` lines, aligned at a terminal."""
    items = [(key, "-" if value is None else str(value)) for key, value in pairs]
    if not fancy():
        for key, value in items:
            write(f"{key}: {value}\n")
        return
    width = max((len(key) for key, _ in items), default=0)
    from rich.markup import escape

    for key, value in items:
        console().print(f"[bold]{key.ljust(width)}[/]  {escape(value)}")


def done(identifier: str, message: str) -> None:
    """What a command created or changed: a sentence for people, the bare id for scripts."""
    if fancy():
        console().print(message)
    else:
        write(identifier + "\n")
