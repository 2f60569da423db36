"""Command palette (ctrl+p): an entry for every action of the TUI."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from .screens.base import AgioScreen
from .screens.chat import ChatScreen
from .screens.runs import RunsScreen


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    action: str  # run on the screen the palette was opened from ("app." ones anywhere)
    screen: type[Screen[None]] = Screen

    def available_on(self, screen: Screen[object]) -> bool:
        return isinstance(screen, self.screen)


COMMANDS: tuple[Command, ...] = (
    Command("Pause run", "Pause the current or selected run", "pause_run", AgioScreen),
    Command("Resume run", "Resume the paused or interrupted run", "resume_run", AgioScreen),
    Command("Cancel run", "Cancel the current or selected run now", "cancel_run", AgioScreen),
    Command("Runs and checkpoints", "Checkpoints, forks and time travel", "app.runs"),
    Command("Choose agent", "Pick the agent to chat with", "app.pick_agent"),
    Command("Help: keys", "Show every key of the TUI", "app.help"),
    Command("Sessions", "Open, delete or list the runs of a session", "app.sessions"),
    Command("New chat", "Start a new session", "new_chat", ChatScreen),
    Command("Fork from the last checkpoint", "New run from this run's state", "fork", ChatScreen),
    Command(
        "Edit and resend the last message", "Fork with an edited query", "edit_last", ChatScreen
    ),
    Command("Regenerate the last answer", "Fork from before the answer", "regenerate", ChatScreen),
    Command("Copy the last answer", "To the clipboard (OSC 52)", "copy_last", ChatScreen),
    Command("Export conversation to Markdown", "Write a .md file here", "export", ChatScreen),
    Command("Approve tool calls", "Decide what the run waits on", "approve", AgioScreen),
    Command("Watch run", "Follow the selected run in the chat, live", "watch", RunsScreen),
    Command("Fork from checkpoint", "New run from the selected checkpoint", "fork", RunsScreen),
    Command("Rewind to checkpoint", "Rerun this run from the checkpoint", "rewind", RunsScreen),
    Command("Refresh runs", "Reload runs, checkpoints and the fork tree", "refresh", RunsScreen),
    Command("Runs: this session or all", "Filter the runs panel", "toggle_session", RunsScreen),
)


class AgioCommands(Provider):
    def _commands(self) -> list[Command]:
        return [command for command in COMMANDS if command.available_on(self.screen)]

    def _run(self, command: Command) -> partial[Coroutine[Any, Any, None]]:
        return partial(self.screen.run_action, command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, self._run(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            if (score := matcher.match(command.title)) > 0:
                title = matcher.highlight(command.title)
                yield Hit(score, title, self._run(command), help=command.help)
