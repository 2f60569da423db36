"""The backends the store contract runs on, by name (shared by conftest, tests and _writer)."""

from __future__ import annotations

from pathlib import Path

from agio_core.store import Store
from agio_core.store.tinydb import TinyDBStore

BACKENDS = ("tinydb", "postgres")


def make_store(backend: str, where: str) -> Store:
    """A TinyDB store in the directory `where`, or a PostgreSQL store at the URL `where`."""
    if backend == "tinydb":
        return TinyDBStore(Path(where))
    from agio_core.store.postgres import PostgresStore

    return PostgresStore(where)


def write_raw_events(backend: str, where: str, run_id: str, lines: list[str]) -> None:
    """Put event lines into a run's log as they are, the way an older agio wrote them: the
    TinyDB `events.jsonl`, or rows of PostgreSQL's `agio_events`."""
    if backend == "tinydb":
        with open(Path(where) / "runs" / run_id / "events.jsonl", "a", encoding="utf-8") as log:
            log.writelines(line + "\n" for line in lines)
        return
    import json

    import psycopg

    with psycopg.connect(where, autocommit=True) as connection:
        for line in lines:
            connection.execute(
                "INSERT INTO agio_events (run_id, seq, data) VALUES (%s, %s, %s::jsonb)",
                (run_id, json.loads(line)["seq"], line),
            )
