"""Append-only files of whole lines (the run listing, each run's event log).

A crash in the middle of an append leaves a torn last line: readers leave it out, and the
next append cuts it off first, so the file stays one whole line per record.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ._tinydb_files import store_error


def open_appending(path: Path) -> int:
    """A descriptor appending to `path`, after cutting off a line a crash left half-written
    (raises OSError)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size and os.lseek(fd, -1, os.SEEK_END) >= 0 and os.read(fd, 1) != b"\n":
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, os.read(fd, size).rfind(b"\n") + 1)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def append_lines(path: Path, payload: bytes, *, durable: bool) -> None:
    """Append whole lines; first cut off a line a crash left half-written."""
    try:
        fd = open_appending(path)
        try:
            write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise store_error(exc, path) from exc


def read_lines(path: Path) -> list[bytes]:
    """The complete lines of an append-only file (a torn last line is left out)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return [line for line in raw.split(b"\n")[:-1] if line.strip()]


def lines_newest_first(path: Path, block_size: int = 1 << 16) -> Iterator[bytes]:
    """The complete lines of an append-only file, last first, read backwards a block at a
    time: a scan holds one block, whatever the file's size (a torn last line is left out)."""
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        carry = b""  # the start of the earliest line seen so far, which may begin further back
        torn = True  # what follows the file's last newline is not a whole line
        while position > 0:
            size = min(block_size, position)
            position -= size
            handle.seek(position)
            parts = (handle.read(size) + carry).split(b"\n")
            carry = parts[0]
            for line in reversed(parts[1:]):
                if torn:
                    torn = False
                elif line.strip():
                    yield line
        if carry.strip() and not torn:
            yield carry
