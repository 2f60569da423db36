"""PostgreSQL fixtures, imported by the conftest of each folder whose tests need a server.

`postgres_server` is the URL of the session's server (tests/pgserver.py: AGIO_TEST_DATABASE_URL,
else a private throwaway cluster); without PostgreSQL the tests that use it are skipped with
the reason. `postgres_url` gives each test an empty schema of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pgserver
import pytest


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL database for this test session."""
    reason = pgserver.unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        url = pgserver.acquire_url()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        pgserver.release_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see a fresh, empty schema of their own."""
    schema, url = pgserver.create_schema(postgres_server)
    try:
        yield url
    finally:
        pgserver.drop_schema(postgres_server, schema)
