"""What the chat and runs screens share: the run-control keys and a typed `agio_app`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from agio_core import AgioError

if TYPE_CHECKING:
    from ..app import AgioApp
    from ..follower import ControlAction

# Priority bindings: they work while the chat input has the focus (ctrl+x is not "cut" here).
RUN_CONTROL_BINDINGS: list[BindingType] = [
    Binding("ctrl+z", "pause_run", "Pause", priority=True, tooltip="Pause at the next safe point"),
    Binding("ctrl+r", "resume_run", "Resume", priority=True, tooltip="Resume a paused run"),
    Binding("ctrl+x", "cancel_run", "Cancel", priority=True, tooltip="Cancel the run now"),
]


def quiet(binding: BindingType) -> Binding:
    """The same binding, left out of the footer (the palette and the help still list it)."""
    assert isinstance(binding, Binding)
    return dataclasses.replace(binding, show=False)


@contextmanager
def reported(node: Widget | App[Any], title: str) -> Iterator[None]:
    """Show an agio error (unknown id, illegal state, server unreachable) as a notification."""
    try:
        yield
    except AgioError as exc:
        node.notify(exc.message, title=title, severity="error")


class AgioScreen(Screen[None]):
    """A screen whose run-control keys act on `target_run_id`."""

    BINDINGS = RUN_CONTROL_BINDINGS

    @property
    def agio_app(self) -> AgioApp:
        return cast("AgioApp", self.app)

    @property
    def target_run_id(self) -> str | None:
        """The run that pause / resume / cancel act on."""
        return None

    async def control(self, action: ControlAction) -> None:
        """Pause, resume or cancel `target_run_id` (which is not None)."""
        raise NotImplementedError

    def _control(self, action: ControlAction) -> None:
        if self.target_run_id is None:
            self.notify(
                f"No run to {action}: send a message, or pick a run in the runs panel (F3).",
                severity="warning",
            )
            return
        self.run_worker(self.control(action), group="control", exit_on_error=False)

    def action_pause_run(self) -> None:
        self._control("pause")

    def action_resume_run(self) -> None:
        self._control("resume")

    def action_cancel_run(self) -> None:
        self._control("cancel")

    def footer(self) -> Footer:
        return Footer(compact=True, show_command_palette=True)
