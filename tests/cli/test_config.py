"""`agio config show | path`, `--version`, and the root options."""

from __future__ import annotations

from pathlib import Path

import pytest

from agio_cli.main import version

from .conftest import Cli


def test_path_is_agio_home(cli: Cli, home: Path) -> None:
    assert cli.ok("config", "path") == f"{home}\n"


def test_show_masks_secrets(cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("AGIO_API_KEYS", "k1,k2")
    monkeypatch.setenv("AGIO_DATABASE_URL", "postgresql://agio:hunter2@db.local:5432/agio")
    monkeypatch.setenv("AGIO_DEFAULT_MODEL", "openai/gpt-4o-mini")
    shown = cli.ok("config", "show")
    assert "sk-very-secret" not in shown and "hunter2" not in shown and "k1" not in shown
    lines = dict(line.split("=", 1) for line in shown.splitlines())
    assert lines["AGIO_HOME"] == str(home)
    assert lines["AGIO_OPENAI_API_KEY"] == "********"
    assert lines["AGIO_DATABASE_URL"] == "postgresql://agio:********@db.local:5432/agio"
    assert lines["AGIO_DEFAULT_MODEL"] == "openai/gpt-4o-mini"
    assert lines["AGIO_SERVER_URL"] == ""
    as_json = cli.json("config", "show")
    assert as_json["AGIO_API_KEYS"] == "********" and as_json["AGIO_OPENAI_BASE_URL"] is None


def test_server_option_is_shown_in_config(cli: Cli) -> None:
    shown = cli.json("--server", "http://127.0.0.1:9", "config", "show")
    assert shown["AGIO_SERVER_URL"] == "http://127.0.0.1:9"


def test_version_and_help(cli: Cli) -> None:
    assert cli.ok("--version") == f"agio {version()}\n"
    import agio_core

    assert version() == agio_core.__version__
    assert "Exit codes" in cli.ok("--help")
    for group in ("agents", "runs", "checkpoints", "config"):
        result = cli(group)
        assert result.exit_code == 2 and "Commands:" in result.output


BAD_SETTINGS = [
    ("AGIO_DEFAULT_MODEL", "bad", "unknown model"),
    ("AGIO_DEFAULT_MODEL", "nope/x", "unknown model"),
    ("AGIO_SSE_KEEPALIVE_S", "abc", "valid number"),
    ("AGIO_SSE_SEND_TIMEOUT_S", "-1", "greater than 0"),
]


@pytest.mark.parametrize(("name", "value", "words"), BAD_SETTINGS)
@pytest.mark.parametrize(
    "args",
    [["agents", "list"], ["runs", "list"], ["chat", "hi"], ["config", "show"]],
    ids=" ".join,
)
def test_a_bad_setting_is_one_line_naming_it_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str, args: list[str]
) -> None:
    monkeypatch.setenv(name, value)
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"agio: error: {name}=") and words in lines[0], lines
    assert cli("--help").exit_code == 0  # help needs no settings


def test_a_bad_setting_in_a_real_process_and_for_serve(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIO_SSE_KEEPALIVE_S", "abc")
    for args in (["agents", "list"], ["serve", "--port", "9"]):
        result = cli.process(*args)
        assert result.returncode == 2, result
        assert result.stderr.splitlines() == [
            "agio: error: AGIO_SSE_KEEPALIVE_S='abc': Input should be a valid number, "
            "unable to parse string as a number"
        ]
    assert cli.process("--help").returncode == 0
