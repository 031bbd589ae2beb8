"""Which topology defaults use this machine best: one run, several `dsql-ray up` flag sets.

Each flag set gets its own local cluster, started, loaded with the same rows
(benchlib.load_schema) and driven by pgbench -n with the point select (-M prepared) and
small write scripts of loadtests/pgbench/, one cluster at a time; the table shows each
set's TPS, p50 and p99 and its TPS as a ratio to the first set's. The order of the sets
alternates between rounds, so drift on a shared machine does not favour one of them.
It reports; it asserts nothing.

    python loadtests/bench_defaults.py --set "--compute-per-zone 1" \\
        --set "--compute-per-zone 2" --set "--compute-per-zone 3" [--seconds 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchlib import (PGBENCH, SCRIPTS, DsqlRay, PgbenchResult, fmt, load_schema,
                      logged_pgbench, run, say)

WORKLOADS = (("point select", "point_select.sql", "prepared"),
             ("small write", "small_write.sql", "prepared"))


def one_cluster(workdir: Path, flags: str, i: int, rnd: int,
                args) -> dict[str, PgbenchResult]:
    """Start a cluster with ``flags`` (its own data directory per round), load it, run
    every workload, stop it."""
    server = DsqlRay(workdir, label=f"set{i}-round{rnd}", up_args=tuple(shlex.split(flags)))
    logdir = workdir / f"logs-{i}-{rnd}"
    logdir.mkdir()
    with ExitStack() as cleanup:
        cleanup.callback(server.stop)
        server.start()
        say(f"[{flags or 'defaults'}] up in {server.up_s:.1f} s; "
            f"loaded in {load_schema(server):.1f} s")
        return {name: logged_pgbench(server, SCRIPTS / script, logdir, name.replace(" ", "_"),
                                     mode=mode, clients=args.clients, threads=2,
                                     seconds=args.seconds)
                for name, script, mode in WORKLOADS}


def report(sets: list[str], runs: dict[int, list[dict[str, PgbenchResult]]], args) -> None:
    say(f"\npgbench -n -c {args.clients} -j 2 -T {args.seconds}, {args.rounds} round(s); "
        "median over rounds")
    say(f"{'flags':<36} {'workload':<13} {'TPS':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs first':>9}")
    first: dict[str, float] = {}
    for i, flags in enumerate(sets):
        for name, _, _ in WORKLOADS:
            rs = [r[name] for r in runs[i]]
            tps = statistics.median([r.tps or 0.0 for r in rs])
            p50 = statistics.median([r.p50_ms or 0.0 for r in rs])
            p99 = statistics.median([r.p99_ms or 0.0 for r in rs])
            first.setdefault(name, tps)
            vs = f"{tps / first[name]:.2f}x" if first[name] else "-"
            say(f"{flags or 'defaults':<36} {name:<13} {fmt(tps, ',.0f'):>8} "
                f"{fmt(p50, '.3f'):>8} {fmt(p99, '.3f'):>8} {vs:>9}")
            for r in rs:
                for e in r.errors:
                    say(f"  ! {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", dest="sets", metavar="FLAGS",
                        help="`dsql-ray up` flags of one set (repeat; default: defaults)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not os.access(PGBENCH, os.X_OK):
        parser.error(f"{PGBENCH} not found")
    sets = args.sets or [""]
    workdir = Path(tempfile.mkdtemp(prefix="bench_defaults_"))
    runs: dict[int, list[dict[str, PgbenchResult]]] = {i: [] for i in range(len(sets))}
    try:
        for rnd in range(args.rounds):
            order = list(range(len(sets)))
            for i in (order if rnd % 2 == 0 else order[::-1]):
                runs[i].append(one_cluster(workdir, sets[i], i, rnd, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(sets, runs, args)
    return 0


if __name__ == "__main__":
    run(main)
