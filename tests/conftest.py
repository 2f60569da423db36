"""Shared fixtures: a private AGIO_HOME per test, the core facade, and a fake OpenAI server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer

from agio_core import Agio, Settings


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
