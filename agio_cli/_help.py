"""Help text as people read it: `RUN` rather than `{RUN}`, no `<str>` or `<int range>` type
labels, no `x>=1` ranges, and command summaries that are whole sentences, not cut mid-phrase.

Typer's plain (non-rich) help writes those labels; these classes rewrite the records before
Click lays them out, so the columns stay aligned.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

_TYPE_LABEL = re.compile(r" <(?:[a-z]+(?: range)?|list\[[a-z]+\])>")
_CHOICES = re.compile(r" <([^<>\s]+\|[^<>\s]+)>")
_RANGE = re.compile(r"(?:-?[\d.]+<=?)?x(?:[<>]=?-?[\d.]+)?")
_EXTRA = re.compile(r"\s*\[([^\[\]]*)\]$")


def clean_name(name: str, placeholder: str) -> str:
    """An option's or argument's name column; a bare type label becomes `placeholder`."""
    name = _TYPE_LABEL.sub(f" {placeholder}" if placeholder else "", name)
    return _CHOICES.sub(lambda m: " [" + m.group(1) + "]", name)


def clean_help(text: str) -> str:
    """The help column without Typer's `x>=1` ranges in its `[default: …]` note."""
    extra = _EXTRA.search(text)
    if extra is None:
        return text
    kept = [part for part in extra.group(1).split("; ") if not _RANGE.fullmatch(part.strip())]
    return text[: extra.start()] + (f"  [{'; '.join(kept)}]" if kept else "")


def clean_usage_piece(piece: str) -> str:
    """`{RUN}` -> `RUN`."""
    return re.sub(r"\{([^{}]+)\}", r"\1", piece)


def summary(help_text: str | None) -> str:
    """A command's first sentence, whole."""
    first = (help_text or "").strip().split("\n\n")[0]
    return " ".join(first.split())


class HelpCommandMixin:
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [clean_usage_piece(p) for p in pieces]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            record = param.get_help_record(ctx)
            if record is None:
                continue
            is_argument = param.param_type_name == "argument"
            placeholder = "" if is_argument else (param.name or "value").upper()
            section = "Arguments" if is_argument else "Options"
            sections[section].append((clean_name(record[0], placeholder), clean_help(record[1])))
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class AgioCommand(HelpCommandMixin, TyperCommand):
    def get_short_help_str(self, limit: int = 45) -> str:
        return summary(self.short_help or self.help)


class HelpGroup(HelpCommandMixin, TyperGroup):
    def get_short_help_str(self, limit: int = 45) -> str:
        return summary(self.short_help or self.help)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command.short_help or command.help)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class AgioTyper(typer.Typer):
    """A Typer whose groups and commands write the help above (unless told another class)."""

    def __init__(self, *, cls: type[TyperGroup] | None = None, **options: Any) -> None:
        super().__init__(cls=cls or HelpGroup, **options)

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **options: Any) -> Any:
        return super().command(*args, cls=cls or AgioCommand, **options)
