"""The chat screen: the conversation, streamed live, with the run it follows under control.

What the run is doing lives in the `RunFollower` (no widgets); this screen tells it what the
user wants and shows what it reports (`follower.Starting`, `Events`, `StateChanged`…).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from agio_core import AgioError

from .. import follower as fw
from ..follower import RunFollower
from ..widgets.conversation import Answer, Conversation, MessageAction, RunView, UserMessage
from ..widgets.prompt import Prompt
from ..widgets.status import StatusBar
from .base import AgioScreen, reported


class ChatScreen(AgioScreen):
    BINDINGS = [
        Binding("ctrl+n", "new_chat", "New chat", show=False),
        Binding("ctrl+a", "approve", "Approve…", priority=True, show=False),
        Binding("ctrl+e", "export", "Export", priority=True, show=False),
        Binding("ctrl+f", "fork", "Fork…", priority=True, show=False),
    ]

    def __init__(self, follower: RunFollower, agent_id: str, session_id: str | None) -> None:
        super().__init__()
        self.follower = follower
        follower.subscribe(self.post_message)
        self.agent_id = agent_id
        self.view: RunView | None = None
        self._queued: list[UserMessage] = []
        self._first_session = session_id

    def compose(self) -> ComposeResult:
        yield Conversation(id="conversation")
        yield Prompt(placeholder="Message — Enter sends, ctrl+j new line, ↑ history", id="prompt")
        yield StatusBar(id="status")
        yield self.footer()

    async def on_mount(self) -> None:
        self.prompt.focus()
        self.status_bar.server = self.follower.server
        if not await self.set_agent(self.agent_id, quiet=True):
            self.agio_app.action_pick_agent()
        if self._first_session:
            with reported(self, "Session"):
                await self.open_session(self._first_session)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def prompt(self) -> Prompt:
        return self.query_one(Prompt)

    @property
    def target_run_id(self) -> str | None:
        return self.follower.run_id

    @property
    def shown_status(self) -> str | None:
        """The status on screen (it follows the events shown, never runs ahead of them)."""
        return self.status_bar.status

    def answer_shown(self) -> str:
        """The newest run's answer as far as it is on screen."""
        views = self.query(RunView)
        return views.last().shown if views else ""

    async def control(self, action: fw.ControlAction) -> None:
        await self.follower.control(action)

    # agent and session

    async def set_agent(self, agent_id: str, *, quiet: bool = False) -> bool:
        """Chat with `agent_id` from now on; if it cannot be had, the old agent stays."""
        try:
            agent = await self.agio_app.agio.get_agent(agent_id)
        except AgioError as exc:
            keeps = f" Still chatting with {self.agent_id}." if self.follower.agent_id else ""
            self.notify(
                f"{exc.message}.{keeps} Pick an agent (F2).", title="Agent", severity="error"
            )
            return False
        self.agent_id = self.follower.agent_id = agent.id
        self.status_bar.agent_id, self.status_bar.model = agent.id, agent.model
        if not quiet:
            self.notify(f"Now chatting with {agent.name} ({agent.model})", title="Agent")
        return True

    async def open_session(self, session_id: str) -> None:
        """Show the session's runs, and follow its last run (live if it is still going)."""
        agio = self.agio_app.agio
        page = await agio.list_runs(session_id=session_id, limit=100)
        runs = sorted(page.items, key=lambda run: run.created_at)
        self._clear()
        if not runs:
            self.follower.new_session()
            self.follower.session_id = session_id
            self.notify(f"Session {session_id} is new: your first message starts it.")
            return
        for run in runs[:-1]:
            view = RunView(run.input)
            view.run_id = run.id
            await self.conversation.mount(view)
            async for event in agio.events(run.id, follow=False):
                await view.apply(event)
            await view.finish()
        await self.follower.watch(runs[-1].id)

    def _clear(self) -> None:
        self.view = None
        self.conversation.remove_children(RunView)
        self.status_bar.reset()

    def action_new_chat(self) -> None:
        """A fresh session; a run still going keeps going, and queued messages carry over."""
        self._clear()
        self.follower.new_session()
        self.notify("New chat: the next message starts a new session.")

    # sending

    @on(Prompt.Submitted, "#prompt")
    def _submitted(self, message: Prompt.Submitted) -> None:
        text = message.text.strip()
        message.prompt.clear()
        if not text:
            return
        busy = self.follower.busy
        self.follower.send(text)
        if busy:
            self._show_queued(text)

    def _show_queued(self, text: str, *, first: bool = False) -> None:
        pending = UserMessage(text, queued=True)
        if first:
            self._queued.insert(0, pending)
        else:
            self._queued.append(pending)
        self.conversation.mount(pending)
        waiting = len(self.follower.queue)
        reason = (
            "the run is paused — resume (ctrl+r) or cancel (ctrl+x) it"
            if self.follower.status == "paused"
            else "the agent is still answering"
        )
        self.notify(f"Message queued ({waiting} waiting): {reason}.", title="Queued")

    @on(fw.Starting)
    async def _starting(self, message: fw.Starting) -> None:
        if self._queued and self._queued[0].text == message.text:
            await self._queued.pop(0).remove()
        if self.view is not None:
            await self.view.finish()
        self.view = RunView(message.text, note=message.note)
        await self.conversation.mount(self.view)
        self.status_bar.reset()

    @on(fw.NotSent)
    async def _not_sent(self, message: fw.NotSent) -> None:
        """A message that could not be sent goes back where the user can see and resend it."""
        if self.view is not None and self.view.run_id is None:
            await self.view.remove()
            self.view = None
        if not self.prompt.text:
            self.prompt.set_text(message.text)  # the cursor at the end: typing goes on
        else:
            self.follower.queue.appendleft(message.text)
            self._show_queued(message.text, first=True)
        self.notify(message.reason, title="Not sent", severity="error")

    # what the follower reports

    @on(fw.Events)
    async def _events(self, message: fw.Events) -> None:
        events, view = message.take(), self.view
        if view is None or message.run_id != self.follower.run_id:
            return  # a run the chat no longer follows
        view.run_id = message.run_id
        for event in events:
            await view.apply(event)
            self.status_bar.apply(event)

    @on(fw.StateChanged)
    async def _state_changed(self, message: fw.StateChanged) -> None:
        if message.run is not None:
            self.status_bar.show_run(message.run)
            if message.run.agent_id != self.status_bar.agent_id:
                await self.set_agent(message.run.agent_id, quiet=True)
        self._show_state()

    def _show_state(self) -> None:
        self.status_bar.status = self.follower.shown_status
        self.status_bar.queued = len(self.follower.queue)

    @on(fw.Toast)
    def _notify(self, message: fw.Toast) -> None:
        self.notify(message.text, title=message.title, severity=message.severity)  # type: ignore[arg-type]

    @on(fw.ApprovalNeeded)
    def _approval_needed(self, message: fw.ApprovalNeeded) -> None:
        if self.is_current:
            self.agio_app.open_approvals(message.run_id)
        else:
            self.notify("A tool call waits for your approval (ctrl+a in the chat).")

    def action_approve(self) -> None:
        if self.follower.run_id and self.follower.status == "awaiting_approval":
            self.agio_app.open_approvals(self.follower.run_id)
        else:
            self.notify("Nothing waits for approval in this chat.", severity="warning")

    # actions on a message (a focused one, or the last one from the palette)

    @on(MessageAction)
    async def _message_action(self, message: MessageAction) -> None:
        await self.agio_app.messages.act(message)

    def _views(self) -> list[RunView]:
        return list(self.query(RunView))

    def action_export(self) -> None:
        self.agio_app.messages.export(self._views(), self.agent_id)

    async def _on_last(self, action: str) -> None:
        views = [view for view in self._views() if view.run_id is not None]
        if not views:
            self.notify("No message yet.", severity="warning")
            return
        await self.agio_app.messages.act(MessageAction(action, views[-1]))

    async def action_copy_last(self) -> None:
        answers = self.query(Answer)
        if not answers:
            self.notify("No answer yet.", severity="warning")
            return
        await self.agio_app.messages.act(MessageAction("copy", answers.last()))

    async def action_regenerate(self) -> None:
        await self._on_last("regenerate")

    async def action_edit_last(self) -> None:
        await self._on_last("edit")

    async def action_fork(self) -> None:
        """The fork dialog on the followed run's newest checkpoint."""
        if self.follower.run_id is None:
            self.notify("No run yet: send a message first.", severity="warning")
            return
        await self.agio_app.fork_dialog(self.follower.run_id)
