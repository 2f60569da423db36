"""A throwaway PostgreSQL server for tests and benchmarks.

`AGIO_TEST_DATABASE_URL` names an existing server to use (`AGIO_TEST_POSTGRES=0` disables
the PostgreSQL tests). Otherwise, if PostgreSQL's server
programs are installed (on PATH, or Debian's /usr/lib/postgresql/<version>/bin), a private
cluster is created in a temporary directory and started on a free loopback port, with its
unix socket in that directory; it is stopped and deleted at the end. initdb refuses to run as
root, so as root the cluster belongs to the `postgres` user (else `nobody`). Under pytest-xdist
one cluster serves all the workers (`acquire_shared_url`); each test process works in a database
of its own (`create_database`, tests/pg_fixtures.py).

Also a command line, used by .ci/run:

    python tests/pgserver.py bindir      # where the server programs are (exit 1: nowhere)
    python tests/pgserver.py start DIR   # prints the URL of a new server whose files live in DIR
    python tests/pgserver.py stop DIR
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

URL_ENV = "AGIO_TEST_DATABASE_URL"
DATABASE = "agio_test"
USER = "agio"


def find_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are, if anywhere."""
    candidates: list[Path] = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        candidates.append(Path(path))
    candidates += [Path("/usr/local/pgsql/bin"), Path("/opt/homebrew/bin")]
    for bindir in candidates:
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _server_user() -> pwd.struct_passwd | None:
    """None: run as ourselves. As root: an unprivileged account that can own the cluster."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and there is no 'postgres' or 'nobody' user")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A private PostgreSQL cluster in `root`: data, socket, log and password file."""

    def __init__(self, root: Path, bindir: Path) -> None:
        self.root = root
        self.bindir = bindir
        self.data = root / "data"
        self.log = root / "server.log"
        self.user = _server_user()
        self.port = 0
        self.password = ""

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{quote(self.password)}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
            **kwargs,  # type: ignore[arg-type]
        )

    def start(self, *, durable: bool = False, max_connections: int = 300) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.root.chmod(0o700)
        self.password = secrets.token_hex(16)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.user is not None:
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {(result.stderr or result.stdout).strip()}")
        settings = [
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.root}",
            f"max_connections={max_connections}",
            "shared_buffers=128MB",
        ]
        if not durable:  # tests: nothing to keep, so skip the disk flushes
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        last_error = ""
        for _ in range(3):  # a free port can be taken between choosing it and binding it
            self.port = free_port()
            options = " ".join(f"-c {s}" for s in [f"port={self.port}", *settings])
            started = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                "-t", "60", "start",
            )  # fmt: skip
            if started.returncode == 0:
                break
            last_error = (started.stderr or started.stdout).strip() + "\n" + self._log_tail()
        else:
            raise RuntimeError(f"PostgreSQL did not start: {last_error}")
        self._create_database()

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])
        return ""

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://{USER}:{quote(self.password)}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        if self.data.exists():
            result = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            if result.returncode != 0 and (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class BenchDatabase:
    """PostgreSQL for a benchmark: AGIO_BENCH_DATABASE_URL, else AGIO_TEST_DATABASE_URL, else
    a private cluster with real fsyncs, started at the first `new_schema()` and removed by
    `close()` (or the `with` block's end)."""

    def __init__(self) -> None:
        self._url = os.environ.get("AGIO_BENCH_DATABASE_URL") or os.environ.get(URL_ENV)
        self._cluster: Cluster | None = None

    def new_schema(self) -> str | None:
        """A URL whose connections use a new empty schema; None if PostgreSQL's programs
        are not installed (`unavailable_reason()` says why)."""
        if not self._url:
            bindir = find_bindir()
            if bindir is None:
                return None
            # Its own folder: the server's user must reach it (not a caller's temporary folder).
            self._cluster = Cluster(Path(tempfile.mkdtemp(prefix="agio-bench-pg-")), bindir)
            self._cluster.start(durable=True, max_connections=300)
            self._url = self._cluster.url
        return create_schema(self._url, prefix="bench")[1]

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None

    def __enter__(self) -> BenchDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# One cluster per test session, shared by every fixture that asks for it.

_lock = threading.Lock()
_state: dict[str, object] = {"refs": 0, "cluster": None, "url": None, "error": None}


def unavailable_reason() -> str | None:
    """Why no PostgreSQL server can be had, or None if one can."""
    if os.environ.get("AGIO_TEST_POSTGRES", "").lower() in {"0", "no", "false", "off"}:
        return "PostgreSQL not available: disabled by AGIO_TEST_POSTGRES=0"
    missing = [m for m in ("psycopg", "psycopg_pool") if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"PostgreSQL not available: {' and '.join(missing)} not installed "
            "(pip install 'psycopg[binary]' psycopg-pool)"
        )
    if os.environ.get(URL_ENV):
        return None
    if find_bindir() is None:
        return (
            f"PostgreSQL not available: set {URL_ENV}, or install the server programs "
            "(initdb, pg_ctl; Debian: apt-get install postgresql)"
        )
    return None


def acquire_url() -> str:
    """The URL of the session's server (started on first use); raises RuntimeError if none."""
    with _lock:
        if _state["error"]:
            raise RuntimeError(str(_state["error"]))
        if _state["url"] is None:
            if url := os.environ.get(URL_ENV):
                _state["url"] = url
            else:
                reason = unavailable_reason()
                bindir = find_bindir()
                if reason or bindir is None:
                    raise RuntimeError(reason or "PostgreSQL not available")
                cluster = Cluster(Path(tempfile.mkdtemp(prefix="agio-pg-")), bindir)
                try:
                    cluster.start()
                except Exception as exc:
                    cluster.stop()
                    _state["error"] = f"PostgreSQL not available: {exc}"
                    raise RuntimeError(_state["error"]) from None
                atexit.register(cluster.stop)
                _state["cluster"] = cluster
                _state["url"] = cluster.url
        _state["refs"] = int(str(_state["refs"])) + 1
        return str(_state["url"])


def release_url() -> None:
    with _lock:
        _state["refs"] = int(str(_state["refs"])) - 1
        cluster = _state["cluster"]
        if int(str(_state["refs"])) <= 0 and isinstance(cluster, Cluster):
            cluster.stop()
            atexit.unregister(cluster.stop)
            _state.update(cluster=None, url=None)


# Under pytest-xdist the workers share one cluster: the first worker that needs it starts it,
# under a file lock in the folder all workers of the run share, and leaves its location there;
# the controller process stops it when the run ends (tests/conftest.py).

_SHARED_LOCK, _SHARED_URL, _SHARED_DIR, _SHARED_ERROR = "pg.lock", "pg.url", "pg.dir", "pg.error"


def acquire_shared_url(shared: Path) -> str:
    """The URL of the server of all workers whose common folder is `shared` (started on first
    use); raises RuntimeError if none."""
    from filelock import FileLock

    if url := os.environ.get(URL_ENV):
        return url
    with FileLock(shared / _SHARED_LOCK):
        if (shared / _SHARED_URL).exists():
            return (shared / _SHARED_URL).read_text()
        if (shared / _SHARED_ERROR).exists():
            raise RuntimeError((shared / _SHARED_ERROR).read_text())
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError(unavailable_reason() or "PostgreSQL not available")
        # Its own folder in the system's temporary one: the server's user must reach it.
        cluster = Cluster(Path(tempfile.mkdtemp(prefix="agio-pg-")), bindir)
        (shared / _SHARED_DIR).write_text(str(cluster.root))
        try:
            cluster.start()
        except Exception as exc:
            cluster.stop()
            (shared / _SHARED_ERROR).write_text(f"PostgreSQL not available: {exc}")
            raise RuntimeError((shared / _SHARED_ERROR).read_text()) from None
        (shared / _SHARED_URL).write_text(cluster.url)
        return cluster.url


def stop_shared_cluster(shared: Path) -> None:
    """Stop the cluster `acquire_shared_url(shared)` started, if it did."""
    bindir = find_bindir()
    if (shared / _SHARED_DIR).exists() and bindir is not None:
        Cluster(Path((shared / _SHARED_DIR).read_text()), bindir).stop()
        (shared / _SHARED_DIR).unlink()


def with_database(url: str, database: str) -> str:
    """`url` with another database name."""
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(database)))


def create_database(url: str, name: str) -> str | None:
    """A new empty database `name` on `url`'s server: its URL; None if `url`'s user may not
    create databases."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            return None
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    """Drop database `name` of `url`'s server, closing the connections still open to it."""
    import psycopg
    from psycopg import sql

    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections use `schema` (libpq `options=-csearch_path=...`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_schema(url: str, prefix: str = "t") -> tuple[str, str]:
    """A new empty schema: (its name, a URL that uses it)."""
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema, with_search_path(url, schema)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in {"bindir", "start", "stop"} or len(argv) != (1 if command == "bindir" else 2):
        print(__doc__, file=sys.stderr)
        return 2
    bindir = find_bindir()
    if bindir is None:
        print(unavailable_reason() or "PostgreSQL not available", file=sys.stderr)
        return 1
    if command == "bindir":
        print(bindir)
        return 0
    cluster = Cluster(Path(argv[1]).absolute(), bindir)
    if command == "stop":
        cluster.stop()
        return 0
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        print(f"PostgreSQL did not start: {exc}", file=sys.stderr)
        return 1
    print(cluster.url)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
