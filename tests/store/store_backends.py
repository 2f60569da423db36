"""The backends the store contract runs on, by name (shared by conftest, tests and _writer)."""

from __future__ import annotations

import json
from pathlib import Path

from agio_core.ids import run_of_checkpoint
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
    import psycopg

    with psycopg.connect(where, autocommit=True) as connection:
        for line in lines:
            connection.execute(
                "INSERT INTO agio_events (run_id, seq, data) VALUES (%s, %s, %s::jsonb)",
                (run_id, json.loads(line)["seq"], line),
            )


# A record no model accepts (an id must be text), in valid JSON: what a hand edit or another
# agio version leaves, the damage a PostgreSQL `jsonb` column can hold too.
NOT_A_RECORD = '{"id": [1, 2]}'


def damage_record(backend: str, where: str, kind: str, key: str) -> None:
    """Overwrite one stored record with `NOT_A_RECORD`, behind the store's back: `kind` is
    "agent" (key: agent id), "run" (run id), "checkpoint" (checkpoint id) or "control" (run
    id: its latest request)."""
    if backend == "tinydb":
        home = Path(where)
        if kind == "agent":
            index = json.loads((home / "index.json").read_text())
            for doc_id, doc in index["agents"].items():
                if doc["id"] == key:
                    index["agents"][doc_id] = json.loads(NOT_A_RECORD)
            (home / "index.json").write_text(json.dumps(index))
            return
        folder = home / "runs" / (run_of_checkpoint(key) if kind == "checkpoint" else key)
        path = {
            "run": folder / "run.json",
            "checkpoint": folder / "checkpoints" / f"{key}.json",
            "control": folder / "control.json",
        }[kind]
        assert path.exists(), path
        path.write_text(NOT_A_RECORD)
        return
    import psycopg

    table, column = {
        "agent": ("agio_agents", "id"),
        "run": ("agio_runs", "id"),
        "checkpoint": ("agio_checkpoints", "id"),
        "control": ("agio_control", "run_id"),
    }[kind]
    with psycopg.connect(where, autocommit=True) as connection:
        changed = connection.execute(
            f"UPDATE {table} SET data = %s::jsonb WHERE {column} = %s", (NOT_A_RECORD, key)
        ).rowcount
    assert changed, (table, key)
