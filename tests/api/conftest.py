"""Session-wide servers for the API tests: `agio serve` (no auth) and
`uvicorn agio_core.api.app:app` (keys and CORS from its environment), started once."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import httpx
import pytest
from api_helpers import API_KEY, OTHER_KEY
from helpers.agents import QUICK_AGENT, SLOW_AGENT, STEPPER_AGENT
from helpers.servers import Server, agio_serve, clean_env, free_port, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The main server: `agio serve`, no auth, with the slow test agents."""
    instance = agio_serve(tmp_path_factory.mktemp("server"), "agio-serve")
    for agent in (QUICK_AGENT, SLOW_AGENT, STEPPER_AGENT):
        httpx.post(f"{instance.url}/api/agents", json=agent).raise_for_status()
    yield instance
    code = instance.stop()
    log = instance.log()
    # uvicorn re-raises SIGTERM once it has shut down cleanly, so -SIGTERM is a clean exit.
    assert code in {0, -signal.SIGTERM}, f"agio serve exited with {code}:\n{log}"
    assert "Application shutdown complete" in log and "Traceback" not in log, log


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`uvicorn agio_core.api.app:app` with AGIO_API_KEYS and CORS from the environment."""
    workdir = tmp_path_factory.mktemp("auth-server")
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "agio_core.api.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = clean_env(
        workdir / "home",
        AGIO_API_KEYS=f"{API_KEY}, {OTHER_KEY}",
        AGIO_CORS_ORIGINS="https://app.example",
    )
    instance = start_server(argv, workdir, port, env, "uvicorn")
    yield instance
    instance.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
