"""dsql-ray vs. PostgreSQL with pgbench, side by side in one run, for users to run.

Starts a local dsql-ray cluster and a throwaway PostgreSQL on this machine (free ports,
temporary directories, both stopped and removed at the end), loads the same schema and
rows into both (accounts: 10,000 rows; history: empty), then runs pgbench -n with the
custom scripts in loadtests/pgbench/ against each, alternating which server goes first:

  point select (prepared)  -M prepared   one primary-key lookup per transaction
  point select (simple)    -M simple     the same, as simple queries
  small write              -M prepared   UPDATE a row, SELECT it, INSERT a history row
  hot write                -M prepared   the same on a hot set of 10 rows; 40001 retried
                                          by pgbench (--max-tries) and counted

and prints each workload's TPS, average and p99 latency for both and the ratio. After the
runs it checks on both servers that no update was lost: every committed write
transaction added its delta to one account and inserted one history row with the same
delta, so sum(accounts.bal) must equal sum(history.delta). It reports; it asserts nothing.

    python loadtests/bench_vs_postgres.py [--seconds 15] [--clients 8]

PostgreSQL keeps its default durability (fsync and synchronous_commit on). dsql-ray runs
its default local topology (3 zones, commit on 2 of 3 fsynced journals).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchlib import (PGBENCH, ROWS, SCRIPTS, DsqlRay, PgbenchResult, Postgres, fmt,
                      load_schema, logged_pgbench, ratio, run, say)


@dataclass(frozen=True)
class Workload:
    name: str
    script: str
    mode: str
    max_tries: int = 10


WORKLOADS = (
    Workload("point select (prepared)", "point_select.sql", "prepared"),
    Workload("point select (simple)", "point_select.sql", "simple"),
    Workload("small write", "small_write.sql", "prepared"),
    Workload("hot write (10 rows)", "hot_write.sql", "prepared", max_tries=1000),
)


def lost_updates(server) -> str:
    """sum(bal) against sum(delta): equal when every committed transaction kept both."""
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as conn:
        bal = conn.execute("SELECT coalesce(sum(bal), 0) FROM accounts").fetchone()[0]
        delta, rows = conn.execute(
            "SELECT coalesce(sum(delta), 0), count(*) FROM history").fetchone()
    verdict = "none lost" if bal == delta else f"MISMATCH by {bal - delta}"
    return f"sum(bal) {bal:,} vs sum(delta) {delta:,} over {rows:,} history rows: {verdict}"


def print_table(results: dict[str, dict[str, PgbenchResult]], order: dict[str, str],
                args) -> None:
    say(f"\npgbench -n -c {args.clients} -j {min(args.threads, args.clients)} "
        f"-T {args.seconds}; latency from the per-transaction log (-l); "
        "failed = gave up after --max-tries")
    say(f"{'workload':<25} {'server':<12} {'TPS':>9} {'avg ms':>8} {'p99 ms':>8} "
        f"{'xacts':>8} {'failed':>6} {'retried':>8}  first")
    for w in WORKLOADS:
        d, p = results[w.name]["dsql-ray"], results[w.name]["PostgreSQL"]
        for label, r in (("dsql-ray", d), ("PostgreSQL", p)):
            say(f"{w.name:<25} {label:<12} {fmt(r.tps, ',.0f'):>9} {fmt(r.avg_ms, '.3f'):>8} "
                f"{fmt(r.p99_ms, '.3f'):>8} {r.processed:>8,} {r.failed:>6} {r.retried:>8}"
                f"  {'*' if order[w.name] == label else ''}")
        say(f"{'':<25} {'dsql/PG':<12} {ratio(d.tps, p.tps):>9} {ratio(d.avg_ms, p.avg_ms):>8} "
            f"{ratio(d.p99_ms, p.p99_ms):>8}")
    for w in WORKLOADS:
        for label, r in results[w.name].items():
            for e in r.errors:
                say(f"! {w.name} on {label}: {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="pgbench -T per run")
    parser.add_argument("--clients", type=int, default=8, help="pgbench -c")
    parser.add_argument("--threads", type=int, default=2, help="pgbench -j")
    args = parser.parse_args()
    if not os.access(PGBENCH, os.X_OK):
        parser.error(f"{PGBENCH} not found")
    workdir = Path(tempfile.mkdtemp(prefix="bench_vs_postgres_"))
    logdir = workdir / "pgbench-logs"
    logdir.mkdir()
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        dsql, pg = DsqlRay(workdir), Postgres(workdir)
        for server in (dsql, pg):
            cleanup.callback(server.stop)
            server.start()
        version = subprocess.run([PGBENCH, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        say(f"machine: {os.cpu_count()} CPUs; client: {version}")
        say(f"dsql-ray   127.0.0.1:{dsql.port}  up in {dsql.up_s:.1f} s")
        say(f"PostgreSQL 127.0.0.1:{pg.port}  {pg.version}")
        for server in (dsql, pg):
            say(f"loaded {server.label}: {ROWS:,} accounts in {load_schema(server):.1f} s")
        results: dict[str, dict[str, PgbenchResult]] = {}
        order: dict[str, str] = {}
        for i, w in enumerate(WORKLOADS):
            servers = (dsql, pg) if i % 2 == 0 else (pg, dsql)
            order[w.name] = servers[0].label
            results[w.name] = {}
            for server in servers:
                say(f"pgbench {w.name} on {server.label} ({args.seconds} s) ...")
                results[w.name][server.label] = logged_pgbench(
                    server, SCRIPTS / w.script, logdir, f"w{i}", mode=w.mode,
                    clients=args.clients, threads=args.threads, seconds=args.seconds,
                    max_tries=w.max_tries)
        print_table(results, order, args)
        say("\nlost updates (after every run)")
        for server in (dsql, pg):
            say(f"  {server.label:<12} {lost_updates(server)}")
        say("\nstopping both servers ...")
    return 0


if __name__ == "__main__":
    run(main)
