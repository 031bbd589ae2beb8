"""dsql-ray vs. PostgreSQL 15 over the wire, side by side in one run, with the same client.

Starts a dsql-ray cluster and a PostgreSQL 15 server on this machine (each on a free
port, in its own temporary directory), loads the same schema into both
(accounts: 10,000 rows; history: empty), then:
  - runs the pgbench scripts in loadtests/pgbench/ against each server in turn:
    pgbench -n -M MODE -c CLIENTS -j THREADS -T SECONDS --max-tries 10 -l (TPS, failures,
    p50/p99 from the per-transaction log), then a shorter run with -r for per-statement
    latencies (see run_workload), and
  - times COMMIT alone with psycopg: single-row UPDATE transactions on distinct rows,
    one client and CLIENTS concurrent clients.
It prints one table per measurement and the DESIGN.md budget lines as met / not met;
it reports, it does not assert. Both servers are always stopped and the temporary
directories removed.

PostgreSQL keeps its default durability (fsync and synchronous_commit on) and runs at
REPEATABLE READ, the snapshot isolation dsql-ray gives. As root, PostgreSQL runs as an
unprivileged account (postgres, nobody, or a created `dsqlbench`).

    python loadtests/bench_sql.py [--seconds 20] [--clients 8] [--mode prepared]
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from dsql_ray.testing.postgres import PostgresServer

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "pgbench"
WORKLOADS = ("point_select", "small_write")
ROWS = 10_000  # must match random(1, 10000) in the pgbench scripts
INSERT_BATCH = 1_000
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
RUN_IDS = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def __init__(self, workdir: Path):
        self.name = f"bench-sql-{os.getpid()}"
        self.port = free_port()
        self.data_dir = workdir / "dsql-ray"
        self.dsn = dsn(self.port)
        self.up_s: float | None = None

    def _cli(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dsql_ray.cli", *args, "--name", self.name,
             "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        t = time.monotonic()
        try:
            # plaintext on loopback like the PostgreSQL side: this compares the databases,
            # not TLS (which the tests cover); the password is still a minted token
            r = self._cli("up", "--port", str(self.port), "--timeout", "180",
                          "--allow-plaintext", timeout=240)
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


def pgbench(server, workload: str, args, seconds: int, *extra: str) -> PgbenchResult:
    """One pgbench run. Every run gets its own block of history ids (-D n=...)."""
    cmd = [PGBENCH, "-n", "-M", args.mode, "-c", str(args.clients),
           "-j", str(min(args.threads, args.clients)), "-T", str(seconds),
           "--max-tries", "10", "-D", f"n={next(RUN_IDS) * 10**9}", *extra,
           "-f", str(SCRIPTS / f"{workload}.sql"), server.dsn]
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


def run_workload(server, workload: str, args, logdir: Path) -> PgbenchResult:
    """The timed run logs every transaction (-l) for p50/p99; per-statement latencies come
    from a shorter second run with -r, because -r's extra clock reads make pgbench log
    zero latencies for about half of PostgreSQL's sub-0.1 ms transactions."""
    prefix = logdir / f"{workload}-{server.label}"
    r = pgbench(server, workload, args, args.seconds, "-l", f"--log-prefix={prefix}")
    lat = transaction_latencies_ms(prefix)
    if lat:
        r.p50_ms, r.p99_ms = percentile(lat, 0.50), percentile(lat, 0.99)
    per_statement = pgbench(server, workload, args, args.statement_seconds, "-r")
    r.statements = per_statement.statements
    r.errors += [f"(-r run) {e}" for e in per_statement.errors]
    return r


# --- commit latency with psycopg -----------------------------------------------------------

@dataclass
class CommitResult:
    commits: int = 0
    failures: int = 0
    rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: list[str] = field(default_factory=list)


