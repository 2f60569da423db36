"""`AgioApp`: the Textual app behind `agio tui`, over the embedded core or an `agio serve`."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Literal

from textual.app import App
from textual.binding import Binding

from agio_core import Agio, AgioFacade, Run, RunHandleFacade, Settings

from .._backend import open_backend, server_url
from .commands import AgioCommands
from .format import checkpoint_label
from .screens.agents import AgentPicker
from .screens.base import RUN_CONTROL_BINDINGS, reported
from .screens.chat import ChatScreen
from .screens.fork import ForkModal, ForkRequest
from .screens.help import HelpScreen, Section
from .screens.runs import RunsScreen

ControlAction = Literal["pause", "resume", "cancel"]
PENDING: dict[ControlAction, str] = {
    "pause": "pausing…",
    "resume": "resuming…",
    "cancel": "cancelling…",
}
DEFAULT_AGENT = "assistant"


class AgioApp(App[None]):
    TITLE = "agio"
    CSS_PATH = "agio.tcss"
    COMMANDS = App.COMMANDS | {AgioCommands}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "pick_agent", "Agent"),
        Binding("f3", "runs", "Runs"),
    ]

    def __init__(
        self,
        *,
        agent: str = DEFAULT_AGENT,
        session: str | None = None,
        server: str | None = None,
        backend: AgioFacade | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Use `backend` if given (already open); else open one from `settings` or `server`."""
        super().__init__()
        self.agent_id = agent
        self.session_id = session
        self.server = server
        self.settings = settings
        self._backend = backend
        self._stack = AsyncExitStack()
        self._chat: ChatScreen | None = None

    @property
    def agio(self) -> AgioFacade:
        if self._backend is None:
            raise RuntimeError("the agio backend is not open yet")
        return self._backend

    @property
    def chat(self) -> ChatScreen:
        assert self._chat is not None
        return self._chat

    def _open_backend(self) -> AbstractAsyncContextManager[AgioFacade]:
        if self.settings is not None:
            return Agio(self.settings)
        return open_backend(server_url(self.server))

    async def on_mount(self) -> None:
        if self._backend is None:
            self._backend = await self._stack.enter_async_context(self._open_backend())
        self._chat = ChatScreen(self.agent_id, self.session_id)
        await self.push_screen(self._chat)

    async def on_unmount(self) -> None:
        await self._stack.aclose()

    # screens

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections()))

    def action_runs(self) -> None:
        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    def action_pick_agent(self) -> None:
        if not isinstance(self.screen, AgentPicker):
            self.push_screen(AgentPicker(self.chat.agent_id), self._agent_picked)

    async def _agent_picked(self, agent_id: str | None) -> None:
        if agent_id is not None:
            await self.chat.set_agent(agent_id)

    # run control

    def control_run(self, action: ControlAction, run_id: str | None) -> None:
        if run_id is None:
            self.notify(
                f"No run to {action}: send a message, or pick a run in the runs panel (F3).",
                severity="warning",
            )
            return
        self._show_pending(run_id, PENDING[action])
        self.run_worker(self._control(action, run_id), group="control", exit_on_error=False)

    async def _control(self, action: ControlAction, run_id: str) -> None:
        with reported(self, f"Cannot {action}"):
            try:
                if action == "pause":
                    run = await self.agio.pause_run(run_id)
                elif action == "cancel":
                    run = await self.agio.cancel_run(run_id)
                else:
                    handle = await self.agio.resume_run(run_id)
                    self.chat.follow_resumed(run_id, handle.events(after_seq=self.chat.last_seq))
                    run = await self.agio.get_run(run_id)
                self.notify(_control_outcome(action, run), title=run_id)
            finally:
                # Whatever happened, show the run as the store has it now.
                self.chat.show_run_state(await self.agio.get_run(run_id))
                await self._refresh_runs()

    def _show_pending(self, run_id: str, label: str) -> None:
        """Show the requested state at once; the store confirms it a moment later."""
        self.chat.show_pending(run_id, label)
        for screen in self.screen_stack:
            if isinstance(screen, RunsScreen):
                screen.table.mark(run_id, label)

    async def _refresh_runs(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, RunsScreen):
                await screen.refresh_runs(force=True)

    # time travel

    async def continue_from(self, request: ForkRequest) -> RunHandleFacade | None:
        """Fork from (or rewind to) a checkpoint, then watch the new run stream in the chat."""
        after_seq = 0
        with reported(self, "Cannot continue"):
            if request.in_place:
                checkpoint = await self.agio.get_checkpoint(request.checkpoint_id)
                async for event in self.agio.events(checkpoint.run_id, follow=False):
                    after_seq = event.seq  # show only what the rewound run does from now on
                handle = await self.agio.restore_checkpoint(
                    request.checkpoint_id,
                    create_new_run=False,
                    modifications=request.modifications,
                )
            else:
                handle = await self.agio.fork_checkpoint(
                    request.checkpoint_id, modifications=request.modifications
                )
            await self.chat.watch_run(
                handle.run_id,
                note=f"{handle.run_id}: {request.describe()}",
                message=request.modifications.get("modified_query"),
                events=handle.events(after_seq=after_seq),
                after_seq=after_seq,
            )
            return handle
        return None


def _control_outcome(action: ControlAction, run: Run) -> str:
    if action == "pause" and run.status == "paused" and run.last_checkpoint_id:
        return f"Paused at checkpoint {checkpoint_label(run.last_checkpoint_id)}. ctrl+r resumes."
    if action == "pause" and run.status != "paused":
        return f"The run is {run.status}: it ended before its next safe point, nothing to pause."
    return {"pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled."}[action]


def help_sections() -> list[Section]:
    return [
        (
            "Anywhere",
            [
                *AgioApp.BINDINGS,
                Binding("ctrl+p", "command_palette", "Command palette (every action)"),
                Binding("ctrl+q", "quit", "Quit"),
            ],
        ),
        ("Run control (chat: the current run; runs panel: the selected run)", RUN_CONTROL_BINDINGS),
        (
            "Chat",
            [Binding("enter", "submit", "Send (queued while a run is busy)"), *ChatScreen.BINDINGS],
        ),
        (
            "Runs panel (F3)",
            [*RunsScreen.BINDINGS, Binding("enter", "watch", "Watch the highlighted run")],
        ),
        ("Fork / rewind dialog", ForkModal.BINDINGS),
    ]


async def _serve(agent: str, session: str | None, server: str | None) -> None:
    async with open_backend(server_url(server)) as agio:
        await AgioApp(agent=agent, session=session, server=server, backend=agio).run_async()


def run_tui(
    *, agent: str = DEFAULT_AGENT, session: str | None = None, server: str | None = None
) -> None:
    """Run the TUI until the user quits (embedded core, or `server` if given)."""
    asyncio.run(_serve(agent, session, server))


__all__ = ["AgioApp", "run_tui"]
