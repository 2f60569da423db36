"""Help as people read it, for every command: no `{ID}` braces, type labels or internal
references, whole summaries, and an example; NO_COLOR drops colour, not the layout."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from agio_cli.main import app

from .conftest import Cli


def command_paths(command: Any = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    command = command or get_command(app)
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            found += command_paths(sub, (*path, name))
    return found


PATHS = command_paths()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "agio")
def test_help_reads_well(cli: Cli, path: tuple[str, ...]) -> None:
    text = cli.ok(*path, "--help")
    assert not re.search(r"(?<!\$)\{[A-Z]", text), text  # `{RUN}` (a `${VAR}` is fine)
    assert not re.search(r"<(str|int|float|bool|path|list\[|[a-z]+ range)", text), text
    assert not re.search(r"\bx[<>]=", text), text  # `[x>=1]`
    assert "SPEC" not in text and "§" not in text
    assert "..." not in re.sub(r"[A-Z\]]\.\.\.", "", text)  # summaries cut short
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    if not hasattr(command, "commands"):  # a command, not a group
        assert re.search(r"^  Examples?:$", text, re.M), text
        assert re.search(rf"^    .*agio {re.escape(' '.join(path))}", text, re.M), text


def test_no_color_keeps_the_terminal_layout(cli: Cli, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    cli.chat("-a", cli.agent("fast"), "What is 12*7?")

    def at_a_terminal(**env: str) -> str:
        environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        environment.update(TERM="xterm-256color", COLUMNS="120", **env)
        command = " ".join(shlex.quote(a) for a in cli.command("runs", "list"))
        output: str = pexpect.run(command, env=environment, encoding="utf-8", timeout=30)
        return output

    coloured, plain = at_a_terminal(), at_a_terminal(NO_COLOR="1")
    strip = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
    assert re.search(r"\x1b\[[0-9;]*3[0-7]m", coloured)  # the status is coloured...
    assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;)", plain)  # ...and not with NO_COLOR
    assert strip.sub("", coloured) == strip.sub("", plain)  # the same table either way
    assert "id " in strip.sub("", plain) and "\t" not in plain
