"""The list of runs, newest first, keeping the cursor on the same run across refreshes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from agio_core import Run

from ..format import clip, clock, status_text


class RunsTable(DataTable[str | Text]):
    COLUMNS = ("run", "agent", "status", "input", "started")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.runs: dict[str, Run] = {}

    def on_mount(self) -> None:
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    @property
    def selected_run_id(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def show(self, runs: list[Run]) -> None:
        selected = self.selected_run_id
        self.clear()
        self.runs = {run.id: run for run in runs}
        for run in runs:
            self.add_row(*self._cells(run), key=run.id)
        if selected in self.runs:
            self.select(selected)

    def select(self, run_id: str) -> None:
        if run_id in self.runs:
            self.move_cursor(row=self.get_row_index(run_id))

    def mark(self, run_id: str, status: str) -> None:
        """Show a pending state (`pausing…`) at once, before the store confirms it."""
        if run_id in self.runs:
            self.update_cell(run_id, "status", status_text(status))

    def _cells(self, run: Run) -> tuple[str | Text, ...]:
        prefix = "↳ " if run.parent_run_id else ""
        return (
            run.id,
            run.agent_id,
            status_text(run.status),
            prefix + clip(run.input, 40),
            clock(run.created_at),
        )
