"""`agio store check` on PostgreSQL: rows the models cannot read, and listing columns that
disagree with their record.

PostgreSQL keeps every write whole (transactions) and its `jsonb` is always valid JSON, so
what can be damaged is content: a row edited by hand or written by another agio version. Such
rows are reported by table and key and left where they are: `--repair` does not delete rows
from a shared database (fix or delete them with SQL, then check again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg import sql
from pydantic import ValidationError

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..events import parse_event
from ..runs import ControlRequest, Run
from ._base import Damage

if TYPE_CHECKING:
    from .postgres import PostgresStore

# (table, key expression, what reads a row's data, what the row should be)
RECORDS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("agio_agents", "id", Agent.model_validate_json, "agent"),
    ("agio_runs", "id", Run.model_validate_json, "run record"),
    ("agio_checkpoints", "id", CheckpointRecord.model_validate_json, "checkpoint"),
    ("agio_events", "run_id || '#' || seq", parse_event, "event"),
    ("agio_control", "run_id || '#' || id", ControlRequest.model_validate_json, "control request"),
)


async def check(store: PostgresStore) -> list[Damage]:
    found: list[Damage] = []
    for table, key, read, what in RECORDS:
        query = sql.SQL("SELECT {key}, data::text FROM {table}").format(
            key=sql.SQL(key),
            table=sql.Identifier(table),  # key: a constant of ours
        )
        for ident, data in await store.db.fetch(f"check {table}", query):
            try:
                read(data)
            except ValidationError as exc:
                problem = f"not a valid {what}: {exc.errors()[0]['msg']}"
                found.append(Damage(path=f"{table}/{ident}", problem=problem))
    stale = await store.db.fetch(
        "check the run listing columns",
        "SELECT id FROM agio_runs WHERE status IS DISTINCT FROM data->>'status'",
    )
    damaged = {d.path for d in found}
    found += [
        Damage(path=f"agio_runs/{row[0]}", problem="status column disagrees with the record")
        for row in stale
        if f"agio_runs/{row[0]}" not in damaged  # a damaged record has no status to agree with
    ]
    return found
