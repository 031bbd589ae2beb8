"""Shared pieces of the benchmarks that put dsql-ray beside PostgreSQL in one run: the two
servers (a local dsql-ray cluster through its CLI, a throwaway PostgreSQL), the schema
both get, a pgbench runner and its output parser, and table formatting.

Imported by bench_vs_postgres.py (pgbench workloads) and bench_sql.py (COMMIT latency).
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from dsql_ray.testing.ports import free_port  # noqa: F401  (footprint.py imports it from here)
from dsql_ray.testing.postgres import PostgresServer

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "pgbench"
ROWS = 10_000  # must match random(1, 10000) in the pgbench scripts
INSERT_BATCH = 1_000
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
RUN_IDS = itertools.count()


def dsn(port: int) -> str:
    return f"host=127.0.0.1 port={port} dbname=postgres user=admin sslmode=disable"


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def say(msg: str) -> None:
    print(msg, flush=True)


# --- servers ------------------------------------------------------------------------------

class DsqlRay:
    """A local dsql-ray cluster via its CLI, with its own name, port and data directory."""
    label = "dsql-ray"

    def __init__(self, workdir: Path, *, tree: Path | None = None, label: str = "dsql-ray",
                 up_args: tuple[str, ...] = ()):
        """``tree``: run the dsql_ray package of another checkout (PYTHONPATH), to put
        two revisions side by side; default: the installed one. ``up_args``: more
        `dsql-ray up` flags (e.g. a topology to compare)."""
        self.label = label
        self.up_args = tuple(up_args)
        self.name = f"bench-{label}-{os.getpid()}".replace(" ", "-")
        self.port = free_port()
        self.data_dir = workdir / self.name
        self.dsn = dsn(self.port)
        self.up_s: float | None = None
        self._env = None
        if tree is not None:
            self._env = os.environ | {"PYTHONPATH": str(tree)}

    def _cli(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dsql_ray.cli", *args, "--name", self.name,
             "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, timeout=timeout, env=self._env)

    def start(self) -> None:
        t = time.monotonic()
        try:
            # plaintext on loopback like the PostgreSQL side: this compares the databases,
            # not TLS (which the tests cover); the password is still a minted token
            r = self._cli("up", "--port", str(self.port), "--timeout", "180",
                          "--allow-plaintext", *self.up_args, timeout=240)
        except subprocess.TimeoutExpired:
            raise RuntimeError("dsql-ray up did not return in 240 s") from None
        if r.returncode != 0:
            log = self.data_dir / "supervisor.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"dsql-ray up failed: {r.stdout}{r.stderr}\n{tail}")
        token = self._cli("token", "--expires", "7200", timeout=60)
        if token.returncode != 0:
            raise RuntimeError(f"dsql-ray token failed: {token.stderr.strip()}")
        self.dsn = f"{dsn(self.port)} password={token.stdout.strip()}"
        self.up_s = time.monotonic() - t

    def stop(self) -> None:
        try:
            r = self._cli("down", "--timeout", "120", timeout=150)
            if r.returncode != 0:
                say(f"warning: dsql-ray down: {r.stdout}{r.stderr}".rstrip())
        except subprocess.TimeoutExpired:
            say("warning: dsql-ray down did not return in 150 s")


class Postgres(PostgresServer):
    """PostgreSQL 15 with its default durability (fsync and synchronous commit on)."""
    label = "PostgreSQL"

    def __init__(self, workdir: Path):
        super().__init__(settings={"fsync": "on", "synchronous_commit": "on",
                                   "full_page_writes": "on", "max_connections": "100"})


# --- schema ---------------------------------------------------------------------------------

def load_schema(server) -> float:
    t = time.monotonic()
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, bal bigint)")
        conn.execute("CREATE TABLE history (id bigint PRIMARY KEY, aid int, delta int)")
        for lo in range(1, ROWS + 1, INSERT_BATCH):
            hi = min(lo + INSERT_BATCH, ROWS + 1)
            values = ", ".join(f"({i}, 0)" for i in range(lo, hi))
            conn.execute(f"INSERT INTO accounts (id, bal) VALUES {values}")
        n = conn.execute(f"SELECT id FROM accounts WHERE id = {ROWS}").fetchall()
        if len(n) != 1:
            raise RuntimeError(f"{server.label}: row {ROWS} missing after the load")
    return time.monotonic() - t


# --- pgbench --------------------------------------------------------------------------------

@dataclass
class Statement:
    command: str
    latency_ms: float
    failures: int
    retries: int


@dataclass
class PgbenchResult:
    ok: bool = False
    tps: float | None = None
    avg_ms: float | None = None
    processed: int = 0
    failed: int = 0
    retried: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    statements: list[Statement] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _search(pattern: str, text: str, cast=float):
    m = re.search(pattern, text, re.M)
    return cast(m.group(1)) if m else None


def parse_pgbench(out: str) -> PgbenchResult:
    r = PgbenchResult()
    r.tps = _search(r"^tps = ([\d.]+)", out)
    r.avg_ms = _search(r"^latency average = ([\d.]+) ms", out)
    r.processed = _search(r"^number of transactions actually processed: (\d+)", out, int) or 0
    r.failed = _search(r"^number of failed transactions: (\d+)", out, int) or 0
    r.retried = _search(r"^number of transactions retried: (\d+)", out, int) or 0
    in_statements = False
    for line in out.splitlines():
        if line.startswith("statement latencies"):
            in_statements = True
            continue
        m = re.match(r"^\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\S.*)$", line) if in_statements else None
        if m:
            r.statements.append(Statement(m.group(4), float(m.group(1)), int(m.group(2)),
                                          int(m.group(3))))
        elif in_statements:
            in_statements = False
    return r


def transaction_latencies_ms(prefix: Path) -> list[float]:
    """Latency of every successful transaction in pgbench's -l logs, sorted.

    A log line is `client_id transaction_no time script_no time_epoch time_us [retries]`,
    time in microseconds, or "failed" / "skipped".
    """
    samples = []
    for path in prefix.parent.glob(prefix.name + ".*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[2].isdigit():
                samples.append(int(fields[2]) / 1e3)
    return sorted(samples)


def pgbench(server, script: Path, *, mode: str, clients: int, threads: int, seconds: int,
            max_tries: int = 10, extra: tuple[str, ...] = ()) -> PgbenchResult:
    """One pgbench run. Every run gets its own block of history ids (-D n=...)."""
    cmd = [PGBENCH, "-n", "-M", mode, "-c", str(clients), "-j", str(min(threads, clients)),
           "-T", str(seconds), "--max-tries", str(max_tries),
           "-D", f"n={next(RUN_IDS) * 10**9}", *extra, "-f", str(script), server.dsn]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        return PgbenchResult(errors=[f"pgbench did not finish in {seconds + 120} s"])
    r = parse_pgbench(p.stdout)
    r.ok = p.returncode == 0 and r.tps is not None
    errors = [ln.strip() for ln in p.stderr.splitlines()
              if re.search(r"error|abort|fatal|could not", ln, re.I)]
    r.errors = list(dict.fromkeys(errors))[:8]
    if not r.ok and not r.errors:
        r.errors = [f"pgbench exited {p.returncode}: {(p.stderr or p.stdout).strip()[-500:]}"]
    return r


def logged_pgbench(server, script: Path, logdir: Path, tag: str, **kw) -> PgbenchResult:
    """A pgbench run that logs every transaction (-l), for p50/p99 latency."""
    prefix = logdir / f"{tag}-{server.label}"
    r = pgbench(server, script, extra=("-l", f"--log-prefix={prefix}"), **kw)
    lat = transaction_latencies_ms(prefix)
    if lat:
        r.p50_ms, r.p99_ms = percentile(lat, 0.50), percentile(lat, 0.99)
    return r


# --- report ---------------------------------------------------------------------------------

def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def run(main) -> None:
    """Run a benchmark's main(): Ctrl-C and `kill` unwind through its cleanup (both servers
    stopped) even when started in the background, where SIGINT is otherwise ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM; servers stopped"))
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted; servers stopped")
