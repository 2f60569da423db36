"""`agio --help` is printed from a cache of Typer's own rendering, `agio --version` without Typer
(agio_cli._launch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import agio_core

PROBE = (
    "import sys\n"
    "sys.argv = ['agio', *sys.argv[1:]]\n"
    "from agio_cli._launch import run\n"
    "run()\n"
    "print('typer imported:', 'typer' in sys.modules, file=sys.stderr)\n"
)


def cache_env(cache: Path, columns: int = 80) -> dict[str, str]:
    """The environment of an `agio` whose help cache is in `cache`, wrapped to `columns`."""
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": str(columns)}


def launch(cache: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=cache_env(cache, columns),
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


def typer_version() -> str:
    probe = "from agio_cli.main import app\napp(['--version'], prog_name='agio')\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
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


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_nothing_pythons_start_did_not(tmp_path: Path, flag: str) -> None:
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"sys.argv = ['agio', {flag!r}]\n"
        "from agio_cli._launch import run\n"
        "run()\n"
        "new = set(sys.modules) - before - {'agio_cli', 'agio_cli._launch'}\n"
        "print(sorted(new), file=sys.stderr)\n"
    )
    env = cache_env(tmp_path)
    command = [sys.executable, "-c", probe]
    subprocess.run(command, env=env, capture_output=True, timeout=60, check=True)  # help: renders
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.stderr.strip() == "[]"
    if flag == "--help":
        assert result.stdout == typer_help()
    else:
        assert result.stdout == f"agio {agio_core.__version__}\n" == typer_version()


def test_help_without_a_usable_cache_folder_is_printed_all_the_same(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = launch(blocker, "--help")
    assert result.stdout == typer_help()


def test_other_arguments_go_through_typer(tmp_path: Path) -> None:
    # Typer prints the version and exits: the probe's own line never comes
    result = launch(tmp_path, "--server", "http://127.0.0.1:9", "--version")
    assert result.stdout == typer_version() and "typer imported" not in result.stderr
    assert not (tmp_path / "agio").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["--server", "http://127.0.0.1:9", "--version"]]
)
def test_a_full_disk_or_a_closed_pipe_is_an_exit_code_not_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    launch(tmp_path, "--help")  # the help comes from the cache below
    env = cache_env(tmp_path)
    command = [sys.executable, "-m", "agio_cli", *args]
    with open("/dev/full", "w") as full:
        result = subprocess.run(command, env=env, stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode() == "agio: error: No space left on device\n"

    reader = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # the reader went away before agio wrote (`agio --help | true`)
    assert reader.wait(timeout=60) == 1
    assert reader.stderr.read() == b""
    reader.stderr.close()
