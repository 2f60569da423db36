"""The PostgreSQL store: one database shared by several `agio serve` workers or hosts.

`AGIO_DATABASE_URL=postgresql://user:password@host:5432/dbname` (any libpq URL; a schema other
than `public` is chosen with `?options=-csearch_path%3Dmyschema`). `open()` creates or migrates
the schema (`_postgres_schema`), so workers that start together do it once:

    agio_schema_version  one row per applied migration
    agio_agents          id, data
    agio_runs            id, the columns listings filter and sort on, data
    agio_checkpoints     id, run_id, number, data (a `CheckpointRecord`: new messages only)
    agio_events          (run_id, seq) primary key, data
    agio_control         every pause/cancel request: who asked, who drove the run then, and
                         when the owner acted on it (`cleared_at`); kept as an audit trail

`data` columns are JSONB holding the same JSON documents as the TinyDB store (`_postgres_db`).

Durability: every method returns after its transaction committed. Event appends (one per
streamed token) commit with `synchronous_commit = off`, like the TinyDB store's page-cache
appends; `sync_events` (called before each checkpoint and at the end of a run) waits until
the WAL holding them is flushed. Everything else waits for the flush before returning (with
the server's default `synchronous_commit = on`).

Cross-process wakeups use LISTEN/NOTIFY, not polling (`_postgres_notify`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import sql
from pydantic import BaseModel, ValidationError

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..errors import StoreError
from ..events import Event
from ..ids import check_checkpoint_id, check_run_id, checkpoint_number, run_of_checkpoint
from ..runs import ControlRequest, Run
from ._base import Damage, RunChanges, Skipped, Store, parse_logged
from ._postgres_db import Database, describe_url, jsonb, jsonb_text
from ._postgres_notify import CONTROL_CHANNEL, Wakeups, events_channel

M = TypeVar("M", bound=BaseModel)
CHECK_HINT = "`agio store check` lists such rows; fix or delete them with SQL"

_NO_MESSAGE_ERRORS = (
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.ObjectNotInPrerequisiteState,
)


def _checkpoint_row(record: CheckpointRecord) -> tuple[str, str, int, str]:
    return (
        check_checkpoint_id(record.id),
        run_of_checkpoint(record.id),
        checkpoint_number(record.id),
        jsonb(record),
    )


class ControlRecord(ControlRequest):
    """A stored control request, with who drove the run when it was made and when it was
    handled (`cleared_at`). How operators and tests see which worker asked which to act."""

    run_owner: str | None = None
    cleared_at: datetime | None = None


class PostgresStore(Store):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.db = Database(url, min_size=min_size, max_size=max_size)
        self._wakeups = Wakeups(url)
        self._flush_by_message = True
        self.skipped = Skipped()

    def __repr__(self) -> str:
        return f"PostgresStore({describe_url(self.url)!r})"

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self._wakeups.close()
        await self.db.close()

    async def check(self, *, repair: bool = False) -> list[Damage]:
        from ._postgres_check import check

        return await check(self)  # report only: rows of a shared database stay put

    def _parsed(self, model: type[M], where: str, text: str) -> M:
        """The record in a row's `data`. One that is no valid `model` (edited by hand, or
        written by another agio) is damaged: a StoreError, as a damaged TinyDB file is."""
        try:
            return model.model_validate_json(text)
        except ValidationError:
            raise StoreError(
                f"PostgreSQL at {describe_url(self.url)}: {where} is damaged: "
                f"not a valid {model.__name__} ({CHECK_HINT})"
            ) from None

    def _readable(self, model: type[M], table: str, rows: Iterable[tuple[Any, ...]]) -> list[M]:
        """The records of (key, data) rows; a damaged one is left out, with a warning once,
        so that it spoils only itself (what the TinyDB store does with a damaged file)."""
        records = []
        for key, text in rows:
            try:
                records.append(self._parsed(model, f"{table}/{key}", text))
            except StoreError as exc:
                self.skipped(exc.message)
        return records

    # agents

    async def get_agent(self, agent_id: str) -> Agent | None:
        rows = await self.db.fetch(
            "read an agent", "SELECT id, data::text FROM agio_agents WHERE id = %s", (agent_id,)
        )
        # A damaged agent is no agent, as in the TinyDB store (whose default agent answers).
        agents = self._readable(Agent, "agio_agents", rows)
        return agents[0] if agents else None

    async def put_agent(self, agent: Agent) -> None:
        await self.db.execute(
            "save an agent",
            "INSERT INTO agio_agents (id, data) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
            (agent.id, jsonb(agent)),
        )

    async def delete_agent(self, agent_id: str) -> bool:
        deleted = await self.db.execute(
            "delete an agent", "DELETE FROM agio_agents WHERE id = %s", (agent_id,)
        )
        return deleted > 0

    async def list_agents(self, tag: str | None = None) -> list[Agent]:
        if tag is None:
            rows = await self.db.fetch(
                "list agents", 'SELECT id, data::text FROM agio_agents ORDER BY id COLLATE "C"'
            )
        else:
            rows = await self.db.fetch(
                "list agents",
                "SELECT id, data::text FROM agio_agents"
                " WHERE data->'tags' @> jsonb_build_array(%s::text)"
                ' ORDER BY id COLLATE "C"',
                (tag,),
            )
        return self._readable(Agent, "agio_agents", rows)

    # runs

    _UPSERT_RUN: LiteralString = (
        "INSERT INTO agio_runs"
        " (id, agent_id, session_id, user_id, status, parent_run_id, created_at, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET agent_id = EXCLUDED.agent_id,"
        " session_id = EXCLUDED.session_id, user_id = EXCLUDED.user_id,"
        " status = EXCLUDED.status,"
        " parent_run_id = EXCLUDED.parent_run_id, created_at = EXCLUDED.created_at,"
        " data = EXCLUDED.data"
    )

    @staticmethod
    def _run_row(run: Run) -> tuple[Any, ...]:
        return (
            check_run_id(run.id),
            run.agent_id,
            run.session_id,
            run.user_id,
            run.status,
            run.parent_run_id,
            run.created_at,
            jsonb(run),
        )

    async def create_run(self, run: Run, first_checkpoint: CheckpointRecord | None = None) -> None:
        async with self.db.connection("create a run") as conn, conn.transaction():
            await conn.execute(self._UPSERT_RUN, self._run_row(run))
            if first_checkpoint is not None:
                await conn.execute(self._UPSERT_CHECKPOINT, _checkpoint_row(first_checkpoint))

    async def save_run(self, run: Run) -> None:
        await self.db.execute("save a run", self._UPSERT_RUN, self._run_row(run))

    async def save_checkpoint(self, record: CheckpointRecord, run: Run) -> None:
        # One transaction, committed synchronously: that flushes the WAL up to its commit,
        # the events appended before it included (see `sync_events`).
        async with self.db.connection("save a checkpoint") as conn, conn.transaction():
            await conn.execute(self._UPSERT_CHECKPOINT, _checkpoint_row(record))
            await conn.execute(self._UPSERT_RUN, self._run_row(run))

    async def get_run(self, run_id: str) -> Run | None:
        rows = await self.db.fetch(
            "read a run",
            "SELECT data::text FROM agio_runs WHERE id = %s",
            (check_run_id(run_id),),
        )
        return self._parsed(Run, f"agio_runs/{run_id}", rows[0][0]) if rows else None

    async def transition_run(
        self, run_id: str, expected: Collection[str], changes: RunChanges
    ) -> Run | None:
        check_run_id(run_id)
        async with self.db.connection("change a run") as conn, conn.transaction():
            # NO KEY UPDATE: exclusive against other transitions and saves, but it does not
            # block the foreign-key checks of concurrent event and checkpoint inserts.
            cursor = await conn.execute(
                "SELECT data::text FROM agio_runs WHERE id = %s FOR NO KEY UPDATE", (run_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            run = self._parsed(Run, f"agio_runs/{run_id}", row[0])
            if run.status not in expected:
                return None
            run = run.model_copy(update=changes(run) if callable(changes) else changes)
            await conn.execute(self._UPSERT_RUN, self._run_row(run))
        return run

    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        parent_run_id: str | None = None,
        search: str | None = None,
        created_before: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[Run]]:
        conditions: list[sql.Composable] = []
        params: list[Any] = []
        if search:
            # strpos, not LIKE: the text is matched as it is, `%` and `_` included.
            conditions.append(
                sql.SQL(
                    "(strpos(lower(data->>'input'), lower(%s)) > 0"
                    " OR strpos(lower(coalesce(data->>'response', '')), lower(%s)) > 0)"
                )
            )
            params += [search, search]
        if created_before is not None:
            conditions.append(sql.SQL("created_at < %s"))
            params.append(created_before)
        for column, value in (
            ("agent_id", agent_id),
            ("status", status),
            ("session_id", session_id),
            ("user_id", user_id),
            ("parent_run_id", parent_run_id),
        ):
            if value is not None:
                conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        where = (
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
        )
        count = sql.SQL("SELECT count(*) FROM agio_runs") + where
        page = (
            sql.SQL("SELECT id, data::text FROM agio_runs")
            + where
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s")
        )
        async with self.db.connection("list runs") as conn, conn.transaction():
            # One snapshot for both, so the total matches the page.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            total_row = await (await conn.execute(count, params)).fetchone()
            rows = await (
                await conn.execute(page, [*params, max(limit, 0), max(offset, 0)])
            ).fetchall()
        total = int(total_row[0]) if total_row else 0
        # A damaged run is counted but left out of the page, as in the TinyDB store.
        return total, self._readable(Run, "agio_runs", rows)

    async def delete_run(self, run_id: str, expected: Collection[str]) -> bool:
        # One statement: the status check and the delete (checkpoints, events and control
        # requests go with it, ON DELETE CASCADE) are atomic against a transition.
        deleted = await self.db.execute(
            "delete a run",
            "DELETE FROM agio_runs WHERE id = %s AND status = ANY(%s)",
            (check_run_id(run_id), list(expected)),
        )
        return deleted > 0

    # checkpoints

    _UPSERT_CHECKPOINT: LiteralString = (
        "INSERT INTO agio_checkpoints (id, run_id, number, data) VALUES (%s, %s, %s, %s::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data"
    )

    async def put_checkpoint(self, record: CheckpointRecord) -> None:
        await self.db.execute("save a checkpoint", self._UPSERT_CHECKPOINT, _checkpoint_row(record))

    async def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        rows = await self.db.fetch(
            "read a checkpoint",
            "SELECT data::text FROM agio_checkpoints WHERE id = %s",
            (check_checkpoint_id(checkpoint_id),),
        )
        if not rows:
            return None
        return self._parsed(CheckpointRecord, f"agio_checkpoints/{checkpoint_id}", rows[0][0])

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        rows = await self.db.fetch(
            "list checkpoints",
            "SELECT id, data::text FROM agio_checkpoints WHERE run_id = %s ORDER BY number",
            (check_run_id(run_id),),
        )
        return self._readable(CheckpointRecord, "agio_checkpoints", rows)

    async def page_checkpoints(
        self, run_id: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[CheckpointRecord]]:
        check_run_id(run_id)
        async with self.db.connection("list checkpoints") as conn, conn.transaction():
            # One snapshot for both, so the total matches the page.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor = await conn.execute(
                "SELECT count(*) FROM agio_checkpoints WHERE run_id = %s", (run_id,)
            )
            total_row = await cursor.fetchone()
            cursor = await conn.execute(
                "SELECT id, data::text FROM agio_checkpoints WHERE run_id = %s"
                " ORDER BY number LIMIT %s OFFSET %s",
                (run_id, max(limit, 0), max(offset, 0)),
            )
            rows = await cursor.fetchall()
        total = int(total_row[0]) if total_row else 0
        return total, self._readable(CheckpointRecord, "agio_checkpoints", rows)

    async def mark_superseded(self, run_id: str, checkpoint_ids: Collection[str]) -> None:
        ids = [check_checkpoint_id(c) for c in checkpoint_ids]
        if not ids:
            return
        await self.db.execute(
            "mark checkpoints superseded",
            "UPDATE agio_checkpoints SET data = jsonb_set(data, '{superseded}', 'true')"
            " WHERE run_id = %s AND id = ANY(%s)",
            (check_run_id(run_id), ids),
        )

    # events

    async def append_events(self, run_id: str, events: list[Event]) -> None:
        if not events:
            return
        check_run_id(run_id)
        # One statement, one implicit transaction: insert, notify on commit, and commit
        # without waiting for the WAL flush (sync_events does that).
        await self.db.execute(
            "append events",
            "WITH config AS (SELECT set_config('synchronous_commit', 'off', true)),"
            " inserted AS (INSERT INTO agio_events (run_id, seq, data)"
            " SELECT %s, seq, data FROM unnest(%s::bigint[], %s::jsonb[]) AS e (seq, data))"
            " SELECT pg_notify(%s, %s) FROM config",
            (
                run_id,
                [event.seq for event in events],
                # Events are serialised once, for the store and every reader alike.
                [jsonb_text(event.to_json()) for event in events],
                events_channel(run_id),
                str(max(event.seq for event in events)),
            ),
        )

    async def read_events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        rows = await self.db.fetch(
            "read events",
            "SELECT data::text FROM agio_events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (check_run_id(run_id), after_seq),
        )
        return list(parse_logged((row[0] for row in rows), f"events of run {run_id}"))

    async def sync_events(self, run_id: str) -> None:
        # A transaction that writes WAL commits with synchronous_commit on, which flushes the
        # WAL up to its commit record: every earlier (asynchronous) append included. The WAL
        # record is a logical-decoding message (no table changes); where that is not allowed,
        # a no-op update of the run's row.
        check_run_id(run_id)
        if self._flush_by_message:
            try:
                await self.db.execute(
                    "flush events", "SELECT pg_logical_emit_message(true, 'agio', 'sync')"
                )
                return
            except StoreError as exc:
                if not isinstance(exc.__cause__, _NO_MESSAGE_ERRORS):
                    raise
                self._flush_by_message = False
        await self.db.execute(
            "flush events", "UPDATE agio_runs SET data = data WHERE id = %s", (run_id,)
        )

    async def _last_seq(self, run_id: str) -> int:
        rows = await self.db.fetch(
            "read events",
            "SELECT coalesce(max(seq), 0) FROM agio_events WHERE run_id = %s",
            (run_id,),
        )
        return int(rows[0][0]) if rows else 0

    # cross-process control

    async def request_control(self, run_id: str, request: ControlRequest) -> None:
        check_run_id(run_id)
        await self.db.execute(
            "request run control",
            "WITH inserted AS (INSERT INTO agio_control (run_id, data, run_owner)"
            " VALUES (%s, %s::jsonb, (SELECT data->>'owner' FROM agio_runs WHERE id = %s))"
            " RETURNING run_id)"
            " SELECT pg_notify(%s, run_id) FROM inserted",
            (run_id, jsonb(request), run_id, CONTROL_CHANNEL),
        )

    async def get_control(self, run_id: str) -> ControlRequest | None:
        rows = await self.db.fetch(
            "read run control",
            "SELECT run_id || '#' || id, data::text FROM agio_control"
            " WHERE run_id = %s AND cleared_at IS NULL ORDER BY id DESC LIMIT 1",
            (check_run_id(run_id),),
        )
        # Polled by the running run: a damaged request is no request, said once.
        requests = self._readable(ControlRequest, "agio_control", rows)
        return requests[0] if requests else None

    async def clear_control(self, run_id: str) -> None:
        await self.db.execute(
            "clear run control",
            "UPDATE agio_control SET cleared_at = now() WHERE run_id = %s AND cleared_at IS NULL",
            (check_run_id(run_id),),
        )

    async def control_history(self, run_id: str) -> list[ControlRecord]:
        """Every control request made for the run, oldest first (not part of the contract)."""
        rows = await self.db.fetch(
            "read run control",
            "SELECT data::text, run_owner, cleared_at FROM agio_control WHERE run_id = %s"
            " ORDER BY id",
            (check_run_id(run_id),),
        )
        return [
            ControlRecord(
                **ControlRequest.model_validate_json(data).model_dump(),
                run_owner=owner,
                cleared_at=cleared_at,
            )
            for data, owner, cleared_at in rows
        ]

    # wakeups (see `_postgres_notify`)

    async def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> None:
        await self._wakeups.wait_for_events(run_id, after_seq, timeout, self._last_seq)

    async def wait_for_control(self, run_id: str, timeout: float) -> None:
        await self._wakeups.wait_for_control(run_id, timeout)
