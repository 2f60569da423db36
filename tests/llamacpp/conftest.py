"""Fixtures for the tests against llama.cpp's server (see llama_server.py): the generated
models, once per session, and one server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_server import (
    GREETER_CHAIN,
    GREETER_CONTEXT,
    REQUIRED,
    TICKER_CHAIN,
    TICKER_CONTEXT,
    LlamaServer,
    missing,
    server_models,
    start_llama_server,
)


@pytest.fixture(scope="session", autouse=True)
def _llamacpp_installed() -> None:
    if (reason := missing()) is not None:
        if REQUIRED:
            pytest.fail(f"AGIO_TEST_REQUIRE_LLAMACPP=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny_gguf import write_model  # needs gguf, which may be missing (then: skipped)

    folder = tmp_path_factory.mktemp("gguf")
    return {
        "greeter": write_model(
            folder / "greeter.gguf", GREETER_CHAIN, context_length=GREETER_CONTEXT
        ),
        "ticker": write_model(folder / "ticker.gguf", TICKER_CHAIN, context_length=TICKER_CONTEXT),
    }


@pytest.fixture(scope="module")
def llama(
    models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """One real llama.cpp server for the test module."""
    server = start_llama_server(tmp_path_factory.mktemp("llama"), server_models(models))
    yield server
    server.stop()
