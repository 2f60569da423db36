"""Who drives a run, and whether that driver is still alive.

A running run records its owner (`host:pid`) and a heartbeat. Any process that reads a
`running` run whose owner is gone marks it `interrupted`, which makes it resumable. On the
owner's own host a dead pid is noticed at once; elsewhere a heartbeat older than
`STALE_AFTER_S` means the owner is gone.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from ._time import utcnow
from .runs import Run

HEARTBEAT_EVERY_S = 5.0
STALE_AFTER_S = 30.0
CONTROL_POLL_S = 0.1
LAUNCH_GRACE_S = 10.0

# Runs driven by this process; how a run owned by our own pid is told from an orphan.
LIVE_RUNS: set[str] = set()
# When runners of this process stopped (kept LAUNCH_GRACE_S): a run whose runner stopped
# without recording its end (e.g. the disk was full) is launching again only once claimed anew.
STOPPED_AT: dict[str, datetime] = {}


def mark_stopped(run_id: str) -> None:
    now = utcnow()
    for stale in [
        r for r, at in STOPPED_AT.items() if now - at > timedelta(seconds=LAUNCH_GRACE_S)
    ]:
        del STOPPED_AT[stale]
    STOPPED_AT[run_id] = now


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
        # Ours: alive while a runner drives it, or while it is being launched (claimed, its
        # runner not started yet; the claim set a fresh heartbeat).
        launching = run.heartbeat_at is not None and utcnow() - run.heartbeat_at < timedelta(
            seconds=LAUNCH_GRACE_S
        )
        stopped = STOPPED_AT.get(run.id)
        if launching and stopped is not None and run.heartbeat_at is not None:
            launching = run.heartbeat_at > stopped
        return run.id in LIVE_RUNS or launching
    return _pid_alive(pid)
