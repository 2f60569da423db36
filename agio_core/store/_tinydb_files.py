"""Whole files of the embedded store: replaced atomically, read with damage detected, locked.

Every file is written atomically (temp file, fsync, `os.replace`, fsync of the directory): a
crash or a full disk leaves the previous version intact, and readers need no lock. Writers of
one file hold a file lock, so concurrent processes lose nothing. A file that does not read
as its model is damaged: a `StoreError` saying so, and how to move it aside.

Locks are `flock(2)` on a lock file opened for each hold: two holds conflict whether they
are in two processes or two threads of one (each has its own open file description), and the
kernel drops a lock whose holder dies. agio is POSIX-only already (process groups, O_NOFOLLOW);
the `filelock` package cost ~170 µs of Python per hold against ~5 µs for the calls
themselves, and a run takes several holds to start and end.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from tinydb.storages import Storage

from ..errors import NotFoundError, StoreError

M = TypeVar("M", bound=BaseModel)
REPAIR_HINT = "`agio store check --repair` moves it aside"
LOCK_TIMEOUT_S = 30.0
# While a lock is held elsewhere, look again after this long, doubling up to the last.
LOCK_POLL_S = (0.001, 0.05)
LOCK_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


def store_error(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"disk full: cannot write {path}; nothing was changed")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by its path (raises OSError)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Replace `path` with `text` (or its pieces, written as they come) so that readers see
    the old or the new file, never a mix."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise store_error(exc, path) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines([text] if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException as exc:  # also a piece that could not be made: no temp file is left
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise store_error(exc, path) from exc
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise StoreError(f"{path} is damaged: not valid JSON ({REPAIR_HINT})") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_model(path: Path, model: type[M]) -> M | None:
    """The record in `path` (None if there is none); a damaged one is a StoreError."""
    data = read_json(path)
    if not data:
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        problem = f"{path} is damaged: not a valid {model.__name__} ({REPAIR_HINT})"
        raise StoreError(problem) from None


class RunDeleted(NotFoundError):
    """A run's lock could not be taken because the run's folder is gone (it was deleted)."""

    def __init__(self) -> None:
        super().__init__("run not found: it was deleted")


@contextlib.contextmanager
def locked(lock_path: Path, *, make_folder: bool = False) -> Iterator[None]:
    """Hold the file lock `lock_path` (against other processes and other threads). A
    missing folder is made with `make_folder`, else it means the run was deleted."""
    try:
        try:
            fd = os.open(lock_path, LOCK_FILE_FLAGS, 0o644)
        except FileNotFoundError:
            if not make_folder:  # its folder went away meanwhile: the run was deleted
                raise RunDeleted from None
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, LOCK_FILE_FLAGS, 0o644)
    except OSError as exc:  # the lock file cannot be made: a read-only or full store
        raise store_error(exc, lock_path) from exc
    try:
        _acquire(fd, lock_path)
        yield
    finally:
        os.close(fd)  # which releases the lock


def _acquire(fd: int, lock_path: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    pause, longest = LOCK_POLL_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as exc:
            raise store_error(exc, lock_path) from exc
        if time.monotonic() >= deadline:
            raise StoreError(f"{lock_path} is locked by another process for too long")
        # Polled rather than a blocking flock: a blocked flock cannot time out.
        time.sleep(pause)
        pause = min(pause * 2, longest)


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file behind."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data: dict[str, dict[str, Any]] | None = read_json(self.path)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_atomic(self.path, json.dumps(data, separators=(",", ":")))

    def close(self) -> None:
        pass
