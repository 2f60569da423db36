"""The opt-in file tools cannot read outside the agent's workspace folder.

`read_file` and `list_files` are confined to `AGIO_HOME/workspaces/<agent_id>/`: `..`,
absolute paths and symlinks (any: they are never followed) are refused, as results the model sees
(`is_error`), and nothing outside the folder is ever returned. Driven the way a model drives
them: tool calls from the fake OpenAI server, through the facade and the run loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer, TextReply, ToolCall, ToolCallsReply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from agio_core import Agio, Settings, ToolCallCompleted
from agio_core.tools import BUILTIN_TOOLS
from agio_core.tools._context import default_workspace
from agio_core.tools._workspace import Workspace

SECRET = "TOP-SECRET-OUTSIDE-THE-WORKSPACE"


@pytest.fixture
def workspace(home: Path, tmp_path: Path) -> Path:
    """The `reader` agent's folder, with files, and traps leading out of it."""
    folder = default_workspace(home, "reader")
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("hello from the workspace")
    (folder / "sub" / "inner.txt").write_text("inner file")
    (home / "secret.txt").write_text(SECRET)  # in AGIO_HOME, but not in the workspace
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (folder / "escape").symlink_to(outside)  # a folder symlink leading out
    (folder / "link.txt").symlink_to(outside / "secret.txt")  # a file symlink leading out
    (folder / "alias.txt").symlink_to(folder / "notes.txt")  # a symlink that stays inside
    (folder / "sub" / "up").symlink_to("../..")  # relative symlink climbing out
    os.mkfifo(folder / "pipe")  # would block a naive reader forever
    (folder / "big.txt").write_text("é" * 40_000)  # 80 KB: truncated, cut mid-character
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 4)
    return folder


@pytest.fixture
async def agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    settings = Settings(
        home=home, openai_base_url=fake_openai.base_url, openai_api_key=SecretStr("sk-test")
    )
    async with Agio(settings) as facade:
        for agent_id, tools in (("reader", ["read_file", "list_files"]), ("plain", [])):
            await facade.create_agent(
                {"id": agent_id, "model": "openai/gpt-4o-mini", "tools": tools}
            )
        yield facade


async def tool_results(
    agio: Agio, fake: FakeOpenAIServer, agent_id: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, bool]]:
    fake.queue(
        ToolCallsReply([ToolCall(name, args, id=f"c{i}") for i, (name, args) in enumerate(calls)]),
        TextReply(("done",)),
    )
    handle = await agio.start_chat(agent_id, "look around")
    events = [e async for e in handle.events()]
    assert events[-1].type == "run_completed", events[-1]
    results = [e for e in events if isinstance(e, ToolCallCompleted)]
    for event in events:  # nothing from outside reached the events (or the store)
        assert SECRET not in event.to_json()
    return [(r.result, r.is_error) for r in results]


ALLOWED = {
    "notes.txt": "hello from the workspace",
    "./notes.txt": "hello from the workspace",
    "sub/inner.txt": "inner file",
}
REFUSED = {
    "../secret.txt": "'..' is not allowed",
    "../../secret.txt": "'..' is not allowed",
    "sub/../../secret.txt": "'..' is not allowed",
    "/etc/passwd": "absolute paths are not allowed",
    "escape/secret.txt": "symbolic link",
    "link.txt": "symbolic link",
    "sub/up/secret.txt": "symbolic link",
    "alias.txt": "symbolic link",  # even one that stays inside: links are never followed
    "pipe": "not a regular file",
    "sub": "not a regular file",
    "missing.txt": "does not exist",
    "binary.bin": "not a UTF-8 text file",
    "nul\x00.txt": "NUL",
}


async def test_read_file_stays_inside_the_workspace(
    agio: Agio, fake_openai: FakeOpenAIServer, workspace: Path
) -> None:
    paths = [*ALLOWED, *REFUSED, str(workspace / "notes.txt")]
    results = await tool_results(
        agio, fake_openai, "reader", [("read_file", {"path": p}) for p in paths]
    )
    expected = [
        *((text, False) for text in ALLOWED.values()),
        *((words, True) for words in REFUSED.values()),
        ("absolute paths are not allowed", True),  # even one that points inside
    ]
    for path, (result, is_error), (words, error_expected) in zip(
        paths, results, expected, strict=True
    ):
        assert is_error == error_expected, (path, result)
        assert words in result, (path, result)


async def test_list_files_and_big_files(
    agio: Agio, fake_openai: FakeOpenAIServer, workspace: Path
) -> None:
    results = await tool_results(
        agio,
        fake_openai,
        "reader",
        [
            ("list_files", {}),
            ("list_files", {"path": "sub"}),
            ("list_files", {"path": ".."}),
            ("list_files", {"path": "escape"}),
            ("list_files", {"path": "/"}),
            ("read_file", {"path": "big.txt"}),
        ],
    )
    listing, is_error = results[0]
    assert not is_error
    assert listing.splitlines() == sorted(
        [
            "alias.txt",
            "big.txt",
            "binary.bin",
            "escape",
            "link.txt",
            "notes.txt",
            "pipe",
            "sub/",
        ]
    )
    assert results[1] == ("inner.txt\nup", False)
    assert [r[1] for r in results[2:5]] == [True, True, True]
    big, is_error = results[5]
    assert not is_error and big.startswith("éé") and "truncated" in big


async def test_file_tools_are_opt_in(
    agio: Agio, fake_openai: FakeOpenAIServer, workspace: Path
) -> None:
    """An agent that does not list them cannot call them, and is not offered them."""
    results = await tool_results(agio, fake_openai, "plain", [("read_file", {"path": "notes.txt"})])
    assert results[0][1] and "unknown tool" in results[0][0]
    assert "tools" not in fake_openai.chat_requests[0].body
    assert {"read_file", "list_files"} <= set(BUILTIN_TOOLS)


async def test_each_agent_has_its_own_folder(
    agio: Agio, fake_openai: FakeOpenAIServer, workspace: Path
) -> None:
    await agio.create_agent(
        {"id": "other", "model": "openai/gpt-4o-mini", "tools": ["read_file", "list_files"]}
    )
    results = await tool_results(
        agio,
        fake_openai,
        "other",
        [("list_files", {}), ("read_file", {"path": "../reader/notes.txt"})],
    )
    assert results[0] == ("(empty)", False)  # its own (new) folder, not the reader's
    assert results[1][1] and "'..' is not allowed" in results[1][0]
    assert default_workspace(agio.settings.home, "other").is_dir()


# Path pieces a model (or an attacker's prompt) might combine.
PIECES = st.sampled_from(
    ["..", ".", "", "sub", "up", "escape", "link.txt", "notes.txt", "~", "%2e%2e", "..\\..",
     "/", "//", "\\", "secret.txt", "...", ". .", "\x00", "\u2025", "C:", "sub/up"]
)  # fmt: skip
PATHS = st.one_of(
    st.lists(PIECES, min_size=1, max_size=6).map("/".join),
    st.lists(PIECES, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=40),
)


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=PATHS)
def test_no_path_reads_outside_the_workspace(workspace: Path, path: str) -> None:
    folder = Workspace(workspace)
    for read in (lambda: folder.read_bytes(path, 1000), lambda: folder.list(path)):
        try:
            found = read()
        except (OSError, ValueError):
            continue
        assert SECRET not in str(found), (path, found)
