"""Point selects in one process: compute → storage over the in-process cluster's network
(no delay, no loss), the call path of the data plane without sockets.

Prints statements per second and mean µs per point select (prepared, one row by primary
key), best of ``--rounds``. Run it on two commits to compare them side by side; the
machine's other load moves the figures, so compare runs made together.

    python loadtests/bench_inprocess.py [--statements 20000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from dsql_ray.compute import types as T
from dsql_ray.sim.cluster import InProcessCluster

ROWS = 1000


async def bench(statements: int, rounds: int) -> list[float]:
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
                t0 = time.perf_counter()
                for i in range(statements):
                    result = await s.execute_prepared(sql, oids, [i % ROWS])
                    assert result.rows == [(i % ROWS,)]
                rates.append(statements / (time.perf_counter() - t0))
            return rates
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates = asyncio.run(bench(args.statements, args.rounds))
    best = max(rates)
    print(f"point select in process: best {best:,.0f}/s ({1e6 / best:.1f} µs each); "
          f"rounds: {', '.join(f'{r:,.0f}' for r in rates)}")


if __name__ == "__main__":
    main()
