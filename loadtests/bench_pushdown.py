"""Filter and projection pushdown into storage scans: with and without, side by side.

Loads a table of ROWS rows (id, grp, score, payload of PAYLOAD bytes) into the in-process
cluster (every role in this process, no Ray), then times a selective key-aware read

    SELECT id, score FROM bench WHERE score > <cut> AND grp = 3

first with pushdown (storage evaluates the filter and returns only id and score), then
with it switched off (storage returns every row of the table, whole, and compute
filters). Each storage reply goes through pickle as on the real data plane
(transport/rpc.py), and its bytes and rows are counted. Prints a table and the ratio.

    python loadtests/bench_pushdown.py [--rows 20000] [--payload 200] [--repeat 5]
"""
from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsql_ray.compute.access import pushdown as access  # noqa: E402
from dsql_ray.sim.cluster import InProcessCluster  # noqa: E402

QUERY = "SELECT id, score FROM bench WHERE score > {cut} AND grp = 3"


class Meter:
    """Wraps each storage replica's call: pickles the reply like the wire, counts it."""

    def __init__(self, node):
        self.bytes = self.rows = self.calls = 0
        for route in node.shards:
            for replica in route.replicas:
                replica.call = self._wrap(replica.call)

    def _wrap(self, call):
        async def metered(method, *args, **kw):
            out = await call(method, *args, **kw)
            if method == "scan":
                blob = pickle.dumps(out, protocol=5)
                self.bytes += len(blob)
                self.rows += len(out)
                self.calls += 1
                out = pickle.loads(blob)
            return out
        return metered

    def reset(self):
        self.bytes = self.rows = self.calls = 0


async def load(session, rows: int, payload: int) -> None:
    await session.execute_simple(
        "CREATE TABLE bench (id int primary key, grp int, score int, payload text)")
    batch = 2500                      # under the 3,000 rows-per-transaction limit
    for start in range(0, rows, batch):
        end = min(rows, start + batch)
        await session.execute_simple(
            f"INSERT INTO bench SELECT g, g % 10, (g * 7919) % 1000, repeat('p', {payload}) "
            f"FROM generate_series({start + 1}, {end}) g")


async def measure(session, meter: Meter, sql: str, repeat: int) -> dict:
    times, result = [], None
    for _ in range(repeat):
        meter.reset()
        t0 = time.perf_counter()
        result = (await session.execute_simple(sql))[-1]
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "best_s": min(times),
            "rows_out": len(result.rows), "bytes": meter.bytes, "rows_shipped": meter.rows,
            "result": sorted(result.rows)}


async def main(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = await InProcessCluster(Path(tmp)).start()
        try:
            session = cluster.session()
            t0 = time.perf_counter()
            await load(session, args.rows, args.payload)
            print(f"loaded {args.rows} rows ({args.payload}-byte payload) in "
                  f"{time.perf_counter() - t0:.1f} s")
            meter = Meter(session.node)
            sql = QUERY.format(cut=args.cut)
            out = {}
            for mode in ("pushdown", "no pushdown"):
                access.PUSHDOWN = mode == "pushdown"
                session.node.plans.clear()           # plan again under the switch
                out[mode] = await measure(session, meter, sql, args.repeat)
            access.PUSHDOWN = True
        finally:
            cluster.stop()
    on, off = out["pushdown"], out["no pushdown"]
    assert on["result"] == off["result"], "pushdown changed the answer"
    print(f"\n{sql}   ({on['rows_out']} rows in the result)\n")
    print(f"{'':14}{'median ms':>11}{'best ms':>10}{'rows shipped':>14}{'bytes shipped':>15}")
    for mode, r in out.items():
        print(f"{mode:14}{r['median_s'] * 1000:11.1f}{r['best_s'] * 1000:10.1f}"
              f"{r['rows_shipped']:14d}{r['bytes']:15d}")
    print(f"\nspeed-up {off['median_s'] / on['median_s']:.1f}x (median), bytes "
          f"{off['bytes'] / max(on['bytes'], 1):.0f}x fewer, rows "
          f"{off['rows_shipped'] / max(on['rows_shipped'], 1):.0f}x fewer with pushdown")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--payload", type=int, default=200)
    p.add_argument("--cut", type=int, default=900, help="score > cut (0..999)")
    p.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(p.parse_args()))
