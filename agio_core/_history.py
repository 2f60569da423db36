"""A run's history: conversations rebuilt from checkpoints, manual checkpoints, what a fork
or a rewind continues from, fork trees and diffs.

A checkpoint stores its messages as a delta of a base checkpoint (possibly of another run:
forks share their source's history), so the full state is rebuilt along that chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from .checkpoints import (
    AgentSnapshot,
    Checkpoint,
    CheckpointRecord,
    CheckpointSummary,
    Message,
    MessageDiff,
    Modifications,
    TreeNode,
    common_prefix,
    diff_messages,
)
from .errors import ConflictError, InvalidInputError, NotFoundError
from .ids import check_checkpoint_id, checkpoint_id, checkpoint_number, run_of_checkpoint
from .model_params import check_changed_params
from .providers import split_model
from .runs import RUN_STATUSES, Run

if TYPE_CHECKING:
    from .store import Store


class Continuation(NamedTuple):
    """What a fork or a rewind goes on with: the conversation and the agent (as modified),
    and how many of the messages the source checkpoint holds already."""

    messages: list[Message]
    agent: AgentSnapshot
    checkpointed: int


class History:
    """Checkpoints and what they hold; `get_run` reads a run's (reconciled) record."""

    def __init__(self, store: Store, get_run: Callable[[str], Awaitable[Run]]) -> None:
        self.store = store
        self._get_run = get_run

    async def record(self, checkpoint_id_: str) -> CheckpointRecord:
        record = await self.store.get_checkpoint(check_checkpoint_id(checkpoint_id_))
        if record is None:
            raise NotFoundError(f"checkpoint not found: {checkpoint_id_!r}")
        return record

    async def messages_of(self, record: CheckpointRecord) -> list[Message]:
        """Rebuild the full history from the chain of deltas (iteratively: chains are long)."""
        by_id: dict[str, CheckpointRecord] = {}
        loaded_runs: set[str] = set()
        chain = [record]
        while chain[-1].base_id is not None:
            base_id = chain[-1].base_id
            run_id = run_of_checkpoint(base_id)  # ids embed their run: no lookup needed
            if base_id not in by_id and run_id not in loaded_runs:
                loaded_runs.add(run_id)
                by_id.update({r.id: r for r in await self.store.list_checkpoints(run_id)})
            if base_id not in by_id:
                raise NotFoundError(f"checkpoint not found: {base_id!r}")
            chain.append(by_id[base_id])
        messages: list[Message] = []
        for item in reversed(chain):
            messages = messages[: item.base_len] + item.new_messages
        return messages

    async def state_at(self, checkpoint_id_: str) -> tuple[CheckpointRecord, list[Message]]:
        """A checkpoint and the conversation it holds."""
        record = await self.record(checkpoint_id_)
        return record, await self.messages_of(record)

    async def page(
        self, run_id: str, *, limit: int, offset: int
    ) -> tuple[int, list[CheckpointSummary]]:
        """How many checkpoints run `run_id` has, and a page of them, oldest first."""
        if limit < 0 or offset < 0:
            raise InvalidInputError("limit and offset: must not be negative")
        await self._get_run(run_id)  # a run that is not there: not found, not an empty page
        total, records = await self.store.page_checkpoints(run_id, limit=limit, offset=offset)
        return total, [CheckpointSummary.of(r) for r in records]

    async def checkpoint(self, checkpoint_id_: str) -> Checkpoint:
        record, messages = await self.state_at(checkpoint_id_)
        summary = CheckpointSummary.of(record)
        return Checkpoint(
            **summary.model_dump(), messages=messages, agent=record.agent, metrics=record.metrics
        )

    async def add_manual(
        self, run_id: str, *, description: str, tags: list[str]
    ) -> CheckpointSummary:
        """A manual checkpoint of the run's current state (the run must not be running)."""
        run = await self._get_run(run_id)
        if run.status == "running":
            raise ConflictError(
                f"run {run_id} is running and checkpoints itself after every step; "
                "pause it to add a manual checkpoint"
            )
        if run.last_checkpoint_id is None:
            raise ConflictError(f"run {run_id} has no state to checkpoint yet")
        claimed = await self.store.transition_run(
            run_id,
            {s for s in RUN_STATUSES if s != "running"},
            lambda current: {"checkpoint_count": current.checkpoint_count + 1},
        )
        if claimed is None:
            raise ConflictError(f"run {run_id} started running; try again when it stops")
        last = await self.record(claimed.last_checkpoint_id or run.last_checkpoint_id)
        record = CheckpointRecord(
            id=checkpoint_id(run_id, claimed.checkpoint_count - 1),
            run_id=run_id,
            step=last.step,
            kind="manual",
            description=description,
            tags=tags,
            agent=last.agent,
            metrics=last.metrics,
            parent_checkpoint_id=last.id,
            base_id=last.id,
            base_len=last.message_count,
        )
        await self.store.put_checkpoint(record)
        return CheckpointSummary.of(record)

    # forks and rewinds

    async def continuation(self, source: CheckpointRecord, mods: Modifications) -> Continuation:
        """The state to continue from, and how many of its messages `source` holds already
        (the new state is stored as a delta of the source wherever the two agree)."""
        stored = await self.messages_of(source)
        messages, agent = mods.apply(stored, source.agent)
        split_model(agent.model)
        params = check_changed_params(agent.model, agent.model_params, source.agent.model_params)
        agent = agent.model_copy(update={"model_params": params})
        if (
            messages
            and messages[-1].get("role") == "assistant"
            and not messages[-1].get("tool_calls")
        ):
            # The state ends in a final answer: continuing means answering again.
            messages = messages[:-1]
        return Continuation(messages, agent, common_prefix(stored, messages))

    async def later_than(self, source: CheckpointRecord) -> list[str]:
        """The checkpoints of `source`'s run after it, which a rewind to it supersedes."""
        return [
            r.id
            for r in await self.store.list_checkpoints(source.run_id)
            if not r.superseded and checkpoint_number(r.id) > checkpoint_number(source.id)
        ]

    # trees and diffs

    async def tree(self, run_id: str) -> TreeNode:
        """The fork tree that `run_id` belongs to, from its root run down."""
        run = await self._get_run(run_id)
        while run.parent_run_id is not None:
            try:
                run = await self._get_run(run.parent_run_id)
            except NotFoundError:
                break

        async def node(of: Run) -> TreeNode:
            _, children = await self.store.list_runs(parent_run_id=of.id, limit=10_000)
            return TreeNode(
                run_id=of.id,
                status=of.status,
                input=of.input,
                from_checkpoint_id=of.from_checkpoint_id,
                children=[await node(c) for c in sorted(children, key=lambda r: r.created_at)],
            )

        return await node(run)

    async def diff(self, a: str, b: str) -> MessageDiff:
        left, right = await self.checkpoint(a), await self.checkpoint(b)
        return diff_messages(a, left.messages, b, right.messages)
