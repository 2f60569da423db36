"""write_file, edit_file, shell and fetch, called the way a model calls them: through the
offline model's `call TOOL {json}` and the run loop, in a real workspace folder."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agio_core import Agio, Settings
from agio_core.tools import RunContext
from agio_core.tools._context import default_workspace
from agio_core.tools._workspace import Workspace
from agio_core.tools.fetch import fetch
from agio_core.tools.shell import shell

SECRET = "OUTSIDE-THE-WORKSPACE"


async def call(agio: Agio, tool: str, arguments: dict[str, Any], agent: str = "worker") -> Any:
    handle = await agio.start_chat(agent, f"call {tool} {json.dumps(arguments)}")
    events = [event async for event in handle.events()]
    assert events[-1].type == "run_completed", events[-1]
    [result] = [e.model_dump() for e in events if e.type == "tool_call_completed"]
    return result


@pytest.fixture
async def worker(agio: Agio) -> Agio:
    await agio.create_agent(
        {
            "id": "worker",
            "model": "offline/demo",
            "model_params": {"delay_ms": 0},
            "tools": ["write_file", "edit_file", "read_file", "shell", "list_files"],
            # These tests are about the tools; approvals have their own tests.
            "approval": {"*": "allow"},
        }
    )
    return agio


async def test_write_then_edit_then_read(worker: Agio, home: Path) -> None:
    folder = default_workspace(home, "worker")
    wrote = await call(worker, "write_file", {"path": "src/app.py", "content": "a = 1\nb = 2\n"})
    assert not wrote["is_error"] and (folder / "src" / "app.py").read_text() == "a = 1\nb = 2\n"
    edited = await call(
        worker, "edit_file", {"path": "src/app.py", "search": "b = 2", "replace": "b = 3"}
    )
    assert not edited["is_error"] and "line 2" in edited["result"]
    assert (folder / "src" / "app.py").read_text() == "a = 1\nb = 3\n"
    missing = await call(worker, "edit_file", {"path": "src/app.py", "search": "zz", "replace": ""})
    assert missing["is_error"] and "is not in" in missing["result"]
    (folder / "twice.txt").write_text("x x")
    twice = await call(worker, "edit_file", {"path": "twice.txt", "search": "x", "replace": "y"})
    assert twice["is_error"] and "occurs 2 times" in twice["result"]
    assert (folder / "twice.txt").read_text() == "x x"  # untouched
    surrogate = await call(worker, "write_file", {"path": "s.txt", "content": "\ud800"})
    assert surrogate["is_error"] and "surrogates" in surrogate["result"]
    assert not (folder / "s.txt").exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temp files


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../escape.txt", "'..' is not allowed"),
        ("/tmp/escape.txt", "absolute paths"),
        ("link/escape.txt", "symbolic link"),
        ("file-link", "symbolic link"),
        ("~/escape.txt", "absolute paths"),
    ],
)
async def test_writes_never_leave_the_workspace(
    worker: Agio, home: Path, tmp_path: Path, path: str, words: str
) -> None:
    folder = default_workspace(home, "worker")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text(SECRET)
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(outside)
    (folder / "file-link").symlink_to(outside / "target")
    for tool, arguments in (
        ("write_file", {"path": path, "content": "pwned"}),
        ("edit_file", {"path": path, "search": SECRET, "replace": "pwned"}),
    ):
        result = await call(worker, tool, arguments)
        assert result["is_error"] and words in result["result"], result
    assert sorted(p.name for p in outside.iterdir()) == ["target"]
    assert (outside / "target").read_text() == SECRET


def test_a_folder_swapped_for_a_link_mid_way_is_refused(tmp_path: Path) -> None:
    """The check-then-open race: another thread keeps turning `sub` from a real folder into
    a link leading out and back while the tools read and write through it. Nothing outside
    is ever read or written, whatever the timing."""
    root = tmp_path / "ws"
    real, sub = root / "real", root / "sub"
    real.mkdir(parents=True)
    (real / "f.txt").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text(SECRET)
    workspace = Workspace(root)
    stop = threading.Event()
    flips = 0

    def flip() -> None:
        nonlocal flips
        while not stop.is_set():
            for step in (
                lambda: os.rename(real, sub),  # `sub` is the real folder
                lambda: os.rename(sub, real),
                lambda: os.symlink(outside, sub),  # `sub` leads out
                lambda: os.unlink(sub),
            ):
                with contextlib.suppress(OSError):  # a write may have made `sub` meanwhile
                    step()
            flips += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    outcomes = {"read": 0, "refused": 0}
    try:
        for _ in range(400):
            try:
                data = workspace.read_bytes("sub/f.txt", 100)
                assert SECRET.encode() not in data
                outcomes["read"] += 1
            except (OSError, ValueError):
                outcomes["refused"] += 1
            with contextlib.suppress(OSError, ValueError):
                workspace.write_bytes("sub/new.txt", b"x")
    finally:
        stop.set()
        flipper.join()
    assert flips > 10 and outcomes["refused"] > 0
    assert sorted(p.name for p in outside.iterdir()) == ["f.txt"]
    assert (outside / "f.txt").read_text() == SECRET


async def test_shell(worker: Agio, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIO_API_KEYS", "server-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("HARMLESS", "visible")
    result = await call(worker, "shell", {"command": "pwd; env | sort; echo oops >&2; exit 3"})
    text = result["result"]
    assert text.startswith("exit code: 3\n")
    assert str(default_workspace(home, "worker")) in text and "oops" in text
    assert "HARMLESS=visible" in text
    assert "server-secret" not in text and "sk-secret" not in text and "AGIO_" not in text


@pytest.fixture
def ctx(tmp_path: Path, home: Path) -> RunContext:
    return RunContext(run_id="r", agent_id="a", workspace=tmp_path / "ws", settings=Settings())


async def test_shell_timeout_kills_the_whole_group(ctx: RunContext, tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    started = time.monotonic()
    result = await shell(ctx, f"(sleep 2; touch {marker}) & sleep 30", timeout_s=0.5)
    assert result.is_error and "timed out after 0.5 s" in result.content
    assert time.monotonic() - started < 5
    time.sleep(2.5)
    assert not marker.exists()  # the background child was killed too


async def test_shell_output_cap_and_lingering_children(ctx: RunContext) -> None:
    started = time.monotonic()
    result = await shell(ctx, "head -c 1000000 /dev/zero | tr '\\0' y; (sleep 30 &)")
    assert time.monotonic() - started < 10  # the lingering child does not hold the call
    assert "output truncated: first 16384 of 1000000 bytes" in result.content
    assert not result.is_error


# fetch


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        if self.path == "/big":
            body, kind = b"a" * (3 * 1024 * 1024), "text/plain"
        elif self.path == "/binary":
            body, kind = bytes(range(256)), "application/octet-stream"
        else:
            body = (
                b"<html><head><style>p{}</style><script>var x=1;</script></head><body>"
                b"<h1>Title</h1><ul><li>one</li><li>two</li></ul><p>Host: "
                + self.headers["Host"].encode()
                + b"</p></body></html>"
            )
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


async def test_fetch_turns_html_into_text(ctx: RunContext, site: int) -> None:
    result = await fetch(ctx, f"http://localhost:{site}/redirect")
    assert not result.is_error, result.content
    assert "Title" in result.content and "* one" in result.content
    assert "var x" not in result.content and "p{}" not in result.content
    assert f"Host: localhost:{site}" in result.content  # the name, though pinned to an address
    big = await fetch(ctx, f"http://127.0.0.1:{site}/big")
    assert "truncated: only the first 2097152 bytes" in big.content
    binary = await fetch(ctx, f"http://127.0.0.1:{site}/binary")
    assert "not text, not shown" in binary.content
    for bad in ("file:///etc/passwd", "ftp://example.com/", "not a url"):
        assert (await fetch(ctx, bad)).is_error


async def test_fetch_under_serve_refuses_private_addresses(
    ctx: RunContext, site: int, home: Path
) -> None:
    serving = RunContext(**{**ctx.__dict__, "serving": True})
    for url in (
        f"http://localhost:{site}/page",
        f"http://127.0.0.1:{site}/page",
        f"http://[::1]:{site}/page",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        f"http://0.0.0.0:{site}/",
        f"http://[::ffff:127.0.0.1]:{site}/",
    ):
        result = await fetch(serving, url)
        assert result.is_error and "refused under agio serve" in result.content, url
    allowed = RunContext(
        **{**serving.__dict__, "settings": Settings(home=home, fetch_allow_private=True)}
    )
    assert not (await fetch(allowed, f"http://localhost:{site}/page")).is_error
