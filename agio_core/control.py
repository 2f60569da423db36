"""Who drives a run, and whether that driver is still alive.

A running run records its owner (`host:pid`) and a heartbeat. Any process that reads a
`running` run whose owner is gone marks it `interrupted`, which makes it resumable. On the
owner's own host a dead pid is noticed at once; elsewhere a heartbeat older than
`STALE_AFTER_S` means the owner is gone.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from ._time import utcnow
from .runs import Run

HEARTBEAT_EVERY_S = 5.0
STALE_AFTER_S = 30.0
CONTROL_POLL_S = 0.1
LAUNCH_GRACE_S = 10.0

# Runs driven by this process; how a run owned by our own pid is told from an orphan.
LIVE_RUNS: set[str] = set()


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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
        # Ours: alive while a runner drives it, or while it is being launched (claimed, its
        # runner not started yet; the claim set a fresh heartbeat).
        launching = run.heartbeat_at is not None and utcnow() - run.heartbeat_at < timedelta(
            seconds=LAUNCH_GRACE_S
        )
        return run.id in LIVE_RUNS or launching
    return _pid_alive(pid)
