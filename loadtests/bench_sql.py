"""COMMIT latency of dsql-ray beside PostgreSQL, in one run, with psycopg.

Starts a local dsql-ray cluster and a throwaway PostgreSQL (see benchlib.py), loads the
same 10,000 accounts into both, then times COMMIT alone: single-row UPDATE transactions on
distinct rows, with one client and with CLIENTS concurrent clients. It prints the p50/p99
and commits/s of both and their ratio, and the DESIGN.md budget line; it asserts nothing.
The pgbench workloads (point select, small write, hot rows) are in bench_vs_postgres.py.

    python loadtests/bench_sql.py [--clients 8] [--commits 2000]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from benchlib import run, ROWS, DsqlRay, Postgres, fmt, load_schema, percentile, ratio, say


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



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8,
                        help="the concurrent commit-latency clients")
    parser.add_argument("--commits", type=int, default=2000,
                        help="transactions per commit-latency run (<= 10000)")
    args = parser.parse_args()
    if not 1 <= args.commits <= ROWS or args.clients < 1:
        parser.error(f"--commits must be 1..{ROWS} and --clients >= 1")
    workdir = Path(tempfile.mkdtemp(prefix="bench_sql_"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        dsql, pg = DsqlRay(workdir), Postgres(workdir)
        servers = (dsql, pg)
        for server in servers:
            cleanup.callback(server.stop)
            server.start()
        say(f"dsql-ray   127.0.0.1:{dsql.port}  up in {dsql.up_s:.1f} s  "
            f"(3 zones, commit on 2 of 3 journals)")
        say(f"PostgreSQL 127.0.0.1:{pg.port}  {pg.version} as {pg.account}  "
            f"(fsync on, synchronous_commit on)")
        for server in servers:
            say(f"loaded {server.label}: {ROWS:,} accounts in {load_schema(server):.1f} s")
        commits: dict = {1: {}, args.clients: {}}
        for n in commits:
            for server in servers:
                say(f"commit latency, {n} client(s), on {server.label} ...")
                commits[n][server.label] = commit_latency(server, n, args.commits,
                                                          limit_s=120)
        print_commits(commits, args.commits)
        say("\nbudget (DESIGN.md): commit p50 <= 5 ms")
        for n, by_server in commits.items():
            p50 = by_server["dsql-ray"].p50_ms
            verdict = "not measured" if p50 is None else ("met" if p50 <= 5.0 else "NOT MET")
            say(f"  {n} client(s): {fmt(p50)} ms  {verdict}")
        say("\nstopping both servers ...")
    return 0


if __name__ == "__main__":
    run(main)
