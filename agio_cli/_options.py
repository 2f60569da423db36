"""Options and arguments that several command groups share (same flag, same help)."""

from __future__ import annotations

from typing import Any

import typer

from ._errors import fail
from ._help import AgioCommand

AS_JSON = typer.Option(False, "--json", help="Print JSON.")
RUN_ID = typer.Argument(..., metavar="RUN", help="Run id.")
_PAIR_SEPARATOR = "\0"


class PairOptionCommand(AgioCommand):
    """A command whose `-o KEY VALUE` takes two words, as llm's does. Typer has no repeatable
    two-value option, so the pair is joined into one value before parsing and split again
    by `option_pairs`."""

    pair_options = ("-o", "--option")

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        joined: list[str] = []
        index = 0
        while index < len(args):
            word = args[index]
            if word == "--":
                joined += args[index:]
                break
            if word in self.pair_options and index + 1 < len(args) and "=" not in args[index + 1]:
                if index + 2 >= len(args):
                    fail(f"{word} needs a KEY and a VALUE, e.g. {word} temperature 0.2")
                joined += [word, args[index + 1] + _PAIR_SEPARATOR + args[index + 2]]
                index += 3
                continue
            joined.append(word)
            index += 1
        return super().parse_args(ctx, joined)


def param_value(text: str) -> Any:
    """A parameter's value as YAML reads a scalar (0.2, 12, true, [a, b]); else the text."""
    import yaml

    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


def option_pairs(values: list[str]) -> dict[str, Any]:
    """`-o KEY VALUE`s (or `KEY=VALUE`) as a dict of parameters."""
    params: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition(_PAIR_SEPARATOR)
        if not sep:
            key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            fail(f"-o: expected KEY VALUE, got {value!r}")
        params[key.strip()] = param_value(raw)
    return params
