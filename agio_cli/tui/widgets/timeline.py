"""A run's checkpoints as a timeline, oldest first."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agio_core import CheckpointSummary

from ..._wording import count
from ..format import checkpoint_label, clip


class CheckpointTimeline(OptionList):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.checkpoints: list[CheckpointSummary] = []

    @property
    def selected_checkpoint_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None

    def show(self, checkpoints: list[CheckpointSummary]) -> None:
        selected = self.selected_checkpoint_id
        self.checkpoints = checkpoints
        self.set_options(
            self._option(c, last=i == len(checkpoints) - 1) for i, c in enumerate(checkpoints)
        )
        ids = [c.id for c in checkpoints]
        if selected in ids:
            self.highlighted = ids.index(selected)
        elif ids:
            self.highlighted = len(ids) - 1

    @staticmethod
    def _option(checkpoint: CheckpointSummary, *, last: bool) -> Option:
        rail = "└─" if last else "├─"
        style = "dim strike" if checkpoint.superseded else ""
        # One line each, however narrow: the short label, never the raw id; the rest is cut.
        label = Text.assemble(
            (f"{rail}● ", "cyan"),
            (checkpoint_label(checkpoint.id), "bold"),
            f" step {checkpoint.step} {checkpoint.kind}"
            f" · {checkpoint.message_count} msgs · {count(checkpoint.total_tokens)} tok",
            style=style,
            no_wrap=True,
            overflow="ellipsis",
        )
        if checkpoint.superseded:
            label.append(" superseded", style="yellow")
        if checkpoint.description:
            label.append(f" {clip(checkpoint.description, 40)}", style="italic")
        return Option(label, id=checkpoint.id)
