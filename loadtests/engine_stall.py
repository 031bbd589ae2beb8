"""Does one session's long query stall the other sessions of its compute process?

Starts a local cluster with one compute actor (``--compute-per-zone 1``, the first zone
serving), so both sessions below land on the same compute process. Session A runs a long
engine statement (a nested-loop join over generate_series); meanwhile session B runs point
selects (the key-aware path) one after another. Prints the point selects' p50 and max
latency while the long query ran, the long query's time, and the same point selects' p50
with nothing else running (the baseline).

    .venv/bin/python loadtests/engine_stall.py [--size 1500] [--keep]

A measuring script: the machine is shared, so its figures are noisy; run it briefly.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import DsqlRay, percentile, say  # noqa: E402

from dsql_ray.transport.handoff import compute_index  # noqa: E402

LONG_SQL = ("SELECT count(*) FROM generate_series(1, {n}) a "
            "JOIN generate_series(1, {n}) b ON a + b = 7")
POINT_SQL = "SELECT v FROM stall_points WHERE id = %s"
POINT_ROWS = 100
BASELINE_POINTS = 200
MAX_POINTS = 100_000            # point selects during one long query, at most


class OneCompute(DsqlRay):
    """The benchmark cluster with a single compute actor behind the first zone's relay."""

    def _cli(self, *args: str, timeout: float):
        if args and args[0] == "up":
            args = (*args, "--compute-per-zone", "1")
        return super()._cli(*args, timeout=timeout)


def point_latencies(conn: psycopg.Connection, until, limit: int) -> list[float]:
    """Point selects one after another until ``until()`` is true or ``limit`` ran."""
    out: list[float] = []
    while len(out) < limit and not until():
        t = time.perf_counter()
        conn.execute(POINT_SQL, (len(out) % POINT_ROWS,), prepare=True).fetchall()
        out.append(time.perf_counter() - t)
    return out


def measure(server_dsn: str, size: int) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as a, \
            psycopg.connect(server_dsn, autocommit=True) as b:
        a.execute("DROP TABLE IF EXISTS stall_points")
        a.execute("CREATE TABLE stall_points (id int PRIMARY KEY, v int)")
        a.execute("INSERT INTO stall_points VALUES "
                  + ", ".join(f"({i}, {i})" for i in range(POINT_ROWS)))
        pids = {compute_index(c.info.backend_pid) for c in (a, b)}
        say(f"compute index of the sessions: {sorted(pids)} (one: same compute process)")
        base = sorted(point_latencies(b, lambda: False, BASELINE_POINTS))
        say(f"baseline point select: p50 {base[len(base) // 2] * 1e3:.2f} ms, "
            f"max {base[-1] * 1e3:.2f} ms ({len(base)} selects)")
        done = threading.Event()
        took: list[float] = []

        def long_query():
            t = time.perf_counter()
            a.execute(LONG_SQL.format(n=size)).fetchall()
            took.append(time.perf_counter() - t)
            done.set()

        worker = threading.Thread(target=long_query)
        worker.start()
        time.sleep(0.2)                 # let the long statement reach compute's engine
        during = sorted(point_latencies(b, done.is_set, MAX_POINTS))
        worker.join()
        say(f"long query ({size}x{size} nested loop): {took[0]:.2f} s")
        if during:
            say(f"point selects during it: {len(during)}, "
                f"p50 {percentile(during, 0.5) * 1e3:.2f} ms, "
                f"max {during[-1] * 1e3:.2f} ms")
        else:
            say("point selects during it: none completed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1200,
                        help="generate_series length on each side of the join")
    parser.add_argument("--dsn", help="measure an already running cluster instead")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    if args.dsn:
        measure(args.dsn, args.size)
        return
    server = OneCompute(Path(tempfile.mkdtemp(prefix="engine-stall-")), label="stall")
    say("starting a local cluster (one compute actor) ...")
    server.start()
    say(f"up in {server.up_s:.0f} s: {server.dsn.split(' password=')[0]}")
    try:
        measure(server.dsn, args.size)
    finally:
        if args.keep:
            say(f"left running: {server.dsn}")
        else:
            server.stop()


if __name__ == "__main__":
    main()
