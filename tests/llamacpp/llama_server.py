"""The real llama.cpp server: llama-cpp-python's `python -m llama_cpp.server`, serving tiny
generated models (tiny_gguf.py) on a loopback port.

Two models behind one server (its config file lists both; it loads the one a request names):

- `greeter` (`chatml-function-calling`): answers every chat with GREETING; when a tool call is
  forced with `tool_choice`, the server's grammar makes it call `calculator` with
  CALCULATOR_ARGUMENTS. A small context (GREETER_CONTEXT) lets a long prompt overflow it.
- `ticker` (`chatml`): says " tick" for ever (until max_tokens or its context is full): a
  stream that is still going when a test pauses, cancels or kills it.

The server needs llama-cpp-python[server] (built from source by .ci/run, pinned) and `gguf`.
Without them these tests skip and say why; where .ci/run installed them
(AGIO_TEST_REQUIRE_LLAMACPP=1) a missing piece is a failure instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.servers import free_port, wait_until_serving

from agio_core import Event, RunHandle

KEY = "x"  # the short dummy key people give local servers (and redaction must not mangle)
GREETING = "Hello from llama.cpp!"
CALCULATOR_ARGUMENTS = '{"expression":"6*7"}'
GREETER_CONTEXT = 4096
TICKER_CONTEXT = 8192
STARTUP_TIMEOUT_S = 90
GREETER_CHAIN = {
    # The runner-up "f" is what the grammar of tool_choice "auto" (`"functions.NAME:" |
    # "message:"`) leaves once the greeting is ruled out: the server then picks a function.
    "assistant\n": ["Hello", "<0x66>"],
    "Hello": ["▁from"],
    "▁from": ["▁llama.cpp"],
    "▁llama.cpp": ["!"],
    # After llama-cpp-python's "functions.calculator:\n" for a forced call: the arguments.
    ":\n": ['{"expression":"'],
    '{"expression":"': ["6*7"],
    "6*7": ['"}'],
}
TICKER_CHAIN = {"assistant\n": ["▁tick"], "▁tick": ["▁tick"]}
REQUIRED = os.environ.get("AGIO_TEST_REQUIRE_LLAMACPP") == "1"


def missing() -> str | None:
    """Why the server cannot be run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return (
            "llama-cpp-python is not installed: .ci/run builds llama-cpp-python[server] 0.3.36 "
            "from source into /root/.cache/agio-ci/wheels and installs it from there"
        )
    if importlib.util.find_spec("starlette_context") is None:
        return "llama-cpp-python is installed without its [server] extra"
    if importlib.util.find_spec("gguf") is None:
        return "gguf is not installed (it comes with: pip install -e '.[test]')"
    return None


@dataclass
class LlamaServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def chat_answers(self, status: int) -> int:
        """How many chat requests the server has answered with `status` (its access log)."""
        return self.log().count(f'"POST /v1/chat/completions HTTP/1.1" {status}')

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def model_settings(alias: str, path: Path, chat_format: str, n_ctx: int) -> dict[str, Any]:
    # One thread: the machine is shared, and a one-layer model gains nothing from more.
    return {
        "model": str(path),
        "model_alias": alias,
        "chat_format": chat_format,
        "n_ctx": n_ctx,
        "n_threads": 1,
        "n_threads_batch": 1,
        "verbose": False,
    }


def start_llama_server(workdir: Path, models: list[dict[str, Any]]) -> LlamaServer:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "api_key": KEY,
        "interrupt_requests": True,  # its default: a new request cuts the current stream
        "models": models,
    }
    config_path = workdir / "llama-server.json"
    config_path.write_text(json.dumps(config))
    log_path = workdir / "llama-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGIO_", "OPENAI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_path)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LlamaServer(f"http://127.0.0.1:{port}", process, log_path)
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        wait_until_serving(
            process,
            f"{server.base_url}/models",
            "llama_cpp.server",
            server.log,
            timeout=STARTUP_TIMEOUT_S,
            headers=headers,
        )
    except BaseException:
        server.stop()
        raise
    return server


def flat(event: Event) -> dict[str, Any]:
    """An event as one flat dict: its fields beside the envelope, as on the wire."""
    return event.model_dump(mode="json")


async def follow(
    handle: RunHandle, *, at_delta: int = 0, then: Callable[[], Awaitable[Any]] | None = None
) -> list[dict[str, Any]]:
    """The run's events until it stops; `then()` is awaited at its `at_delta`-th text delta."""
    events: list[dict[str, Any]] = []
    deltas = 0
    async for event in handle.events():
        events.append(flat(event))
        if event.type == "content_delta":
            deltas += 1
            if deltas == at_delta and then is not None:
                await then()
    return events


def server_models(models: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        model_settings("greeter", models["greeter"], "chatml-function-calling", GREETER_CONTEXT),
        model_settings("ticker", models["ticker"], "chatml", TICKER_CONTEXT),
    ]
