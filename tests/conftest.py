"""Shared fixtures: a private AGIO_HOME per test, the core facade, and a fake OpenAI server.

The suite runs in pytest-xdist workers (`-n 2 --dist loadgroup` in pyproject.toml): tests are
handed out one by one, except those of an `xdist_group`, which run one after the other on one
worker. A module whose tests share a module-scoped fixture (a server, a browser) is made such a
group here, so its fixture starts once rather than once per worker.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pgserver
import pytest
from fake_openai import FakeOpenAIServer

from agio_core import Agio, Settings

# A suite started as a background job (`cmd &` in a script) inherits an ignored SIGINT, and
# so would every agio it starts: the Ctrl-C tests would then see Ctrl-C ignored, as a
# background job rightly does. The processes the tests start stand for a terminal's
# foreground: a handled SIGINT here becomes the default one in each program they exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (its own modifyitems)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures is None or item.get_closest_marker("xdist_group"):
            continue
        if any(defs[-1].scope == "module" for defs in fixtures.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist the workers share one throwaway PostgreSQL cluster (pg_fixtures.py):
    # the controller stops it once they are all done. Their common folder is the controller's
    # basetemp, found as xdist itself finds it.
    if session.config.pluginmanager.has_plugin("dsession"):
        pgserver.stop_shared_cluster(session.config._tmp_path_factory.getbasetemp())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AGIO_HOME, and an environment free of the developer's own agio settings."""
    for name in list(os.environ):
        if name.startswith("AGIO_") or name in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}:
            monkeypatch.delenv(name)
    agio_home = tmp_path / "home"
    monkeypatch.setenv("AGIO_HOME", str(agio_home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    return agio_home


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
async def agio(settings: Settings) -> AsyncIterator[Agio]:
    async with Agio(settings) as facade:
        yield facade


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The session's fake OpenAI-compatible server, emptied for this test."""
    _fake_openai_server.reset()
    return _fake_openai_server
