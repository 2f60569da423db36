"""Runs and checkpoints: pick a run, walk its checkpoints and forks, travel back in time."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, OptionList, Tree

from agio_core import Run

from ..format import checkpoint_label
from ..widgets.fork_tree import ForkTree
from ..widgets.messages import MessageList
from ..widgets.runs_table import RunsTable
from ..widgets.timeline import CheckpointTimeline
from .base import AgioScreen, reported
from .fork import ForkModal, ForkRequest

REFRESH_EVERY_S = 2.0
RUNS_SHOWN = 100
# The API pages at most this many; a longer run shows its first 1,000 steps.
CHECKPOINTS_SHOWN = 1000


def _fingerprint(runs: list[Run]) -> list[tuple[str, str, int]]:
    return [(run.id, run.status, run.checkpoint_count) for run in runs]


class RunsScreen(AgioScreen):
    BINDINGS = [
        Binding("escape", "back", "Back to chat"),
        Binding("w", "watch", "Watch"),
        Binding("f", "fork", "Fork…"),
        Binding("b", "rewind", "Rewind…"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._fingerprint: list[tuple[str, str, int]] = []
        self._details_of: tuple[str, int] | None = None
        self._refreshing = False

    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs")
        with Horizontal(id="run-details"):
            with Vertical(id="run-history"):
                yield CheckpointTimeline(id="timeline")
                yield ForkTree(id="forks")
            yield MessageList(id="messages")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(RunsTable).border_title = "Runs"
        self.query_one(CheckpointTimeline).border_title = "Checkpoints"
        self.query_one(ForkTree).border_title = "Fork tree"
        self.query_one(MessageList).border_title = "Messages at checkpoint"
        await self.refresh_runs()
        self.query_one(RunsTable).focus()
        self.set_interval(REFRESH_EVERY_S, self.refresh_runs)

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    @property
    def timeline(self) -> CheckpointTimeline:
        return self.query_one(CheckpointTimeline)

    @property
    def target_run_id(self) -> str | None:
        return self.table.selected_run_id

    # loading

    async def refresh_runs(self, *, force: bool = False) -> None:
        """Reload the runs; the table is rebuilt only when something changed."""
        if self._refreshing:
            return  # a slow server: the refresh in flight will do
        self._refreshing = True
        try:
            with reported(self, "Runs"):
                page = await self.agio_app.agio.list_runs(limit=RUNS_SHOWN)
                fingerprint = _fingerprint(page.items)
                if fingerprint != self._fingerprint or force:
                    self._fingerprint = fingerprint
                    self.table.show(page.items)
                    await self._load_details(force=force)
        finally:
            self._refreshing = False

    async def action_refresh(self) -> None:
        await self.refresh_runs(force=True)

    async def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        await self._load_details()

    async def _load_details(self, *, force: bool = False) -> None:
        run_id = self.table.selected_run_id
        run = self.table.runs.get(run_id) if run_id else None
        key = (run.id, run.checkpoint_count) if run else None
        if key == self._details_of and not force:
            return
        self._details_of = key
        if run is None:
            self.timeline.show([])
            self.query_one(ForkTree).clear()
            self._show_messages(None)
            return
        agio = self.agio_app.agio
        with reported(self, "Checkpoints"):
            checkpoints = (await agio.list_checkpoints(run.id, limit=CHECKPOINTS_SHOWN)).items
            tree = await agio.checkpoint_tree(run.id)
            self.timeline.show(checkpoints)
            self.query_one(ForkTree).show(tree, current=run.id)
            self._show_messages(self.timeline.selected_checkpoint_id)

    async def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        await self.action_watch()

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        self._show_messages(message.option.id)

    @work(group="messages", exclusive=True)
    async def _show_messages(self, checkpoint_id: str | None) -> None:
        messages = self.query_one(MessageList)
        if checkpoint_id is None:
            messages.border_title = "Messages at checkpoint"
            await messages.show([])
            return
        with reported(self, "Checkpoint"):
            checkpoint = await self.agio_app.agio.get_checkpoint(checkpoint_id)
            messages.border_title = (
                f"Messages at checkpoint {checkpoint_label(checkpoint_id)} (step {checkpoint.step})"
            )
            await messages.show(checkpoint.messages)

    def on_tree_node_selected(self, message: Tree.NodeSelected[str]) -> None:
        if message.node.data:
            self.table.select(message.node.data)

    # actions

    def action_back(self) -> None:
        self.dismiss()

    async def action_watch(self) -> None:
        if (run_id := self.target_run_id) is not None:
            self.dismiss()
            with reported(self.agio_app.chat, "Watch"):
                await self.agio_app.chat.watch_run(run_id, note=f"watching run {run_id}")

    async def action_fork(self) -> None:
        await self._continue(in_place=False)

    async def action_rewind(self) -> None:
        await self._continue(in_place=True)

    async def _continue(self, *, in_place: bool) -> None:
        checkpoint_id = self.timeline.selected_checkpoint_id
        if checkpoint_id is None:
            self.notify("Pick a run with checkpoints first.", severity="warning")
            return
        with reported(self, "Checkpoint"):
            checkpoint = await self.agio_app.agio.get_checkpoint(checkpoint_id)
            await self.app.push_screen(ForkModal(checkpoint, in_place=in_place), self._continued)

    async def _continued(self, request: ForkRequest | None) -> None:
        if request is None:
            return
        handle = await self.agio_app.continue_from(request)
        if handle is not None:
            self.dismiss()
