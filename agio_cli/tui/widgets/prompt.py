"""The message box: a multi-line `TextArea` where Enter sends and a paste stays whole."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

# Terminals send Enter as `enter` and ctrl+j as `ctrl+j` (a line feed); shift+enter reaches the
# app only in terminals with the kitty keyboard protocol, so ctrl+j is the one that always works.
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "newline"})


class Prompt(TextArea):
    """Enter sends; shift+enter or ctrl+j breaks the line; ↑ on the first line and ↓ on the last
    walk through what was sent before. A bracketed paste arrives as one `Paste` event, which
    `TextArea` inserts whole, newlines and all, so a pasted stack trace is one message."""

    class Submitted(Message):
        def __init__(self, prompt: Prompt, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

        @property
        def control(self) -> Prompt:
            return self.prompt

    def __init__(
        self,
        text: str = "",
        *,
        placeholder: str = "",
        id: str | None = None,
        sent: list[str] | None = None,
    ) -> None:
        super().__init__(
            text, id=id, soft_wrap=True, show_line_numbers=False, placeholder=placeholder
        )
        self.sent = sent if sent is not None else []  # what was sent, oldest first
        self._browsing: int | None = None  # index into `sent` while walking it
        self._draft = ""  # what was typed before walking the history

    @property
    def value(self) -> str:
        return self.text

    def set_text(self, text: str) -> None:
        """Replace the text and put the cursor at its end, where typing goes on."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
        else:
            await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.remember(text)
        self._browsing = None
        self.post_message(self.Submitted(self, text))

    def remember(self, text: str) -> None:
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0 or not self.sent:
            super().action_cursor_up(select)
            return
        if self._browsing is None:
            self._draft, self._browsing = self.text, len(self.sent)
        if self._browsing > 0:
            self._browsing -= 1
            self.set_text(self.sent[self._browsing])

    def action_cursor_down(self, select: bool = False) -> None:
        last_row = self.document.line_count - 1
        if select or self.cursor_location[0] < last_row or self._browsing is None:
            super().action_cursor_down(select)
            return
        self._browsing += 1
        if self._browsing >= len(self.sent):
            self._browsing = None
            self.set_text(self._draft)
        else:
            self.set_text(self.sent[self._browsing])
