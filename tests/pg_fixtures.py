"""PostgreSQL fixtures, imported by the conftest of each folder whose tests need a server.

`postgres_server` is the URL of a database of this test process's own, on the session's server
(tests/pgserver.py: AGIO_TEST_DATABASE_URL, else a private throwaway cluster, one for all
pytest-xdist workers); without PostgreSQL the tests that use it are skipped with the reason.
`postgres_url` gives each test an empty schema of its own in that database.

A database per process, not only a schema per test: LISTEN/NOTIFY channels, advisory locks and
`pg_stat_activity.datname` are per database, so the workers' tests cannot wake, block or
disconnect one another.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator

import pgserver
import pytest


@pytest.fixture(scope="session")
def postgres_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database for this test process."""
    reason = pgserver.unavailable_reason()
    if reason:
        pytest.skip(reason)
    worker = getattr(request.config, "workerinput", None)  # set in a pytest-xdist worker
    try:
        if worker is None:
            server = pgserver.acquire_url()
        else:  # the workers' common folder: the parent of each one's basetemp
            server = pgserver.acquire_shared_url(tmp_path_factory.getbasetemp().parent)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    name = f"agio_test_{worker['workerid'] if worker else 'main'}_{secrets.token_hex(4)}"
    url = None
    try:
        url = pgserver.create_database(server, name)
        if url is None:
            warnings.warn(
                f"{pgserver.URL_ENV}'s user may not create databases: the tests share its "
                "database (each in a schema of its own), so parallel workers may disturb "
                "each other's LISTEN/NOTIFY wakeups",
                stacklevel=1,
            )
        yield url or server
    finally:
        if url is not None:
            pgserver.drop_database(server, name)
        if worker is None:
            pgserver.release_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see a fresh, empty schema of their own."""
    schema, url = pgserver.create_schema(postgres_server)
    try:
        yield url
    finally:
        pgserver.drop_schema(postgres_server, schema)
