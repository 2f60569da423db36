"""Confinement of file and shell tools to a workspace folder.

Every path is opened relative to a descriptor of the workspace folder, one component at a
time, with `O_NOFOLLOW`: a symbolic link is refused wherever it is (inside the workspace or
not), `..` and absolute paths are refused before anything is opened, and because no path is
ever resolved first and opened later there is no check-then-open race: a folder swapped for
a link between two calls is refused as a link. This is `openat(2)` as Python offers it
(`dir_fd=`), on every POSIX system.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class OutsideWorkspaceError(ValueError):
    pass


def path_parts(path: str) -> list[str]:
    """The components of a path relative to the workspace; refuse one that could leave it."""
    if "\x00" in path:
        raise OutsideWorkspaceError("a path cannot contain NUL characters")
    text = path.strip()
    pure = PurePosixPath(text or ".")
    if pure.is_absolute() or text.startswith("~"):
        raise OutsideWorkspaceError(
            f"{path!r}: absolute paths are not allowed; use a path relative to the workspace"
        )
    if ".." in pure.parts:
        raise OutsideWorkspaceError(f"{path!r}: '..' is not allowed; stay inside the workspace")
    return [part for part in pure.parts if part != "."]


def _refuse_link(path: str, error: OSError) -> OutsideWorkspaceError | OSError:
    if error.errno in (errno.ELOOP, errno.EMLINK):
        return OutsideWorkspaceError(
            f"{path!r} goes through a symbolic link; the workspace tools do not follow links"
        )
    return error


class Workspace:
    """A folder that tools open paths in, and never outside of."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _open_root(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    @contextlib.contextmanager
    def folder(self, parts: list[str], path: str, *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder `parts` inside the workspace (made if `create`)."""
        fd = self._open_root()
        try:
            for part in parts:
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise FileNotFoundError(
                            f"{path!r} does not exist in the workspace"
                        ) from None
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except NotADirectoryError:
                    # ENOTDIR is also what O_DIRECTORY|O_NOFOLLOW gives on a link to a folder
                    if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise _refuse_link(path, OSError(errno.ELOOP, "link")) from None
                    raise NotADirectoryError(f"{path!r}: {part!r} is not a folder") from None
                except OSError as exc:
                    raise _refuse_link(path, exc) from None
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def open_file(self, path: str, flags: int, mode: int = 0o644) -> Iterator[int]:
        """A descriptor of the file `path`, opened with `flags` (never through a link)."""
        parts = path_parts(path)
        if not parts:
            raise IsADirectoryError(f"{path!r} is the workspace folder, not a file")
        create = bool(flags & os.O_CREAT)
        with self.folder(parts[:-1], path, create=create) as parent:
            try:
                fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
            except FileNotFoundError:
                raise FileNotFoundError(f"{path!r} does not exist in the workspace") from None
            except IsADirectoryError:
                raise IsADirectoryError(f"{path!r} is a folder, not a file") from None
            except OSError as exc:
                raise _refuse_link(path, exc) from None
            try:
                yield fd
            finally:
                os.close(fd)

    def read_bytes(self, path: str, limit: int) -> bytes:
        """At most `limit` + 1 bytes of a regular file (so callers can tell it was cut)."""
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        with self.open_file(path, os.O_RDONLY | os.O_NONBLOCK) as fd:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError(f"{path!r} is not a regular file")
            os.set_blocking(fd, True)
            chunks, size = [], 0
            while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace (or create) the file `path` atomically: a temporary file, then rename."""
        parts = path_parts(path)
        if not parts:
            raise IsADirectoryError(f"{path!r} is the workspace folder, not a file")
        with self.folder(parts[:-1], path, create=True) as parent:
            name = parts[-1]
            with contextlib.suppress(FileNotFoundError):
                mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    raise _refuse_link(path, OSError(errno.ELOOP, "link"))
                if not stat.S_ISREG(mode):
                    raise IsADirectoryError(f"{path!r} exists and is not a regular file")
            temporary = f".{name}.agio-{os.getpid()}-{id(data)}.tmp"
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=parent,
            )
            try:
                with os.fdopen(fd, "wb", closefd=True) as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=parent)
                raise

    def list(self, path: str) -> list[str]:
        """The names in the folder `path` (folders end with '/'; links are not followed)."""
        parts = path_parts(path)
        with self.folder(parts, path) as fd, os.scandir(fd) as entries:
            return sorted(
                e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries
            )
