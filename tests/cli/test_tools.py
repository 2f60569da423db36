"""`agio tools list`, the resolved tools in `agio agents show`, and `chat --workspace`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .conftest import Cli

TIME_AGENT = f"""id: clock
model: offline/demo
model_params: {{delay_ms: 0}}
tools: ["time__*", write_file, shell]
approval: {{"time__convert_time": deny}}
mcp_servers:
  time:
    command: {Path(sys.executable).with_name("mcp-server-time")}
"""


def test_tools_list_and_agents_show(cli: Cli) -> None:
    builtins = cli.json("tools", "list")
    assert set(builtins) == {"total", "items", "limit", "offset"}
    policies = {t["name"]: t["policy"] for t in builtins["items"]}
    assert policies["shell"] == "ask" and policies["read_file"] == "allow"
    spec = cli.home.parent / "clock.yaml"
    spec.write_text(TIME_AGENT)
    cli.ok("agents", "create", "-f", str(spec))
    rows = [line.split("\t") for line in cli.ok("tools", "list", "-a", "clock").splitlines()]
    assert [row[:3] for row in rows] == [
        ["time__get_current_time", "mcp:time", "allow"],
        ["time__convert_time", "mcp:time", "deny"],
        ["write_file", "builtin", "ask"],
        ["shell", "builtin", "ask"],
    ]
    shown = cli.ok("agents", "show", "clock")
    assert "#   time__convert_time  mcp:time  deny" in shown
    assert cli("tools", "list", "-a", "nobody").exit_code == 3


def test_chat_workspace_for_one_run(cli: Cli, tmp_path: Path) -> None:
    spec = cli.home.parent / "writer.yaml"
    spec.write_text(
        "id: writer\nmodel: offline/demo\nmodel_params: {delay_ms: 0}\n"
        "tools: [write_file, read_file]\napproval: {write_file: allow}\n"
    )
    cli.ok("agents", "create", "-f", str(spec))
    folder = tmp_path / "project"
    folder.mkdir()
    arguments = json.dumps({"path": "out.txt", "content": "hi"})
    run = cli.chat("-a", "writer", "--workspace", str(folder), f"call write_file {arguments}")
    assert run["status"] == "completed"
    assert (folder / "out.txt").read_text() == "hi"
    assert not (cli.home / "workspaces" / "writer" / "out.txt").exists()
    missing = cli("chat", "-a", "writer", "--workspace", str(tmp_path / "nope"), "hi")
    assert missing.exit_code == 2 and "is not a folder" in missing.stderr
    remote = cli("--server", "http://127.0.0.1:9", "chat", "--workspace", str(folder), "hi")
    assert remote.exit_code == 2 and "embedded only" in remote.stderr
