"""The facade contract: what every face (CLI, TUI) may call on "a backend".

`agio_core.Agio` (embedded: runs in this process) and `agio_cli.remote.RemoteAgio` (an
`agio serve` over HTTP) both implement `AgioFacade`, and their run handles `RunHandleFacade`;
mypy checks both against these protocols (see `agio_cli/_backend.py`), and
`tests/facade` runs one behavioural suite on both. A method the faces need goes here first,
then into both implementations.

What only a server calls on its own `Agio` (housekeeping, the batched reading behind its SSE
relay) is not part of the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from .agents import Agent, AgentSpec
    from .approvals import ApprovalDecision
    from .attachments import Attachment
    from .checkpoints import Checkpoint, CheckpointSummary, MessageDiff, Modifications, TreeNode
    from .events import Event
    from .models import ModelCatalog
    from .runs import Run
    from .service import Page
    from .tools._toolbox import ToolInfo


class RunHandleFacade(Protocol):
    """A run just started, resumed or continued from a checkpoint."""

    @property
    def run_id(self) -> str: ...

    @property
    def first_seq(self) -> int:
        """The seq of this stretch's first event (run_started or run_resumed): follow it with
        `events(after_seq=first_seq - 1)`."""
        ...

    def events(self, after_seq: int = 0) -> AsyncIterator[Event]: ...

    async def wait(self) -> Run:
        """The run once it stops running (completed, failed, cancelled, paused, interrupted)."""
        ...

    async def cancel(self, reason: str = "cancelled by user") -> Run: ...

    async def pause(self) -> Run: ...

    async def decide(
        self, decisions: list[ApprovalDecision], *, remember: bool = False
    ) -> RunHandleFacade | None: ...


class AgioFacade(Protocol):
    """Agents, runs, their events and checkpoints: the calls the faces make."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # agents and tools

    async def get_agent(self, agent_id: str) -> Agent: ...

    async def list_agents(
        self, tag: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[Agent]: ...

    async def create_agent(
        self, spec: AgentSpec | dict[str, Any], *, replace: bool = False
    ) -> Agent: ...

    async def update_agent(self, agent_id: str, spec: AgentSpec | dict[str, Any]) -> Agent: ...

    async def delete_agent(self, agent_id: str) -> None: ...

    async def create_agent_from_file(self, path: Any, *, replace: bool = False) -> Agent: ...

    async def list_tools(
        self, agent_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page[ToolInfo]: ...

    async def list_models(self) -> ModelCatalog: ...

    # runs: reading and deleting

    async def get_run(self, run_id: str) -> Run: ...

    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        search: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Run]: ...

    async def delete_run(self, run_id: str) -> None: ...

    async def prune_runs(
        self,
        *,
        older_than: timedelta | None = None,
        status: str | None = None,
        dry_run: bool = False,
    ) -> list[str]: ...

    async def latest_session(self) -> str | None: ...

    def events(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True
    ) -> AsyncIterator[Event]: ...

    # runs: starting and control

    async def start_chat(
        self,
        agent_id: str,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        model_params: dict[str, Any] | None = None,
        attachments: list[Attachment] | None = None,
    ) -> RunHandleFacade: ...

    async def chat(
        self, agent_id: str, message: str, *, session_id: str | None = None, **options: Any
    ) -> Run: ...

    async def pause_run(self, run_id: str, *, wait: float = ...) -> Run: ...

    async def cancel_run(
        self, run_id: str, *, reason: str = "cancelled by user", wait: float = ...
    ) -> Run: ...

    async def resume_run(self, run_id: str) -> RunHandleFacade: ...

    async def decide(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> Run:
        """Approve or deny tool calls the run waits on; the run as it is then."""
        ...

    async def decide_and_continue(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> RunHandleFacade | None:
        """`decide`; the continuation once no call is undecided, else None."""
        ...

    # checkpoints

    async def list_checkpoints(
        self, run_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[CheckpointSummary]: ...

    async def get_checkpoint(self, checkpoint_id_: str) -> Checkpoint: ...

    async def create_checkpoint(
        self, run_id: str, *, description: str = "", tags: list[str] | None = None
    ) -> CheckpointSummary: ...

    async def restore_checkpoint(
        self,
        checkpoint_id_: str,
        *,
        create_new_run: bool = True,
        modifications: Modifications | dict[str, Any] | None = None,
    ) -> RunHandleFacade: ...

    async def fork_checkpoint(
        self, checkpoint_id_: str, *, modifications: Modifications | dict[str, Any] | None = None
    ) -> RunHandleFacade: ...

    async def checkpoint_tree(self, run_id: str) -> TreeNode: ...

    async def diff_checkpoints(self, a: str, b: str) -> MessageDiff: ...
