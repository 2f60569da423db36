"""The llama.cpp server killed mid-stream (SIGKILL): the run fails at once with a clear
error, keeps what had streamed, and agio goes on serving. A server of its own: it dies."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_server import KEY, LlamaServer, follow, server_models, start_llama_server

from agio_core import Agio, Settings


@pytest.fixture
def doomed(models: dict[str, Path], tmp_path: Path) -> Iterator[LlamaServer]:
    server = start_llama_server(tmp_path / "llama", server_models(models))
    yield server
    server.stop()


async def test_the_server_killed_mid_stream(home: Path, doomed: LlamaServer) -> None:
    settings = Settings(home=home, openai_base_url=doomed.base_url, openai_api_key=KEY)
    async with Agio(settings) as agio:
        await agio.create_agent(
            {"id": "ticker", "model": "openai/ticker", "model_params": {"max_retries": 0}}
        )

        async def kill() -> None:
            doomed.process.send_signal(signal.SIGKILL)

        handle = await agio.start_chat("ticker", "tick")
        events = await follow(handle, at_delta=5, then=kill)
        assert events[-1]["type"] == "run_failed"
        record = await agio.get_run(handle.run_id)
        assert record.status == "failed" and record.error is not None
        assert record.error.type == "connection_error", record.error
        assert "closed the stream early" in record.error.message
        assert "\n" not in record.error.message
        assert record.response is not None and record.response.startswith(" tick" * 5)

        # The next run finds no server: a clear failure too, and the facade still works.
        again = await agio.chat("ticker", "tick")
        assert again.status == "failed" and again.error is not None
        assert again.error.type == "connection_error"
        assert "cannot reach the model server" in again.error.message
