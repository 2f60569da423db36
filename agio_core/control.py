"""Who drives a run, and whether that driver is still alive.

A running run records its owner (`host:pid`) and a heartbeat. Any process that reads a
`running` run whose owner is gone marks it `interrupted`, which makes it resumable. On the
owner's own host a dead pid is noticed at once; elsewhere a heartbeat older than
`STALE_AFTER_S` means the owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import timedelta

from ._time import utcnow
from .runs import Run

HEARTBEAT_EVERY_S = 5.0
STALE_AFTER_S = 30.0
CONTROL_POLL_S = 0.1

# Runs this process has claimed (created, resumed, rewound) and not yet let go: how a run
# owned by our own pid is told from an orphan.
LIVE_RUNS: set[str] = set()


@contextlib.contextmanager
def owning(run_id: str) -> Iterator[str]:
    """Claim `run_id` for this process, yielding the owner id to record on the run.

    The claim ends when the block fails; when it succeeds, the runner that now drives the run
    lets go of it (`release`) once it stops.
    """
    LIVE_RUNS.add(run_id)
    try:
        yield owner_id()
    except BaseException:
        release(run_id)
        raise


def release(run_id: str) -> None:
    LIVE_RUNS.discard(run_id)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child stays a zombie until its parent reaps it: dead all the same.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def owner_alive(run: Run) -> bool:
    if run.owner is None:
        return False
    if run.heartbeat_at and utcnow() - run.heartbeat_at > timedelta(seconds=STALE_AFTER_S):
        return False
    host, _, pid_text = run.owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return run.id in LIVE_RUNS
    return _pid_alive(pid)
