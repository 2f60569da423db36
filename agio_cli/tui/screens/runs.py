"""Runs and checkpoints: pick a run, walk its checkpoints and forks, travel back in time."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, OptionList, Tree

from agio_core import AgioError, Run

from ..follower import PENDING, ControlAction, control_call, control_outcome
from ..format import checkpoint_label
from ..widgets.fork_tree import ForkTree
from ..widgets.messages import MessageList
from ..widgets.runs_table import RunsTable
from ..widgets.timeline import CheckpointTimeline
from .base import RUN_CONTROL_BINDINGS, AgioScreen, quiet, reported

REFRESH_EVERY_S = 2.0
RUNS_SHOWN = 100
# The API pages at most this many; a longer run shows its first 1,000 steps.
CHECKPOINTS_SHOWN = 1000


def _fingerprint(runs: list[Run]) -> list[tuple[str, str, int]]:
    return [(run.id, run.status, run.checkpoint_count) for run in runs]


class RunsScreen(AgioScreen):
    # At 80 columns the footer holds only these; run control, s and a are in the palette (^p)
    # and the help (f1).
    BINDINGS = [
        *(quiet(binding) for binding in RUN_CONTROL_BINDINGS),
        Binding("escape", "back", "Back"),
        Binding("w", "watch", "Watch"),
        Binding("f", "fork", "Fork"),
        Binding("b", "rewind", "Rewind"),
        Binding("r", "refresh", "Refresh"),
        Binding("s", "toggle_session", "This session / all", show=False),
        Binding("a", "approve", "Approve…", show=False),
        Binding("f2", "app.pick_agent", "Agent", show=False),  # a chat matter
        Binding("f3", "back", "Back", show=False),  # already here
    ]

    def __init__(self, *, session_id: str | None = None) -> None:
        super().__init__()
        self.session_id = session_id  # only this session's runs, if given
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
        yield self.footer()

    async def on_mount(self) -> None:
        self._title_runs()
        self.query_one(CheckpointTimeline).border_title = "Checkpoints"
        self.query_one(ForkTree).border_title = "Fork tree"
        self.query_one(MessageList).border_title = "Messages at checkpoint"
        await self.refresh_runs()
        self.query_one(RunsTable).focus()
        self.set_interval(REFRESH_EVERY_S, self.refresh_runs)

    def _title_runs(self) -> None:
        which = f"of session {self.session_id}" if self.session_id else "all sessions"
        self.query_one(RunsTable).border_title = f"Runs · {which} (s toggles)"

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
                page = await self.agio_app.agio.list_runs(
                    session_id=self.session_id, limit=RUNS_SHOWN
                )
                fingerprint = _fingerprint(page.items)
                if fingerprint != self._fingerprint or force:
                    self._fingerprint = fingerprint
                    self.table.show(page.items)
                    await self._load_details(force=force)
        finally:
            self._refreshing = False

    async def action_refresh(self) -> None:
        await self.refresh_runs(force=True)

    async def action_toggle_session(self) -> None:
        follower = self.agio_app.follower
        if self.session_id is None and follower.session_id is None:
            self.notify("The chat has no session yet: all runs are shown.", severity="warning")
            return
        self.session_id = None if self.session_id else follower.session_id
        self._title_runs()
        await self.refresh_runs(force=True)

    def action_approve(self) -> None:
        run_id = self.target_run_id
        run = self.table.runs.get(run_id) if run_id else None
        if run is None or run.status != "awaiting_approval":
            self.notify("The selected run does not wait for an approval.", severity="warning")
            return
        self.agio_app.open_approvals(run.id)

    async def control(self, action: ControlAction) -> None:
        run_id = self.target_run_id
        if run_id is None:
            return
        self.table.mark(run_id, PENDING[action])
        follower = self.agio_app.follower
        try:
            if run_id == follower.run_id:
                await follower.control(action)  # the chat shows it too
            else:
                run = await control_call(self.agio_app.agio, action, run_id)
                self.notify(control_outcome(action, run), title=run_id)
        except AgioError as exc:
            self.notify(exc.message, title=f"Cannot {action}", severity="error")
        finally:
            # Whatever happened, show the run as the store has it now.
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
            with reported(self.agio_app, "Watch"):
                await self.agio_app.follower.watch(run_id, note=f"watching run {run_id}")

    async def action_fork(self) -> None:
        await self._continue(in_place=False)

    async def action_rewind(self) -> None:
        await self._continue(in_place=True)

    async def _continue(self, *, in_place: bool) -> None:
        checkpoint_id = self.timeline.selected_checkpoint_id
        if checkpoint_id is None or self.target_run_id is None:
            self.notify("Pick a run with checkpoints first.", severity="warning")
            return
        await self.agio_app.fork_dialog(
            self.target_run_id, checkpoint_id=checkpoint_id, in_place=in_place
        )
