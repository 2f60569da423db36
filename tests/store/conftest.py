"""Store fixtures: every contract test runs on TinyDB and on PostgreSQL.

PostgreSQL comes from `AGIO_TEST_DATABASE_URL`, or from a private server started for the
session (see tests/pgserver.py); without either, the PostgreSQL cases are skipped and say why.
Each test gets its own empty schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pg_fixtures import postgres_server, postgres_url
from store_backends import BACKENDS, make_store

from agio_core.store import Store

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend, where): a TinyDB home directory or a PostgreSQL URL."""
    if request.param == "tinydb":
        return "tinydb", str(tmp_path / "home")
    return "postgres", request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(store_location: tuple[str, str]) -> AsyncIterator[Store]:
    opened = make_store(*store_location)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
