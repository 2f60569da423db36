"""Opt-in file tools: `read_file` and `list_files`, confined to the agent's workspace.

An agent gets them only by listing them in `tools`. Each agent has one workspace folder,
`AGIO_HOME/workspaces/<agent_id>/` (agent ids are slugs, so this is always a plain child
folder); the tools never see anything else. The folder is not configurable per agent on
purpose: agents can be created over the HTTP API, and a client must not be able to point
an agent at an arbitrary folder of the server.

Confinement: a path must be relative, must not contain `..`, and once resolved (symlinks
followed) must still lie inside the resolved workspace. Only regular files are read (no
FIFOs or devices, which could block or never end), and only their first `MAX_READ_BYTES`.

The run loop tells the tools which workspace is theirs through `WORKSPACE`, a context
variable it sets once at the start of each run's task; asyncio tasks and `to_thread` copy
the context, so concurrent runs of different agents each see their own folder.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path, PurePath

from ._registry import Tool, tool_from_function

MAX_READ_BYTES = 64 * 1024
MAX_LIST_ENTRIES = 500

# The workspace of the run whose task is current; None outside a run.
WORKSPACE: ContextVar[Path | None] = ContextVar("agio_workspace", default=None)


def workspace_of(home: Path, agent_id: str) -> Path:
    """The folder the file tools of agent `agent_id` are confined to."""
    return Path(home) / "workspaces" / agent_id


class OutsideWorkspaceError(ValueError):
    pass


def _workspace() -> Path:
    folder = WORKSPACE.get()
    if folder is None:
        raise RuntimeError("file tools can only be used inside a run")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve(strict=True)


def confine(path: str) -> Path:
    """The real path of `path` inside the current workspace; refuse anything outside it."""
    root = _workspace()
    if "\x00" in path:
        raise OutsideWorkspaceError("a path cannot contain NUL characters")
    relative = PurePath(path.strip() or ".")
    if relative.is_absolute() or relative.anchor:
        raise OutsideWorkspaceError(
            f"{path!r}: absolute paths are not allowed; use a path relative to the workspace"
        )
    if ".." in relative.parts:
        raise OutsideWorkspaceError(f"{path!r}: '..' is not allowed; stay inside the workspace")
    resolved = (root / relative).resolve(strict=False)
    if not resolved.is_relative_to(root):
        raise OutsideWorkspaceError(f"{path!r} leads outside the workspace (through a symlink)")
    return resolved


def read_file(path: str) -> str:
    """Read a UTF-8 text file from this agent's workspace folder.

    Args:
        path: The file's path relative to the workspace, e.g. "notes.txt" or "data/a.csv".
    """
    target = confine(path)
    if not target.exists():
        raise FileNotFoundError(f"{path!r} does not exist in the workspace")
    if not target.is_file():
        raise IsADirectoryError(f"{path!r} is not a regular file")
    with open(target, "rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    truncated = len(data) > MAX_READ_BYTES
    data = data[:MAX_READ_BYTES]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut may fall inside a multi-byte character: that is not a binary file.
        if not truncated or exc.start < len(data) - 3:
            raise ValueError(f"{path!r} is not a UTF-8 text file") from None
        text = data[: exc.start].decode("utf-8")
    if truncated:
        text += f"\n[truncated: only the first {MAX_READ_BYTES} bytes are shown]"
    return text


def list_files(path: str = ".") -> str:
    """List the files and folders in this agent's workspace folder (folders end with '/').

    Args:
        path: A folder relative to the workspace; "." (default) is the workspace itself.
    """
    target = confine(path)
    if not target.exists():
        raise FileNotFoundError(f"{path!r} does not exist in the workspace")
    if not target.is_dir():
        raise NotADirectoryError(f"{path!r} is not a folder")
    with os.scandir(target) as entries:
        names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
    if not names:
        return "(empty)"
    if len(names) > MAX_LIST_ENTRIES:
        more = len(names) - MAX_LIST_ENTRIES
        names = [*names[:MAX_LIST_ENTRIES], f"[… and {more} more]"]
    return "\n".join(names)


FILE_TOOLS: tuple[Tool, ...] = (tool_from_function(read_file), tool_from_function(list_files))
