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
