"""A run's figures in words, the same in the CLI and the TUI."""

from __future__ import annotations

# Why an answer ended, when that is worth telling: "stop" (the model finished) is not.
_CUT = {
    "length": "answer cut: max_tokens reached",
    "content_filter": "answer cut by the model server's content filter",
}


def finish_note(finish_reason: str | None) -> str | None:
    """What to tell the user about how the answer ended, or None if it simply finished."""
    if finish_reason is None or finish_reason == "stop":
        return None
    return _CUT.get(finish_reason, f"the model stopped: {finish_reason}")


def tokens(total: int | None) -> str:
    """A token count; None is one the model server did not report (never shown as 0)."""
    return "tokens unknown" if total is None else f"{total} tokens"


def count(value: int | None) -> str:
    """A count in a table cell."""
    return "?" if value is None else str(value)
