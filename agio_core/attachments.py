"""Files, URLs and images attached to a chat message (`agio chat -f`).

Text becomes context in the user message, under its file name; an image becomes an OpenAI
`image_url` content part (a data URL), which models that take images see and the offline
model says it cannot. Binary files that are not images are refused, and everything is capped
in size, whether it comes from a file, stdin or a URL.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .errors import InvalidInputError

MAX_TEXT_CHARS = 1_000_000
MAX_IMAGE_BYTES = 20_000_000  # OpenAI's own limit per image
# All of one message's attachments, measured as they are sent to `agio serve` (JSON, images
# in base64): one image at MAX_IMAGE_BYTES fits, with room for text. The server's body limit
# for the routes that take attachments is this plus its limit for everything else, so what
# an embedded agio accepts, a server accepts too.
MAX_ATTACHED_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 1_000_000
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


class Attachment(BaseModel):
    """One attachment as the core takes it (also the shape of the API's `attachments`)."""

    name: str = Field(max_length=1000)
    kind: Literal["text", "image"]
    media_type: str = Field(default="text/plain", max_length=200)
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    data: str = Field(default="", max_length=MAX_IMAGE_BYTES * 4 // 3 + 4, description="base64")


def _image_type(raw: bytes) -> str | None:
    for magic, media_type in _IMAGE_MAGIC.items():
        if raw.startswith(magic):
            return media_type
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def attachment_of(name: str, raw: bytes) -> Attachment:
    """Classify `raw`: an image (by its magic bytes), UTF-8 text, or a refusal."""
    if media_type := _image_type(raw):
        if len(raw) > MAX_IMAGE_BYTES:
            raise InvalidInputError(f"{name}: image too large (at most {MAX_IMAGE_BYTES:,} bytes)")
        data = base64.b64encode(raw).decode("ascii")
        return Attachment(name=name, kind="image", media_type=media_type, data=data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InvalidInputError(
            f"{name}: a binary file; -f attaches text files and PNG, JPEG, GIF or WebP images"
        )
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"{name}: too long (at most {MAX_TEXT_CHARS:,} characters)")
    return Attachment(name=name, kind="text", text=text)


def _read_capped(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_IMAGE_BYTES + 1)
    except IsADirectoryError:
        raise InvalidInputError(f"{path}: a directory, not a file") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise InvalidInputError(f"{path}: too large (at most {MAX_IMAGE_BYTES:,} bytes)")
    return raw


def attachment_of_url(url: str) -> Attachment:
    """GET `url` by the `fetch` tool's rules (same client, redirects and time cap; from the
    user's own machine, so local addresses are allowed): an image stays an image, HTML
    becomes readable text as `fetch` renders it, other text comes as it is."""
    import asyncio

    import httpx

    from .tools.fetch import FetchRefused, get_url, readable

    try:
        response, body, cut, _ = asyncio.run(get_url(url, check=False, max_bytes=MAX_IMAGE_BYTES))
    except FetchRefused as exc:
        raise InvalidInputError(f"{url}: {exc}") from None
    except TimeoutError:
        raise InvalidInputError(f"{url}: no complete answer in time") from None
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"{url}: cannot fetch: {exc or type(exc).__name__}") from None
    if response.status_code >= 400:
        raise InvalidInputError(f"{url}: the server answered {response.status_code}")
    if cut:
        raise InvalidInputError(f"{url}: too large (at most {MAX_IMAGE_BYTES:,} bytes)")
    if "html" in response.headers.get("content-type", "").lower():
        return attachment_of(url, readable(response, body, cut).encode("utf-8"))
    return attachment_of(url, body)  # an image, UTF-8 text, or refused as binary


def load_attachment(source: str, *, stdin: bytes | None = None) -> Attachment:
    """A file path, an http(s) URL, or `-` (the bytes of stdin, given by the caller)."""
    if source == "-":
        return attachment_of("stdin", stdin or b"")
    if source.startswith(("http://", "https://")):
        return attachment_of_url(source)
    if "://" in source:
        raise InvalidInputError(f"{source}: only http:// and https:// URLs can be attached")
    path = Path(source).expanduser()
    return attachment_of(path.name, _read_capped(path))


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}{'' if text.endswith(chr(10)) else chr(10)}{fence}"


def check_attached(attachments: list[Attachment]) -> None:
    """Refuse attachments too large together (`MAX_ATTACHED_BYTES`), in one line."""
    if not attachments:
        return
    encoded = json.dumps(
        [a.model_dump() for a in attachments], ensure_ascii=False, separators=(",", ":")
    )
    size = len(encoded.encode("utf-8", "surrogatepass"))
    if size > MAX_ATTACHED_BYTES:
        raise InvalidInputError(
            f"attachments too large together: {size:,} bytes as sent (images in base64); "
            f"at most {MAX_ATTACHED_BYTES:,} per message"
        )


def user_content(message: str, attachments: list[Attachment]) -> str | list[dict[str, Any]]:
    """The user message's `content`: plain text, or text and image parts."""
    check_attached(attachments)
    texts = [f"File: {a.name}\n{_fenced(a.text)}" for a in attachments if a.kind == "text"]
    text = "\n\n".join(part for part in [message, *texts] if part)
    images = [a for a in attachments if a.kind == "image"]
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [
        {"type": "image_url", "image_url": {"url": f"data:{a.media_type};base64,{a.data}"}}
        for a in images
    ]
    return parts


def text_of(content: Any) -> str:
    """The text of a message's `content`, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""
