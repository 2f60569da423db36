"""Whole files of the embedded store: replaced atomically, read with damage detected, locked.

Every file is written atomically (temp file, fsync, `os.replace`, fsync of the directory): a
crash or a full disk leaves the previous version intact, and readers need no lock. Writers of
one file hold a file lock (`filelock`), so concurrent processes lose nothing. A file that does
not read as its model is damaged: a `StoreError` saying so, and how to move it aside.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError
from tinydb.storages import Storage

from ..errors import NotFoundError, StoreError

M = TypeVar("M", bound=BaseModel)
REPAIR_HINT = "`agio store check --repair` moves it aside"
LOCK_TIMEOUT_S = 30.0


def store_error(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"disk full: cannot write {path}; nothing was changed")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def _fsync_dir(path: Path) -> None:
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
        _fsync_dir(path.parent)
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
def locked(lock_path: Path) -> Iterator[None]:
    """Hold the file lock `lock_path` (other processes included)."""
    lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise StoreError(f"{lock_path} is locked by another process for too long") from None
    except FileNotFoundError:  # its folder went away meanwhile: the run was deleted
        raise RunDeleted from None
    except OSError as exc:  # the lock file cannot be made: a read-only or full store
        raise store_error(exc, lock_path) from exc
    try:
        yield
    finally:
        lock.release()


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
