"""`agio chat` as a daily driver: several words, -m/--system/-o for one run, -f files, URLs,
images and stdin, -c/-s with the session's own agent, and `agio models`."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer

from .conftest import Cli

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAFAAH/q1zYAAAAAElFTkSuQmCC"
)


def snapshot(cli: Cli, record: dict[str, object]) -> dict[str, object]:
    checkpoint = cli.json("checkpoints", "show", str(record["last_checkpoint_id"]))
    return dict(checkpoint["agent"])


def test_the_words_of_a_message_are_joined(cli: Cli) -> None:
    record = cli.chat("-a", cli.agent("fast"), "what", "is", "12*7?")
    assert record["input"] == "what is 12*7?" and record["response"] == "12*7 = 84."
    # options may come between the words
    assert cli.ok("chat", "what", "is", "-a", "fast", "12*7?") == "12*7 = 84.\n"


def test_model_system_and_options_are_for_this_run_only(cli: Cli) -> None:
    agent = cli.agent("fast")
    record = cli.chat(
        "-a", agent, "--system", "Be terse.", "-o", "temperature", "0.2", "-o", "seed=7", "hello"
    )
    agent_then = snapshot(cli, record)
    assert agent_then["system_prompt"] == "Be terse."
    assert agent_then["model_params"] == {"delay_ms": 0, "temperature": 0.2, "seed": 7}
    assert 'My instructions are: "Be terse."' in str(record["response"])
    plain = snapshot(cli, cli.chat("-a", agent, "hello"))
    assert plain["model_params"] == {"delay_ms": 0}
    assert plain["system_prompt"] != "Be terse."


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["-o", "temperature", "abc"], "temperature: Input should be a valid number"),
        (["-o", "nonsense", "1"], "nonsense: not a parameter of offline models"),
        (["-o", "max_tokens", "1.5"], "max_tokens: Input should be a valid integer"),
        (
            ["-m", "openai/gpt-4o-mini", "-o", "delay_ms", "0"],
            "delay_ms: not a parameter of openai",
        ),
        (["-m", "nonsense"], "unknown model 'nonsense'"),
    ],
)
def test_bad_options_are_usage_errors(cli: Cli, args: list[str], problem: str) -> None:
    result = cli("chat", *args, "hello")
    assert result.exit_code == 2, result.stderr
    assert problem in result.stderr and "Traceback" not in result.stderr
    assert cli.ok("runs", "list", "-q") == ""  # nothing ran


def test_an_option_without_its_value_is_a_usage_error(cli: Cli) -> None:
    result = cli("chat", "hello", "-o", "temperature")
    assert result.exit_code == 2 and "-o needs a KEY and a VALUE" in result.stderr


def test_fork_and_restore_params_are_checked_the_same_way(cli: Cli) -> None:
    record = cli.chat("-a", cli.agent("fast"), "What is 12*7?")
    first = cli.ok("checkpoints", "list", str(record["id"]), "-q").split()[0]
    bad = cli("checkpoints", "fork", first, "-p", "temperature=abc")
    assert bad.exit_code == 2 and "temperature: Input should be a valid number" in bad.stderr
    bad = cli("checkpoints", "restore", first, "--in-place", "-p", "colour=blue")
    assert bad.exit_code == 2 and "colour: not a parameter of offline models" in bad.stderr
    fork = json.loads(cli.ok("checkpoints", "fork", first, "-p", "temperature=0.5", "--json"))
    assert snapshot(cli, fork)["model_params"] == {"delay_ms": 0, "temperature": 0.5}


def test_continue_keeps_the_sessions_agent_unless_told(cli: Cli) -> None:
    agent = cli.agent("fast")
    first = cli.chat("-a", agent, "My name is Ada.")
    assert cli.chat("-c", "What is my name?")["agent_id"] == agent
    assert cli.chat("-s", str(first["session_id"]), "hello")["agent_id"] == agent
    assert cli.chat("-c", "-a", "assistant", "hello")["agent_id"] == "assistant"
    assert cli.chat("hello")["agent_id"] == "assistant"  # a new session: the default agent


def test_files_are_context_with_their_name(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\nship it\n", encoding="utf-8")
    record = cli.chat("-a", cli.agent("fast"), "-f", str(notes), "Summarise.")
    checkpoint = cli.json("checkpoints", "show", str(record["last_checkpoint_id"]), "--messages")
    user = next(m for m in checkpoint["messages"] if m["role"] == "user")
    assert user["content"] == "Summarise.\n\nFile: notes.md\n```\n# Plan\nship it\n```"
    assert record["input"] == "Summarise."


def test_stdin_can_be_a_file_and_images_are_parts(cli: Cli, tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    agent = cli.agent("fast")
    record = json.loads(
        cli.ok(
            "chat",
            "-a",
            agent,
            "-f",
            "-",
            "-f",
            str(image),
            "What is this?",
            "--json",
            input="piped text",
        )
    )
    assert "cannot see images" in str(record["response"])
    checkpoint = cli.json("checkpoints", "show", str(record["last_checkpoint_id"]), "--messages")
    parts = next(m for m in checkpoint["messages"] if m["role"] == "user")["content"]
    assert parts[0]["text"] == "What is this?\n\nFile: stdin\n```\npiped text\n```"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"\x7fELF\x02\x01\x00\x00", "a binary file"), (b"\xff\xfe\x00b", "a binary file")],
)
def test_binary_files_are_refused(cli: Cli, tmp_path: Path, content: bytes, problem: str) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(content)
    result = cli("chat", "-f", str(blob), "hello")
    assert result.exit_code == 2 and problem in result.stderr and "blob.bin" in result.stderr
    missing = cli("chat", "-f", str(tmp_path / "nope.txt"), "hello")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        kind = "text/plain"
        if self.path == "/page.txt":
            body, status = b"fetched text\n", 200
        elif self.path == "/page.html":
            body, status = b"<html><script>x()</script><h1>Title</h1><p>Body text</p></html>", 200
            kind = "text/html; charset=utf-8"
        elif self.path == "/blob":
            body, status = b"\x00\x01binary", 200
            kind = "application/octet-stream"
        elif self.path == "/big":
            body, status = b"x" * 20_000_001, 200
        else:
            body, status = b"nope", 404
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_urls_are_fetched_with_caps(cli: Cli, pages: str) -> None:
    record = cli.chat("-a", cli.agent("fast"), "-f", f"{pages}/page.txt", "Read it.")
    checkpoint = cli.json("checkpoints", "show", str(record["last_checkpoint_id"]), "--messages")
    user = next(m for m in checkpoint["messages"] if m["role"] == "user")
    assert f"File: {pages}/page.txt\n```\nfetched text\n```" in user["content"]
    record = cli.chat("-f", f"{pages}/page.html", "Read it.")
    checkpoint = cli.json("checkpoints", "show", str(record["last_checkpoint_id"]), "--messages")
    user = next(m for m in checkpoint["messages"] if m["role"] == "user")["content"]
    assert "Title" in user and "Body text" in user and "<p>" not in user and "x()" not in user
    blob = cli("chat", "-f", f"{pages}/blob", "hello")
    assert blob.exit_code == 2 and "a binary file" in blob.stderr
    missing = cli("chat", "-f", f"{pages}/missing", "hello")
    assert missing.exit_code == 2 and "answered 404" in missing.stderr
    big = cli("chat", "-f", f"{pages}/big", "hello")
    assert big.exit_code == 2 and "too large" in big.stderr


def test_models_lists_offline_and_the_servers_models(
    cli: Cli, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = cli("models")
    assert listed.stdout == "offline/demo\toffline\toffline: no network, no key\n"
    assert "no AGIO_OPENAI_API_KEY or AGIO_OPENAI_BASE_URL" in listed.stderr
    monkeypatch.setenv("AGIO_OPENAI_BASE_URL", fake_openai.base_url)
    page = cli.json("models")
    assert [m["id"] for m in page["items"]] == [
        "offline/demo",
        "openai/fake-model",
        "openai/gpt-4o-mini",
    ]
    assert page["total"] == 3 and page["offset"] == 0
    monkeypatch.setenv("AGIO_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nobody listens
    down = cli("models")
    assert down.exit_code == 0 and down.stdout.startswith("offline/demo")
    assert "no answer from http://127.0.0.1:9/v1" in down.stderr
