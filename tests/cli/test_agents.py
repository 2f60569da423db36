"""`agio agents list | show | create | delete`."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli

RESEARCHER = """\
id: researcher
name: Researcher
model: offline/demo
model_params: {temperature: 0.2}
system_prompt: |
  You answer with sources.
  Always.
tools: [calculator]
tags: [work]
"""


def write(tmp_path: Path, text: str, name: str = "agent.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_prints_the_id_and_list_shows_it(cli: Cli, tmp_path: Path) -> None:
    assert cli.ok("agents", "create", "-f", write(tmp_path, RESEARCHER)) == "researcher\n"
    rows = [line.split("\t") for line in cli.ok("agents", "list").splitlines()]
    assert [row[0] for row in rows] == ["assistant", "researcher"]
    assert rows[1][1:4] == ["offline/demo", "Researcher", "work"]
    assert cli.ok("agents", "list", "--tag", "work", "-q") == "researcher\n"
    page = cli.json("agents", "list")
    assert page["total"] == 2 and page["items"][1]["system_prompt"].startswith("You answer")


def test_show_prints_yaml_that_creates_the_same_agent(cli: Cli, tmp_path: Path) -> None:
    cli.ok("agents", "create", "-f", write(tmp_path, RESEARCHER))
    shown = cli.ok("agents", "show", "researcher")
    assert "system_prompt: |" in shown and "(offline model)" in shown
    before = cli.json("agents", "show", "researcher")
    again = write(tmp_path, shown, "again.yaml")
    assert cli.ok("agents", "create", "-f", again, "--replace") == "researcher\n"
    after = cli.json("agents", "show", "researcher")
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_create_reads_stdin_and_substitutes_env(cli: Cli) -> None:
    text = "id: piped\nmodel: ${AGIO_TEST_MODEL:-offline/demo}\n"
    assert cli.ok("agents", "create", "-f", "-", input=text) == "piped\n"
    assert cli.json("agents", "show", "piped")["model"] == "offline/demo"


def test_create_twice_is_a_conflict_unless_replace(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, RESEARCHER)
    cli.ok("agents", "create", "-f", path)
    result = cli("agents", "create", "-f", path)
    assert result.exit_code == 1
    assert result.stderr == "agio: error: agent 'researcher' already exists\n"
    assert cli.ok("agents", "create", "-f", path, "--replace") == "researcher\n"


def test_invalid_files_are_usage_errors_naming_file_and_field(cli: Cli, tmp_path: Path) -> None:
    bad_field = write(tmp_path, "id: x\nmodel: offline/demo\ncolour: red\n", "bad.yaml")
    result = cli("agents", "create", "-f", bad_field)
    assert result.exit_code == 2
    assert result.stderr == f"agio: error: {bad_field}: colour: unknown field\n"
    result = cli("agents", "create", "-f", write(tmp_path, "id: [\n", "broken.yaml"))
    assert result.exit_code == 2 and "invalid YAML (line" in result.stderr
    result = cli("agents", "create", "-f", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
    bad_tool = write(tmp_path, "id: y\nmodel: offline/demo\ntools: [nope]\n", "tool.yaml")
    assert cli("agents", "create", "-f", bad_tool).exit_code == 2


def test_delete(cli: Cli, tmp_path: Path) -> None:
    cli.ok("agents", "create", "-f", write(tmp_path, RESEARCHER))
    assert cli.ok("agents", "delete", "researcher") == "researcher\n"
    assert cli("agents", "show", "researcher").exit_code == 3
    assert cli("agents", "delete", "researcher").exit_code == 3
    built_in = cli("agents", "delete", "assistant")
    assert built_in.exit_code == 1 and "built in" in built_in.stderr
