"""`agio serve --workers 4` on PostgreSQL, for the module's tests; stopped even on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pgserver
import pytest
from pg_fixtures import postgres_server
from serve_helpers import AgioServer, server_env

__all__ = ["postgres_server"]
WORKERS = 4


@pytest.fixture(scope="module")
def database_url(postgres_server: str) -> Iterator[str]:
    schema, url = pgserver.create_schema(postgres_server, prefix="mw")
    try:
        yield url
    finally:
        pgserver.drop_schema(postgres_server, schema)


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgioServer]:
    root = tmp_path_factory.mktemp("serve")
    server = AgioServer(
        server_env(root / "home", database_url),
        workers=WORKERS,
        port=pgserver.free_port(),
        log_path=root / "serve.log",
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
