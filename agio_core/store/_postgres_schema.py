"""The PostgreSQL store's schema: its migrations, applied in order under an advisory lock.

`agio_schema_version` holds one row per applied migration; workers that start together
migrate once (the others wait on the lock, then find nothing left to do). A database
migrated by a newer agio is refused rather than written in a shape this one does not know.
"""

from __future__ import annotations

import logging
from typing import Any, LiteralString

import psycopg

from ..errors import StoreError

log = logging.getLogger("agio.store.postgres")

# Any fixed 64-bit number of our own: serialises schema migrations across processes and hosts.
MIGRATION_LOCK_KEY = 0x61_67_69_6F_5F_64_62  # "agio_db"

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


async def migrate(conn: psycopg.AsyncConnection[Any], where: str) -> None:
    """Bring the schema `conn` sees up to `SCHEMA_VERSION`; `where`: the database, for
    messages."""
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
                f"PostgreSQL at {where} has agio schema version {current}, "
                f"newer than this agio ({SCHEMA_VERSION}): upgrade agio"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO agio_schema_version (version) VALUES (%s)", (version,))
            log.info("agio schema migrated to version %d", version)
