"""What a tool knows about the run that calls it (handed to tools that ask for `ctx`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings


@dataclass(frozen=True)
class RunContext:
    """The run a tool call belongs to.

    A tool function asks for it by naming its first parameter `ctx` (as in pydantic-ai);
    it is not part of the tool's schema, so the model never sees or sets it.
    """

    run_id: str
    agent_id: str
    workspace: Path  # the folder file and shell tools work in (created on first use)
    settings: Settings
    # True under `agio serve`: the machine's network is not the caller's (fetch refuses
    # private addresses unless AGIO_FETCH_ALLOW_PRIVATE is set).
    serving: bool = False


def default_workspace(home: Path, agent_id: str) -> Path:
    """The workspace of an agent that names none: AGIO_HOME/workspaces/<agent_id>/."""
    return Path(home) / "workspaces" / agent_id


def workspace_for(settings: Settings, agent_id: str, configured: str | None) -> Path:
    """The agent's workspace folder as an absolute path (`~` expanded)."""
    if configured is None:
        return default_workspace(settings.home, agent_id).absolute()
    return Path(configured).expanduser().absolute()


def inside_home(settings: Settings, folder: Path) -> bool:
    """Whether `folder` lies inside AGIO_HOME once both are resolved (links followed)."""
    return folder.resolve().is_relative_to(Path(settings.home).resolve())
