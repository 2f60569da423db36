"""File tools: `read_file`, `list_files`, `write_file` and `edit_file`, confined to the
run's workspace folder (see `_workspace.py` for how).

An agent gets them only by listing them in `tools`; `write_file` and `edit_file` ask for
approval by default. Only regular files are read (no FIFOs or devices, which could block or
never end), and only their first `MAX_READ_BYTES`.
"""

from __future__ import annotations

from ._context import RunContext
from ._registry import FunctionTool, tool_from_function
from ._workspace import Workspace

MAX_READ_BYTES = 64 * 1024
MAX_WRITE_BYTES = 10 * 1024 * 1024
MAX_LIST_ENTRIES = 500


def _workspace(ctx: RunContext) -> Workspace:
    return Workspace(ctx.workspace)


def _decode(data: bytes, path: str, *, truncated: bool) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut may fall inside a multi-byte character: that is not a binary file.
        if not truncated or exc.start < len(data) - 3:
            raise ValueError(f"{path!r} is not a UTF-8 text file") from None
        return data[: exc.start].decode("utf-8")


def read_file(ctx: RunContext, path: str) -> str:
    """Read a UTF-8 text file from this agent's workspace folder.

    Args:
        path: The file's path relative to the workspace, e.g. "notes.txt" or "data/a.csv".
    """
    data = _workspace(ctx).read_bytes(path, MAX_READ_BYTES)
    truncated = len(data) > MAX_READ_BYTES
    text = _decode(data[:MAX_READ_BYTES], path, truncated=truncated)
    if truncated:
        text += f"\n[truncated: only the first {MAX_READ_BYTES} bytes are shown]"
    return text


def list_files(ctx: RunContext, path: str = ".") -> str:
    """List the files and folders in this agent's workspace folder (folders end with '/').

    Args:
        path: A folder relative to the workspace; "." (default) is the workspace itself.
    """
    names = _workspace(ctx).list(path)
    if not names:
        return "(empty)"
    if len(names) > MAX_LIST_ENTRIES:
        more = len(names) - MAX_LIST_ENTRIES
        names = [*names[:MAX_LIST_ENTRIES], f"[… and {more} more]"]
    return "\n".join(names)


def write_file(ctx: RunContext, path: str, content: str) -> str:
    """Create or replace a UTF-8 text file in this agent's workspace folder (missing folders
    are created).

    Args:
        path: The file's path relative to the workspace, e.g. "notes.txt" or "src/app.py".
        content: The complete new content of the file.
    """
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("content is not valid Unicode (it has lone surrogates)") from None
    if len(data) > MAX_WRITE_BYTES:
        raise ValueError(f"content is {len(data)} bytes; at most {MAX_WRITE_BYTES} are written")
    _workspace(ctx).write_bytes(path, data)
    return f"wrote {len(data)} bytes to {path}"


def edit_file(ctx: RunContext, path: str, search: str, replace: str) -> str:
    """Replace one exact piece of text in a file of this agent's workspace folder.

    Args:
        path: The file's path relative to the workspace.
        search: The exact text to replace; it must occur exactly once in the file.
        replace: The text to put in its place.
    """
    if not search:
        raise ValueError("search text is empty: give the exact text to replace")
    workspace = _workspace(ctx)
    data = workspace.read_bytes(path, MAX_WRITE_BYTES)
    if len(data) > MAX_WRITE_BYTES:
        raise ValueError(f"{path!r} is larger than {MAX_WRITE_BYTES} bytes; not edited")
    text = _decode(data, path, truncated=False)
    found = text.count(search)
    if found != 1:
        where = "is not in" if found == 0 else f"occurs {found} times in"
        raise ValueError(
            f"the search text {where} {path!r}; it must occur exactly once "
            "(copy it exactly, or include more surrounding lines)"
        )
    try:
        new = text.replace(search, replace, 1).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("replace text is not valid Unicode (it has lone surrogates)") from None
    workspace.write_bytes(path, new)
    line = text[: text.index(search)].count("\n") + 1
    return f"edited {path}: replaced 1 occurrence at line {line}"


FILE_TOOLS: tuple[FunctionTool, ...] = (
    tool_from_function(read_file),
    tool_from_function(list_files),
    tool_from_function(write_file, default_policy="ask"),
    tool_from_function(edit_file, default_policy="ask"),
)
