"""The facade under test, twice: `Agio` embedded in this process, and `RemoteAgio` talking
to a real `agio serve` on loopback (started once for the module). Every test in this folder
runs on both, so the two implementations of `AgioFacade` cannot drift apart."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from helpers.agents import QUICK_AGENT, SLOW_AGENT, STEPPER_AGENT
from helpers.servers import Server, agio_serve

from agio_cli.remote import RemoteAgio
from agio_core import Agio, AgioFacade, Settings

TEST_AGENTS = (QUICK_AGENT, SLOW_AGENT, STEPPER_AGENT)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = agio_serve(tmp_path_factory.mktemp("facade"), "agio-serve")
    for agent in TEST_AGENTS:
        httpx.post(f"{server.url}/api/agents", json=agent).raise_for_status()
    yield server
    code = server.stop()
    assert code in {0, -signal.SIGTERM}, server.log()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture(params=["embedded", "remote"])
async def facade(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[AgioFacade]:
    if request.param == "embedded":
        async with Agio(settings) as agio:
            for agent in TEST_AGENTS:
                await agio.create_agent(agent)
            yield agio
    else:
        server: Server = request.getfixturevalue("served")
        async with RemoteAgio(server.url) as remote:
            yield remote
