"""`agio --help` is printed from a cache of Typer's own rendering (agio_cli._launch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = (
    "import sys\n"
    "sys.argv = ['agio', *sys.argv[1:]]\n"
    "from agio_cli._launch import run\n"
    "run()\n"
    "print('typer imported:', 'typer' in sys.modules, file=sys.stderr)\n"
)


def launch(cache: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def typer_help(columns: int = 80) -> str:
    probe = "from agio_cli.main import app\napp(['--help'], prog_name='agio')\n"
    env = {**os.environ, "COLUMNS": str(columns)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_typers_then_comes_from_the_cache_without_typer(tmp_path: Path, flag: str) -> None:
    first = launch(tmp_path, flag)
    assert first.stdout == typer_help() and "typer imported: True" in first.stderr
    second = launch(tmp_path, flag)
    assert second.stdout == first.stdout and "typer imported: False" in second.stderr


def test_another_width_or_changed_code_renders_again(tmp_path: Path) -> None:
    launch(tmp_path, "--help")
    narrow = launch(tmp_path, "--help", columns=60)
    assert narrow.stdout == typer_help(columns=60) != typer_help()
    assert "typer imported: True" in narrow.stderr
    cache = tmp_path / "agio" / "help.txt"
    key, _, _ = cache.read_text().partition("\n")
    cache.write_text(key.replace("main.py:", "main.py:1") + "\nstale help\n")  # code changed
    again = launch(tmp_path, "--help", columns=60)
    assert again.stdout == narrow.stdout and "typer imported: True" in again.stderr


def test_help_without_a_usable_cache_folder_is_printed_all_the_same(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = launch(blocker, "--help")
    assert result.stdout == typer_help()


def test_other_arguments_go_through_typer(tmp_path: Path) -> None:
    result = launch(tmp_path, "--version")  # Typer exits: the probe's own line never comes
    assert result.stdout.startswith("agio ") and "typer imported" not in result.stderr
    assert not (tmp_path / "agio").exists()
