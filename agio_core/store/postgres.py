"""The PostgreSQL store: one database shared by several `agio serve` workers or hosts.

`AGIO_DATABASE_URL=postgresql://user:password@host:5432/dbname` (any libpq URL; a schema other
than `public` is chosen with `?options=-csearch_path%3Dmyschema`). `open()` creates or migrates
the schema under an advisory lock, so workers that start together do it once:

    agio_schema_version  one row per applied migration
    agio_agents          id, data
    agio_runs            id, the columns listings filter and sort on, data
    agio_checkpoints     id, run_id, number, data (a `CheckpointRecord`: new messages only)
    agio_events          (run_id, seq) primary key, data
    agio_control         every pause/cancel request: who asked, who drove the run then, and
                         when the owner acted on it (`cleared_at`); kept as an audit trail

`data` columns are JSONB holding the same JSON documents as the TinyDB store. PostgreSQL text
cannot hold U+0000, so a NUL character in any string is stored as U+FFFD; nothing else changes.

Durability: every method returns after its transaction committed. Event appends (one per
streamed token) commit with `synchronous_commit = off`, like the TinyDB store's page-cache
appends; `sync_events` (called before each checkpoint and at the end of a run) waits until
the WAL holding them is flushed. Everything else waits for the flush before returning (with
the server's default `synchronous_commit = on`).

Cross-process wakeups use LISTEN/NOTIFY, not polling: `append_events` notifies the run's
channel `agio_ev_<run hex>` with the last seq, `request_control` notifies `agio_control` with
the run id. Each process keeps one listening connection, opened on the first wait; it LISTENs
to a run's channel only while someone in this process follows that run from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..control import CONTROL_POLL_S
from ..errors import StoreError
from ..events import Event
from ..ids import check_checkpoint_id, check_run_id, checkpoint_number, run_of_checkpoint
from ..runs import ControlRequest, Run
from ._base import Damage, RunChanges, Store, parse_logged

log = logging.getLogger("agio.store.postgres")

# Any fixed 64-bit number of our own: serialises schema migrations across processes and hosts.
MIGRATION_LOCK_KEY = 0x61_67_69_6F_5F_64_62  # "agio_db"
CONTROL_CHANNEL = "agio_control"
CONNECT_TIMEOUT_S = 10
LISTENER_TICK_S = 0.1  # how long the listener waits for notifications between housekeeping
LISTEN_LINGER_S = 15.0  # keep LISTENing to a run's channel this long after its last waiter
MAX_CONTROL_FLAGS = 10_000

MIGRATIONS: tuple[tuple[LiteralString, ...], ...] = (
    # 1: the initial schema
    (
        """CREATE TABLE agio_agents (
            id text PRIMARY KEY,
            data jsonb NOT NULL
        )""",
        """CREATE TABLE agio_runs (
            id text PRIMARY KEY,
            agent_id text NOT NULL,
            session_id text NOT NULL,
            status text NOT NULL,
            parent_run_id text,
            created_at timestamptz NOT NULL,
            data jsonb NOT NULL
        )""",
        "CREATE INDEX agio_runs_created ON agio_runs (created_at DESC, id DESC)",
        "CREATE INDEX agio_runs_agent ON agio_runs (agent_id, created_at DESC)",
        "CREATE INDEX agio_runs_session ON agio_runs (session_id, created_at DESC)",
        "CREATE INDEX agio_runs_status ON agio_runs (status, created_at DESC)",
        "CREATE INDEX agio_runs_parent ON agio_runs (parent_run_id)"
        " WHERE parent_run_id IS NOT NULL",
        """CREATE TABLE agio_checkpoints (
            id text PRIMARY KEY,
            run_id text NOT NULL REFERENCES agio_runs (id) ON DELETE CASCADE,
            number integer NOT NULL,
            data jsonb NOT NULL
        )""",
        "CREATE INDEX agio_checkpoints_run ON agio_checkpoints (run_id, number)",
        """CREATE TABLE agio_events (
            run_id text NOT NULL REFERENCES agio_runs (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            data jsonb NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
        """CREATE TABLE agio_control (
            id bigserial PRIMARY KEY,
            run_id text NOT NULL REFERENCES agio_runs (id) ON DELETE CASCADE,
            data jsonb NOT NULL,
            run_owner text,
            cleared_at timestamptz
        )""",
        "CREATE INDEX agio_control_run ON agio_control (run_id, id)",
    ),
    # 2: runs carry the user they are for (SPEC §2), and are listed by it
    (
        "ALTER TABLE agio_runs ADD COLUMN user_id text",
        "UPDATE agio_runs SET user_id = data->>'user_id' WHERE data->>'user_id' IS NOT NULL",
        "CREATE INDEX agio_runs_user ON agio_runs (user_id, created_at DESC)"
        " WHERE user_id IS NOT NULL",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_NO_MESSAGE_ERRORS = (
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.ObjectNotInPrerequisiteState,
)

# A JSON escape of U+0000 that is not itself an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _jsonb(model: BaseModel) -> str:
    """The model as JSON text that PostgreSQL's JSONB accepts."""
    return _jsonb_text(model.model_dump_json())


def _checkpoint_row(record: CheckpointRecord) -> tuple[str, str, int, str]:
    return (
        check_checkpoint_id(record.id),
        run_of_checkpoint(record.id),
        checkpoint_number(record.id),
        _jsonb(record),
    )


def _jsonb_text(text: str) -> str:
    """JSON text as PostgreSQL's JSONB accepts it."""
    if "\\u0000" in text:
        text = _JSON_NUL.sub(r"\1\\ufffd", text)
    return text


def _events_channel(run_id: str) -> str:
    return f"agio_ev_{check_run_id(run_id)[4:]}"


def _connect_kwargs(url: str, application_name: str) -> dict[str, Any]:
    """Connection options: ours, unless the URL sets them."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error:
        given = {}
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:  # how the connections show in pg_stat_activity
        kwargs["application_name"] = application_name
    return kwargs


def describe_url(url: str) -> str:
    """`user@host:port/dbname` for messages: never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable AGIO_DATABASE_URL)"
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"{user}{host}{port}/{params.get('dbname') or ''}"


class ControlRecord(ControlRequest):
    """A stored control request, with who drove the run when it was made and when it was
    handled (`cleared_at`). How operators and tests see which worker asked which to act."""

    run_owner: str | None = None
    cleared_at: datetime | None = None


class _Channel:
    """A run's event channel as seen by this process's listener."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refs = 0
        self.idle_since = time.monotonic()
        self.listening = asyncio.Event()  # LISTEN is in force on the current connection
        self.changed = asyncio.Event()  # replaced after every wakeup
        # The last seq is max(stored, notified): `stored` read from the database once LISTEN
        # was in force (None: not yet), `notified` from notifications since then.
        self.stored: int | None = None
        self.notified = 0
        self.epoch = 0  # connections lost so far

    def reset(self) -> None:
        self.epoch += 1
        self.listening.clear()
        self.stored = None
        self.notified = 0
        self.wake()

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class _Listener:
    """One LISTEN connection per process: wakes local waiters when other processes write."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._closed = False
        self.ready = asyncio.Event()
        self.channels: dict[str, _Channel] = {}
        # Runs with a control request notified since their waiter last looked (set events)
        # or with a waiter right now (unset events).
        self.control: OrderedDict[str, asyncio.Event] = OrderedDict()
        self._task = asyncio.create_task(self._run(), name="agio-postgres-listener")

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    # waiters' side

    def acquire(self, name: str) -> _Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = _Channel(name)
        channel.refs += 1
        return channel

    def release(self, channel: _Channel) -> None:
        channel.refs -= 1
        if channel.refs == 0:
            channel.idle_since = time.monotonic()

    def control_event(self, run_id: str) -> asyncio.Event:
        event = self.control.get(run_id)
        if event is None:
            event = self.control[run_id] = asyncio.Event()
        return event

    # the connection's side

    async def _run(self) -> None:
        backoff = 0.1
        while not self._closed:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, **_connect_kwargs(self._url, "agio-listener")
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CONTROL_CHANNEL)))
                    self.ready.set()
                    backoff = 0.1
                    while not self._closed:
                        await self._sync_channels(conn)
                        async for notify in conn.notifies(timeout=LISTENER_TICK_S):
                            self._dispatch(notify.channel, notify.payload)
            except (psycopg.Error, OSError) as exc:
                if not self._closed:
                    log.warning("PostgreSQL listener: %s; reconnecting", exc)
            except Exception:  # never leave this process without wakeups for good
                log.exception("PostgreSQL listener failed; restarting it")
            finally:
                # Whatever was notified while we were away is lost: everyone looks again.
                self.ready.clear()
                for channel in self.channels.values():
                    channel.reset()
                for event in self.control.values():
                    event.set()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _sync_channels(self, conn: psycopg.AsyncConnection[Any]) -> None:
        now = time.monotonic()
        wanted = [c for c in self.channels.values() if c.refs > 0 and not c.listening.is_set()]
        idle = [
            c
            for c in self.channels.values()
            if c.refs == 0 and now - c.idle_since > LISTEN_LINGER_S
        ]
        statements = [sql.SQL("LISTEN {}").format(sql.Identifier(c.name)) for c in wanted]
        statements += [sql.SQL("UNLISTEN {}").format(sql.Identifier(c.name)) for c in idle]
        if statements:
            await conn.execute(sql.SQL("; ").join(statements))
        for channel in wanted:
            channel.listening.set()
        for channel in idle:
            if channel.refs == 0:
                del self.channels[channel.name]

    def _dispatch(self, channel_name: str, payload: str) -> None:
        if channel_name == CONTROL_CHANNEL:
            self.control_event(payload).set()
            self.control.move_to_end(payload)
            excess = len(self.control) - MAX_CONTROL_FLAGS
            if excess > 0:  # forget old requests nobody here waited for (other owners' runs)
                for run_id in [r for r, e in self.control.items() if e.is_set()][:excess]:
                    del self.control[run_id]
            return
        channel = self.channels.get(channel_name)
        if channel is None or not payload.isdigit():
            return
        channel.notified = max(channel.notified, int(payload))
        channel.wake()


