"""What can be done with a message of the conversation: copy it, copy its code, edit and resend
it, regenerate the answer, and export the whole conversation to Markdown."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType

from agio_core import AgioError

from .screens.fork import ForkModal, ForkRequest
from .widgets.conversation import Answer, MessageAction, RunView, UserMessage, code_blocks

if TYPE_CHECKING:
    from .app import AgioApp

MESSAGE_BINDINGS: list[BindingType] = [
    *UserMessage.BINDINGS,
    *(b for b in Answer.BINDINGS if isinstance(b, Binding) and b.key != "c"),
]
# Tried in order when the terminal may not honour OSC 52 (a copy it cannot be asked about).
LOCAL_CLIPBOARDS = (
    ("pbcopy",),
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
)


def copy_locally(text: str) -> str | None:
    """Copy with the first clipboard program found; its name, or None."""
    for command in LOCAL_CLIPBOARDS:
        if shutil.which(command[0]) is None:
            continue
        try:
            subprocess.run(command, input=text.encode(), timeout=2, check=True)
        except (OSError, subprocess.SubprocessError):
            continue
        return command[0]
    return None


def export_markdown(views: list[RunView], agent: str, directory: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = directory / f"agio-chat-{stamp}.md"
    body = "\n".join(view.to_markdown(agent) for view in views)
    path.write_text(f"# Conversation with {agent}\n\n{body}", encoding="utf-8")
    return path


class MessageActions:
    def __init__(self, app: AgioApp) -> None:
        self.app = app

    def copy(self, text: str, what: str) -> None:
        """OSC 52 (works over ssh and in tmux with set-clipboard); a local clipboard as well."""
        self.app.copy_to_clipboard(text)
        local = copy_locally(text)
        how = (
            f" (and {local})"
            if local
            else " (OSC 52: if nothing is pasted, your terminal blocks it)"
        )
        self.app.notify(f"Copied {what}{how}.", title="Copy")

    async def act(self, message: MessageAction) -> None:
        widget, view = message.widget, message.run_view
        if message.action == "copy":
            text = widget.text if isinstance(widget, UserMessage | Answer) else ""
            self.copy(text, f"{len(text)} characters")
        elif message.action == "copy_code" and isinstance(widget, Answer):
            self._copy_code(widget)
        elif message.action in ("edit", "regenerate") and view is not None:
            await self.resend(view, edit=message.action == "edit")

    def _copy_code(self, answer: Answer) -> None:
        blocks = code_blocks(answer.text)
        if not blocks:
            self.app.notify("This answer has no code block.", severity="warning")
            return
        answer.code_copied = answer.code_copied % len(blocks) + 1
        index = len(blocks) - answer.code_copied  # the last first; again for the one before
        more = " — k again for the one before" if len(blocks) > 1 else ""
        self.copy(blocks[index], f"code block {index + 1} of {len(blocks)}{more}")

    async def resend(self, view: RunView, *, edit: bool) -> None:
        """Edit and resend, or regenerate: a fork from the run's first checkpoint (its state
        before the model answered), so the original run stays as it was."""
        if view.run_id is None:
            self.app.notify("This message has not started a run yet.", severity="warning")
            return
        agio = self.app.agio
        try:
            checkpoints = (await agio.list_checkpoints(view.run_id, limit=1)).items
            if not checkpoints:
                self.app.notify("This run has no checkpoint to go back to.", severity="warning")
                return
            checkpoint = await agio.get_checkpoint(checkpoints[0].id)
        except AgioError as exc:
            self.app.notify(exc.message, title="Cannot resend", severity="error")
            return
        if not edit:
            await self.app.continue_from(ForkRequest(checkpoint.id, in_place=False))
            return

        async def chosen(request: ForkRequest | None) -> None:
            if request is not None:
                await self.app.continue_from(request)

        self.app.push_screen(ForkModal(checkpoint, title="Edit and resend"), chosen)

    def export(self, views: list[RunView], agent: str) -> None:
        if not views:
            self.app.notify("Nothing to export yet.", severity="warning")
            return
        try:
            path = export_markdown(views, agent, Path.cwd())
        except OSError as exc:
            self.app.notify(f"Cannot write the export: {exc}", severity="error")
            return
        self.app.notify(f"Exported to {path}", title="Export", timeout=10)
