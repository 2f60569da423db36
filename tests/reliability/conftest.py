"""Fixtures of the reliability suite: `agio serve` processes and a tiny real tmpfs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from .support import ServerProcess


class ServerFactory(Protocol):
    def __call__(self, home_: Path | None = None, **env: str) -> ServerProcess: ...


@pytest.fixture
def start_server(home: Path, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start `agio serve` processes (on `home` unless told otherwise); all stopped at the end."""
    started: list[ServerProcess] = []

    def start(home_: Path | None = None, **env: str) -> ServerProcess:
        log_path = tmp_path / f"serve-{len(started)}.log"
        server = ServerProcess(home_ or home, log_path, **env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs, so that writes hit ENOSPC; skipped where mounting is not allowed."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    try:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
        )
    except OSError as exc:  # no `mount` program
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
