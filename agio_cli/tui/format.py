"""Small text helpers shared by the TUI's widgets (no textual imports)."""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text

OFFLINE_PREFIX = "offline/"

STATUS_STYLES: dict[str, str] = {
    "starting": "cyan",
    "running": "bold cyan",
    "paused": "bold yellow",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "red",
    "interrupted": "yellow",
    "awaiting_approval": "bold magenta",
    "disconnected": "bold white on red",
}
STATUS_ICONS: dict[str, str] = {
    "starting": "…",
    "running": "●",
    "paused": "⏸",
    "completed": "✓",
    "failed": "✗",
    "cancelled": "■",
    "interrupted": "↯",
    "awaiting_approval": "?",
    "disconnected": "⚡",
}


def is_offline(model: str) -> bool:
    return model.startswith(OFFLINE_PREFIX)


def model_label(model: str) -> Text:
    """The model's name; the offline demo model says so loudly."""
    if is_offline(model):
        return Text.assemble((model, "bold"), " ", (" OFFLINE ", "bold black on yellow"))
    return Text(model, style="bold")


def status_text(status: str | None) -> Text:
    if not status:
        return Text("idle", style="dim")
    key = status.rstrip("…")
    icon = STATUS_ICONS.get(key, "…")
    return Text(f"{icon} {status}", style=STATUS_STYLES.get(key, "italic"))


def duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def checkpoint_label(checkpoint_id: str) -> str:
    """`ck_<run>_0003` -> `#0003`: the number is what tells checkpoints of a run apart."""
    return "#" + checkpoint_id.rsplit("_", 1)[-1]


def compact_json(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), ensure_ascii=False)
    except (json.JSONDecodeError, TypeError):
        return arguments


def clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")
