"""Point selects in one process: compute → storage over the in-process cluster's network
(no delay, no loss), the call path of the data plane without sockets.

Prints, for a prepared point select (one row by primary key), the CPU time this process
spent per statement and the statements per second, best of ``--rounds``. CPU time per
statement is the figure to compare: other processes' load moves wall-clock rates a lot
and CPU time little. With ``--against DIR`` (a checkout or an extracted tree of another
commit) it runs that tree's code in a child process, round for round interleaved with
this one's, and prints both side by side and their ratio.

    python loadtests/bench_inprocess.py [--statements 20000] [--rounds 3] [--against DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dsql_ray.compute import types as T
from dsql_ray.sim.cluster import InProcessCluster

ROWS = 1000


async def bench(statements: int, rounds: int) -> list[tuple[float, float]]:
    """[(statements per second, CPU µs per statement)] per round."""
    with tempfile.TemporaryDirectory() as tmp:
        cluster = await InProcessCluster(Path(tmp)).start()
        try:
            s = cluster.session()
            await s.execute_simple("CREATE TABLE accounts (id int primary key, bal int)")
            for low in range(0, ROWS, 500):
                values = ", ".join(f"({i}, {i})" for i in range(low, low + 500))
                await s.execute_simple(f"INSERT INTO accounts VALUES {values}")
            sql, oids = "SELECT bal FROM accounts WHERE id = $1", [T.INT4]
            await s.prepare(sql, oids)
            rates = []
            for _ in range(rounds):
                t0, c0 = time.perf_counter(), time.process_time()
                for i in range(statements):
                    result = await s.execute_prepared(sql, oids, [i % ROWS])
                    assert result.rows == [(i % ROWS,)]
                rates.append((statements / (time.perf_counter() - t0),
                              (time.process_time() - c0) * 1e6 / statements))
            return rates
        finally:
            cluster.stop()


def _one_round(tree: str, statements: int) -> tuple[float, float]:
    """One round in a fresh process running ``tree``'s code."""
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, __file__, "--statements", str(statements),
                          "--rounds", "1", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return tuple(json.loads(out.splitlines()[-1])[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", help="another tree's root, to compare side by side")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(asyncio.run(bench(args.statements, args.rounds))))
        return
    if not args.against:
        rates = asyncio.run(bench(args.statements, args.rounds))
        print(f"point select in process: {min(c for _, c in rates):.0f} µs CPU each, "
              f"best {max(r for r, _ in rates):,.0f}/s")
        return
    here = str(Path(__file__).resolve().parents[1])
    runs: dict[str, list[tuple[float, float]]] = {here: [], args.against: []}
    for _ in range(args.rounds):
        for tree in (args.against, here):
            runs[tree].append(_one_round(tree, args.statements))
    print(f"{'tree':<40} {'CPU µs/statement (best)':>24} {'statements/s (best)':>20}")
    for tree, rates in runs.items():
        print(f"{tree:<40} {min(c for _, c in rates):>24.0f} {max(r for r, _ in rates):>20,.0f}")
    cpu = min(c for _, c in runs[here]) / min(c for _, c in runs[args.against])
    print(f"ratio this tree / other: CPU per statement {cpu:.2f}×; "
          "rounds (CPU µs): " + "; ".join(
              f"{Path(t).name or t}: " + ", ".join(f"{c:.0f}" for _, c in r)
              for t, r in runs.items()))


if __name__ == "__main__":
    main()