def commit_latency(server, clients: int, commits: int, limit_s: float) -> CommitResult:
    """`commits` single-row UPDATE transactions on distinct rows, split over `clients`
    connections; only COMMIT is timed. commits/s counts whole transactions."""
    per_client = commits // clients
    samples: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline = time.monotonic() + limit_s

    def client(k: int) -> None:
        try:
            with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as conn:
                start.wait(timeout=60)
                for i in range(per_client):
                    if time.monotonic() > deadline:
                        errors.append(f"client {k} stopped at the {limit_s:.0f} s limit")
                        return
                    row = 1 + k + i * clients
                    try:
                        conn.execute("BEGIN")
                        conn.execute("UPDATE accounts SET bal = bal + 1 WHERE id = %s", (row,))
                        t = time.perf_counter()
                        conn.execute("COMMIT")
                        samples[k].append(time.perf_counter() - t)
                    except psycopg.Error as e:
                        failures[k] += 1
                        errors.append(f"{e.sqlstate}: {str(e).strip()}")
                        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                            conn.execute("ROLLBACK")
        except Exception as e:  # noqa: BLE001 - reported, not raised
            start.abort()
            errors.append(f"client {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(clients)]
    for t in threads:
        t.start()
    result = CommitResult()
    try:
        start.wait(timeout=60)
    except threading.BrokenBarrierError:
        result.errors = list(dict.fromkeys(errors)) or ["clients did not connect"]
        return result
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
    wall = time.perf_counter() - t0
    lat = sorted(s * 1e3 for per in samples for s in per)
    result.commits, result.failures = len(lat), sum(failures)
    result.errors = list(dict.fromkeys(errors))[:5]
    if any(t.is_alive() for t in threads):
        result.errors.append("a client was still running at the time limit")
    if lat:
        result.rate = len(lat) / wall
        result.p50_ms, result.p99_ms = percentile(lat, 0.50), percentile(lat, 0.99)
    return result


# --- report ---------------------------------------------------------------------------------

def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def statement_cell(s: Statement | None) -> str:
    return "-" if s is None else f"{s.latency_ms:.3f} ({s.failures}/{s.retries})"


def print_pgbench(results: dict, args) -> None:
    say(f"\npgbench -n -M {args.mode} -c {args.clients} -j {min(args.threads, args.clients)} "
        f"-T {args.seconds} --max-tries 10 -l")
    say("p50/p99 from the per-transaction log (microsecond resolution; pgbench reads its "
        "clock lazily,\nso PostgreSQL's sub-0.1 ms values are approximate); avg is "
        "clients / TPS")
    say(f"{'workload':<14} {'server':<12} {'TPS':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'avg ms':>8} {'xacts':>9} {'failed':>7} {'retried':>8}")
    for workload in WORKLOADS:
        d, p = results[workload]["dsql-ray"], results[workload]["PostgreSQL"]
        for label, r in (("dsql-ray", d), ("PostgreSQL", p)):
            say(f"{workload:<14} {label:<12} {fmt(r.tps, ',.0f'):>10} "
                f"{fmt(r.p50_ms, '.3f'):>8} {fmt(r.p99_ms, '.3f'):>8} "
                f"{fmt(r.avg_ms, '.3f'):>8} {r.processed:>9,} {r.failed:>7} {r.retried:>8}")
        say(f"{'':<14} {'ratio d/PG':<12} {ratio(d.tps, p.tps):>10} "
            f"{ratio(d.p50_ms, p.p50_ms):>8} {ratio(d.p99_ms, p.p99_ms):>8} "
            f"{ratio(d.avg_ms, p.avg_ms):>8}")
    for workload in WORKLOADS:
        d, p = results[workload]["dsql-ray"], results[workload]["PostgreSQL"]
        by_server = [{s.command: s for s in r.statements} for r in (d, p)]
        say(f"\n{workload}: statement latency ms (failures/retries), separate "
            f"{args.statement_seconds} s run with -r")
        say(f"  {'dsql-ray':>18} {'PostgreSQL':>18}  statement")
        for command in dict.fromkeys([s.command for s in d.statements + p.statements]):
            cells = [statement_cell(stmts.get(command)) for stmts in by_server]
            say(f"  {cells[0]:>18} {cells[1]:>18}  {command}")
    for workload in WORKLOADS:
        for label, r in results[workload].items():
            for e in r.errors:
                say(f"! {workload} on {label}: {e}")


def print_commits(results: dict, commits: int) -> None:
    say(f"\ncommit latency (psycopg; BEGIN; UPDATE one distinct row; timed COMMIT; "
        f"{commits} transactions per run)")
    say(f"{'clients':>7} {'server':<12} {'commits':>8} {'failed':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'commits/s':>10}")
    for clients, by_server in results.items():
        for label, r in by_server.items():
            say(f"{clients:>7} {label:<12} {r.commits:>8} {r.failures:>7} {fmt(r.p50_ms):>8} "
                f"{fmt(r.p99_ms):>8} {fmt(r.rate, ',.0f'):>10}")
        d, p = by_server["dsql-ray"], by_server["PostgreSQL"]
        say(f"{'':>7} {'ratio d/PG':<12} {'':>8} {'':>7} {ratio(d.p50_ms, p.p50_ms):>8} "
            f"{ratio(d.p99_ms, p.p99_ms):>8} {ratio(d.rate, p.rate):>10}")
        for label, r in by_server.items():
            for e in r.errors:
                say(f"! commit latency, {clients} client(s), {label}: {e}")


def print_budgets(pgb: dict, commits: dict, clients: int) -> None:
    def line(text: str, value: float | None, limit: float, unit: str, at_least: bool) -> None:
        if value is None:
            verdict, shown = "not measured", "-"
        else:
            verdict = "met" if (value >= limit if at_least else value <= limit) else "NOT MET"
            shown = f"{value:.2f}{unit}"
        say(f"  {text:<52} {shown:>10}  {verdict}")

    def tps_ratio(w: str) -> float | None:
        d, p = pgb[w]["dsql-ray"].tps, pgb[w]["PostgreSQL"].tps
        return d / p if d is not None and p else None

    say("\nbudgets (DESIGN.md)")
    line("point select throughput >= 0.25 x PostgreSQL", tps_ratio("point_select"),
         0.25, "x", True)
    line(f"point select p50 <= 1 ms ({clients} clients, pgbench)",
         pgb["point_select"]["dsql-ray"].p50_ms, 1.0, " ms", False)
    line("small write throughput >= 0.25 x PostgreSQL", tps_ratio("small_write"),
         0.25, "x", True)
    for n, by_server in commits.items():
        line(f"commit p50 <= 5 ms ({n} client{'s' if n > 1 else ''}, psycopg)",
             by_server["dsql-ray"].p50_ms, 5.0, " ms", False)


# --- main -----------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="pgbench -T per run")
    parser.add_argument("--clients", type=int, default=8, help="pgbench -c and the "
                        "concurrent commit-latency clients")
    parser.add_argument("--threads", type=int, default=2, help="pgbench -j")
    parser.add_argument("--statement-seconds", type=int,
                        help="pgbench -T of the per-statement (-r) runs "
                        "(default: a third of --seconds, at least 5)")
    parser.add_argument("--mode", default="prepared",
                        choices=("simple", "extended", "prepared"), help="pgbench -M")
    parser.add_argument("--commits", type=int, default=2000,
                        help="transactions per commit-latency run (<= 10000)")
    args = parser.parse_args()
    if args.statement_seconds is None:
        args.statement_seconds = max(5, args.seconds // 3)
    if not 1 <= args.commits <= ROWS or args.clients < 1:
        parser.error(f"--commits must be 1..{ROWS} and --clients >= 1")
    if not os.access(PGBENCH, os.X_OK):
        parser.error(f"{PGBENCH} not found")

    # Ctrl-C and `kill` both unwind through the cleanup below, even when started in the
    # background (where SIGINT would otherwise be ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM,
                  lambda *_: sys.exit("stopped by SIGTERM; both servers stopped"))
    workdir = Path(tempfile.mkdtemp(prefix="bench_sql_"))
    logdir = workdir / "pgbench-logs"
    logdir.mkdir()
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        dsql, pg = DsqlRay(workdir), Postgres(workdir)
        servers = (dsql, pg)
        for server in servers:
            cleanup.callback(server.stop)
            server.start()
        pgbench_version = subprocess.run([PGBENCH, "--version"], capture_output=True,
                                         text=True, timeout=30).stdout.strip()
        say(f"machine: {os.cpu_count()} CPUs; client: {pgbench_version}, "
            f"psycopg {psycopg.__version__}")
        say(f"dsql-ray   127.0.0.1:{dsql.port}  up in {dsql.up_s:.1f} s  "
            f"(3 zones, commit on 2 of 3 journals)")
        say(f"PostgreSQL 127.0.0.1:{pg.port}  {pg.version} as {pg.account}  "
            f"(fsync on, synchronous_commit on, repeatable read)")
        for server in servers:
            say(f"loaded {server.label}: {ROWS:,} accounts in {load_schema(server):.1f} s")

        pgb: dict = {w: {} for w in WORKLOADS}
        for workload in WORKLOADS:
            for server in servers:
                say(f"pgbench {workload} on {server.label} "
                    f"({args.seconds} s + {args.statement_seconds} s with -r) ...")
                pgb[workload][server.label] = run_workload(server, workload, args, logdir)

        commits: dict = {1: {}, args.clients: {}}
        for n in commits:
            for server in servers:
                say(f"commit latency, {n} client(s), on {server.label} ...")
                commits[n][server.label] = commit_latency(server, n, args.commits,
                                                          limit_s=120)

        print_pgbench(pgb, args)
        print_commits(commits, args.commits)
        print_budgets(pgb, commits, args.clients)
        say("\nstopping both servers ...")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted; both servers stopped")
