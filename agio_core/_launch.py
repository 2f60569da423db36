"""What a runner is started with: the process's services, and the `Launch` of one run.

A run is driven from one of four starts, each a named constructor of `Launch`: a new chat
(its first checkpoint `auto`), a fork (a new run from a checkpoint), a rewind (its own run
from an earlier checkpoint) and a resume (paused, interrupted or decided: from the last
checkpoint). The runner takes the run and the messages over: it updates both as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .checkpoints import AgentSnapshot, common_prefix
from .errors import InvalidInputError
from .model_params import check_model_params
from .providers import split_model

if TYPE_CHECKING:
    from ._history import Continuation
    from .agents import Agent
    from .checkpoints import CheckpointKind, CheckpointRecord, Message
    from .providers import Providers
    from .runs import Run
    from .settings import Settings
    from .store import Store
    from .tools._mcp import McpPool

# `start` stores a new run with its first checkpoint; `resume` goes on with a stored one.
StartMode = Literal["start", "resume"]


@dataclass(frozen=True)
class Services:
    """What every run of this process shares."""

    settings: Settings
    store: Store
    providers: Providers
    # MCP servers started by this process's runs, kept for its later runs.
    mcp: McpPool
    # True behind `agio serve`: tools then treat the network as someone else's (fetch).
    serving: bool = False


@dataclass(frozen=True)
class Launch:
    """One run's start: its record, agent, conversation, and where its state and log go on."""

    run: Run
    agent: AgentSnapshot
    messages: list[Message]
    step: int
    base: CheckpointRecord | None  # the checkpoint the run's state builds on
    checkpointed: int  # how many of `messages` `base` holds already
    last_seq: int  # the run's events so far: the new ones follow
    mode: StartMode
    # The checkpoint written at the start: (kind, description); None for a plain resume.
    first_checkpoint: tuple[CheckpointKind, str] | None
    resumed_from: str | None = None  # the checkpoint id a continuation starts from

    @classmethod
    def new_chat(
        cls,
        run: Run,
        agent: AgentSnapshot,
        content: str | list[dict[str, Any]],
        *,
        base: CheckpointRecord | None,
        previous: list[Message],
    ) -> Launch:
        """A new run answering `content`, after the `previous` messages of its session
        (which `base` holds) under the agent's system prompt."""
        history = [m for m in previous if m.get("role") != "system"]
        messages: list[Message] = [
            {"role": "system", "content": agent.system_prompt},
            *history,
            {"role": "user", "content": content},
        ]
        return cls(
            run=run,
            agent=agent,
            messages=messages,
            step=0,
            base=base,
            checkpointed=common_prefix(previous, messages),
            last_seq=0,
            mode="start",
            first_checkpoint=("auto", ""),
        )

    @classmethod
    def resume(
        cls, run: Run, source: CheckpointRecord, messages: list[Message], *, last_seq: int
    ) -> Launch:
        """`run` (claimed) going on from its last checkpoint `source`, which holds `messages`."""
        return cls(
            run=run,
            agent=source.agent,
            messages=messages,
            step=source.step,
            base=source,
            checkpointed=len(messages),
            last_seq=last_seq,
            mode="resume",
            first_checkpoint=None,
            resumed_from=source.id,
        )

    @classmethod
    def rewind(
        cls, run: Run, source: CheckpointRecord, planned: Continuation, *, last_seq: int
    ) -> Launch:
        """`run` (claimed) going on from its own earlier checkpoint `source`, as planned."""
        return replace(
            cls.resume(run, source, planned.messages, last_seq=last_seq),
            agent=planned.agent,
            checkpointed=planned.checkpointed,
            first_checkpoint=("fork", f"restored from {source.id}"),
        )

    @classmethod
    def fork(cls, run: Run, source: CheckpointRecord, planned: Continuation) -> Launch:
        """A new run going on from `source` (of another run): a rewind into a run of its own."""
        rewound = cls.rewind(run, source, planned, last_seq=0)
        return replace(rewound, mode="start", first_checkpoint=("fork", f"forked from {source.id}"))


def chat_agent(
    agent: Agent,
    *,
    model: str | None,
    system_prompt: str | None,
    model_params: dict[str, Any] | None,
    workspace: str | None,
) -> AgentSnapshot:
    """`agent` as a new chat runs it, with the options given for this run only (checked:
    the model's provider takes `model_params`, `workspace` is a folder)."""
    model = model or agent.model
    split_model(model)
    params = {**agent.model_params, **check_model_params(model, model_params or {})}
    if workspace is not None:
        folder = Path(workspace).expanduser()
        if not folder.is_dir():
            raise InvalidInputError(f"workspace: {workspace!r} is not a folder")
        workspace = str(folder.absolute())
    return AgentSnapshot(
        agent_id=agent.id,
        model=model,
        model_params=params,
        system_prompt=agent.system_prompt if system_prompt is None else system_prompt,
        tools=agent.tools,
        max_steps=agent.max_steps,
        workspace=workspace if workspace is not None else agent.workspace,
    )
