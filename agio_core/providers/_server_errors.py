"""What a model server's failure tells the user: its own message, on one line, no secrets.

Servers put the message in different places: OpenAI in `{"error": {"message"}}`, FastAPI-based
servers (llama.cpp's Python server, vLLM) in `{"detail": "..."}` or a list of validation
errors, others in plain text, sometimes over many lines (a Python traceback, a pydantic
report). `server_message` finds it and flattens it.
"""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE_CHARS = 300
REDACTED = "[redacted]"


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def message_in(body: Any) -> str | None:
    """The human message inside an error body (a decoded JSON value or text), if any."""
    if isinstance(body, str):
        return body.strip() or None
    if isinstance(body, list):  # FastAPI's 422: [{"loc": [...], "msg": "..."}, ...]
        found = [m for m in map(message_in, body) if m]
        return "; ".join(found) or None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("msg"), str) and isinstance(body.get("loc"), list):
        return f"{'.'.join(map(str, body['loc']))}: {body['msg']}"
    for key in ("error", "message", "detail", "msg"):
        if (text := message_in(body.get(key))) is not None:
            return text
    return None


def server_message(exc: Exception) -> str:
    """The server's message carried by an `openai` exception, on one line."""
    # The SDK hands over the body with any {"error": ...} envelope already removed.
    found = message_in(getattr(exc, "body", None)) or getattr(exc, "message", None) or str(exc)
    return one_line(str(found))


def redact(text: str, secret: str | None) -> str:
    """`text` with every whole occurrence of `secret` replaced.

    Whole values only: a short dummy key such as `x` must not turn "expected" into
    "e[redacted]pected". A key is delimited by anything that cannot be part of one.
    """
    if not secret:
        return text
    return re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", REDACTED, text)
