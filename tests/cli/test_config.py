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