class PostgresStore(Store):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._listener: _Listener | None = None
        self._open_lock: asyncio.Lock | None = None
        self._flush_by_message = True

    def __repr__(self) -> str:
        return f"PostgresStore({describe_url(self.url)!r})"

    # plumbing

    def _error(self, exc: BaseException, doing: str) -> StoreError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"PostgreSQL at {describe_url(self.url)}: cannot {doing}: {detail}")

    async def open(self) -> None:
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pool is not None:
                return
            # One plain connection first: a clear error if the server is unreachable, then
            # the schema, before any pooled connection exists.
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, **_connect_kwargs(self.url, "agio")
                ) as conn:
                    await self._migrate(conn)
            except psycopg.Error as exc:
                raise self._error(exc, "open the database") from exc
            pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                kwargs=_connect_kwargs(self.url, "agio"),
                open=False,
                name="agio",
            )
            await pool.open(wait=False)
            self._pool = pool

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS agio_schema_version ("
                " version integer PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM agio_schema_version")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"PostgreSQL at {describe_url(self.url)} has agio schema version {current}, "
                    f"newer than this agio ({SCHEMA_VERSION}): upgrade agio"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO agio_schema_version (version) VALUES (%s)", (version,)
                )
                log.info("agio schema migrated to version %d", version)

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self, doing: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._error(exc, doing) from exc

    async def _fetch(
        self, doing: str, query: LiteralString | sql.Composed, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        async with self._connection(doing) as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def _execute(
        self, doing: str, query: LiteralString | sql.Composed, params: Sequence[Any] = ()
    ) -> int:
        async with self._connection(doing) as conn:
            cursor = await conn.execute(query, params)
            return cursor.rowcount

    # agents

    async def check(self, *, repair: bool = False) -> list[Damage]:
        from ._postgres_check import check

        return await check(self)  # report only: rows of a shared database stay put

    async def get_agent(self, agent_id: str) -> Agent | None:
        rows = await self._fetch(
            "read an agent", "SELECT data::text FROM agio_agents WHERE id = %s", (agent_id,)
        )
        return Agent.model_validate_json(rows[0][0]) if rows else None

    async def put_agent(self, agent: Agent) -> None:
        await self._execute(
            "save an agent",
            "INSERT INTO agio_agents (id, data) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
            (agent.id, _jsonb(agent)),
        )

    async def delete_agent(self, agent_id: str) -> bool:
        deleted = await self._execute(
            "delete an agent", "DELETE FROM agio_agents WHERE id = %s", (agent_id,)
        )
        return deleted > 0

    async def list_agents(self, tag: str | None = None) -> list[Agent]:
        if tag is None:
            rows = await self._fetch(
                "list agents", 'SELECT data::text FROM agio_agents ORDER BY id COLLATE "C"'
            )
        else:
            rows = await self._fetch(
                "list agents",
                "SELECT data::text FROM agio_agents"
                " WHERE data->'tags' @> jsonb_build_array(%s::text)"
                ' ORDER BY id COLLATE "C"',
                (tag,),
            )
        return [Agent.model_validate_json(row[0]) for row in rows]

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
            _jsonb(run),
        )

    async def create_run(self, run: Run, first_checkpoint: CheckpointRecord | None = None) -> None:
        async with self._connection("create a run") as conn, conn.transaction():
            await conn.execute(self._UPSERT_RUN, self._run_row(run))
            if first_checkpoint is not None:
                await conn.execute(self._UPSERT_CHECKPOINT, _checkpoint_row(first_checkpoint))

    async def save_run(self, run: Run) -> None:
        await self._execute("save a run", self._UPSERT_RUN, self._run_row(run))

    async def get_run(self, run_id: str) -> Run | None:
        rows = await self._fetch(
            "read a run",
            "SELECT data::text FROM agio_runs WHERE id = %s",
            (check_run_id(run_id),),
        )
        return Run.model_validate_json(rows[0][0]) if rows else None

    async def transition_run(
        self, run_id: str, expected: Collection[str], changes: RunChanges
    ) -> Run | None:
        check_run_id(run_id)
        async with self._connection("change a run") as conn, conn.transaction():
            # NO KEY UPDATE: exclusive against other transitions and saves, but it does not
            # block the foreign-key checks of concurrent event and checkpoint inserts.
            cursor = await conn.execute(
                "SELECT data::text FROM agio_runs WHERE id = %s FOR NO KEY UPDATE", (run_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            run = Run.model_validate_json(row[0])
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
            sql.SQL("SELECT data::text FROM agio_runs")
            + where
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s")
        )
        async with self._connection("list runs") as conn, conn.transaction():
            # One snapshot for both, so the total matches the page.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            total_row = await (await conn.execute(count, params)).fetchone()
            rows = await (
                await conn.execute(page, [*params, max(limit, 0), max(offset, 0)])
            ).fetchall()
        total = int(total_row[0]) if total_row else 0
        return total, [Run.model_validate_json(row[0]) for row in rows]

    async def delete_run(self, run_id: str, expected: Collection[str]) -> bool:
        # One statement: the status check and the delete (checkpoints, events and control
        # requests go with it, ON DELETE CASCADE) are atomic against a transition.
        deleted = await self._execute(
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
        await self._execute("save a checkpoint", self._UPSERT_CHECKPOINT, _checkpoint_row(record))

    async def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        rows = await self._fetch(
            "read a checkpoint",
            "SELECT data::text FROM agio_checkpoints WHERE id = %s",
            (check_checkpoint_id(checkpoint_id),),
        )
        return CheckpointRecord.model_validate_json(rows[0][0]) if rows else None

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        rows = await self._fetch(
            "list checkpoints",
            "SELECT data::text FROM agio_checkpoints WHERE run_id = %s ORDER BY number",
            (check_run_id(run_id),),
        )
        return [CheckpointRecord.model_validate_json(row[0]) for row in rows]

    async def page_checkpoints(
        self, run_id: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[CheckpointRecord]]:
        check_run_id(run_id)
        async with self._connection("list checkpoints") as conn, conn.transaction():
            # One snapshot for both, so the total matches the page.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor = await conn.execute(
                "SELECT count(*) FROM agio_checkpoints WHERE run_id = %s", (run_id,)
            )
            total_row = await cursor.fetchone()
            cursor = await conn.execute(
                "SELECT data::text FROM agio_checkpoints WHERE run_id = %s"
                " ORDER BY number LIMIT %s OFFSET %s",
                (run_id, max(limit, 0), max(offset, 0)),
            )
            rows = await cursor.fetchall()
        total = int(total_row[0]) if total_row else 0
        return total, [CheckpointRecord.model_validate_json(row[0]) for row in rows]

    async def mark_superseded(self, run_id: str, checkpoint_ids: Collection[str]) -> None:
        ids = [check_checkpoint_id(c) for c in checkpoint_ids]
        if not ids:
            return
        await self._execute(
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
        await self._execute(
            "append events",
            "WITH config AS (SELECT set_config('synchronous_commit', 'off', true)),"
            " inserted AS (INSERT INTO agio_events (run_id, seq, data)"
            " SELECT %s, seq, data FROM unnest(%s::bigint[], %s::jsonb[]) AS e (seq, data))"
            " SELECT pg_notify(%s, %s) FROM config",
            (
                run_id,
                [event.seq for event in events],
                # Events are serialised once, for the store and every reader alike.
                [_jsonb_text(event.to_json()) for event in events],
                _events_channel(run_id),
                str(max(event.seq for event in events)),
            ),
        )

    async def read_events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        rows = await self._fetch(
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
                await self._execute(
                    "flush events", "SELECT pg_logical_emit_message(true, 'agio', 'sync')"
                )
                return
            except StoreError as exc:
                if not isinstance(exc.__cause__, _NO_MESSAGE_ERRORS):
                    raise
                self._flush_by_message = False
        await self._execute(
            "flush events", "UPDATE agio_runs SET data = data WHERE id = %s", (run_id,)
        )

    async def _last_seq(self, run_id: str) -> int:
        rows = await self._fetch(
            "read events",
            "SELECT coalesce(max(seq), 0) FROM agio_events WHERE run_id = %s",
            (run_id,),
        )
        return int(rows[0][0]) if rows else 0

    # cross-process control

    async def request_control(self, run_id: str, request: ControlRequest) -> None:
        check_run_id(run_id)
        await self._execute(
            "request run control",
            "WITH inserted AS (INSERT INTO agio_control (run_id, data, run_owner)"
            " VALUES (%s, %s::jsonb, (SELECT data->>'owner' FROM agio_runs WHERE id = %s))"
            " RETURNING run_id)"
            " SELECT pg_notify(%s, run_id) FROM inserted",
            (run_id, _jsonb(request), run_id, CONTROL_CHANNEL),
        )

    async def get_control(self, run_id: str) -> ControlRequest | None:
        rows = await self._fetch(
            "read run control",
            "SELECT data::text FROM agio_control WHERE run_id = %s AND cleared_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (check_run_id(run_id),),
        )
        return ControlRequest.model_validate_json(rows[0][0]) if rows else None

    async def clear_control(self, run_id: str) -> None:
        await self._execute(
            "clear run control",
            "UPDATE agio_control SET cleared_at = now() WHERE run_id = %s AND cleared_at IS NULL",
            (check_run_id(run_id),),
        )

    async def control_history(self, run_id: str) -> list[ControlRecord]:
        """Every control request made for the run, oldest first (not part of the contract)."""
        rows = await self._fetch(
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

    # wakeups (LISTEN/NOTIFY)

    def _get_listener(self) -> _Listener:
        if self._listener is None:
            self._listener = _Listener(self.url)
        return self._listener

    async def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        listener = self._get_listener()
        channel = listener.acquire(_events_channel(run_id))
        try:
            while (remaining := deadline - loop.time()) > 0:
                if not channel.listening.is_set():
                    # First wait, or reconnecting: wait until LISTEN is in force.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            channel.listening.wait(), min(remaining, 10 * CONTROL_POLL_S)
                        )
                    if not channel.listening.is_set():
                        return  # the listener is down: the caller polls
                    continue
                changed = channel.changed
                if channel.stored is None:
                    # Events committed before LISTEN took effect were never notified to us.
                    epoch = channel.epoch
                    stored = await self._last_seq(run_id)
                    if channel.epoch == epoch:
                        channel.stored = stored
                    continue
                if max(channel.stored, channel.notified) > after_seq:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        except StoreError as exc:
            log.warning("waiting for events of %s: %s", run_id, exc)
            await asyncio.sleep(min(max(deadline - loop.time(), 0.0), CONTROL_POLL_S))
        finally:
            listener.release(channel)

    async def wait_for_control(self, run_id: str, timeout: float) -> None:
        listener = self._get_listener()
        if not listener.ready.is_set():
            # Starting or reconnecting: requests made meanwhile were not notified to us, so
            # return soon and let the caller look (it polls until we listen again).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.ready.wait(), min(timeout, CONTROL_POLL_S))
            return
        event = listener.control_event(run_id)
        try:
            if not event.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
        finally:
            if listener.control.get(run_id) is event:
                del listener.control[run_id]
