"""Same code, same speed? Point-select and commit latency through the three-host setup
(network namespaces on a bridge, dsql_ray/testing/hosts.py, deployed by the cluster
config's own start commands) and through the embedded default, side by side in one run.

Each side: one table of ROWS rows; CLIENTS threads, each with its own TLS connection to
a zone's endpoint (the hosts: spread over the three zones; embedded: the one endpoint),
run point selects by key for SECONDS, then single-row UPDATE commits (autocommit, keys
spread so conflicts are rare) for SECONDS. Prints p50/p99 in ms, the count, and the
hosts/embedded ratio. Run as root (ip netns). The machine's other load shows in the
figures: compare the two columns of one run, not runs.

    sudo .venv/bin/python loadtests/bench_hosts.py [--seconds 15] [--clients 4]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from dsql_ray.testing.hosts import Hosts  # noqa: E402
from tests.hosts.conftest import NAME, HostsCluster  # noqa: E402
from tests.integration.conftest import LocalCluster, free_port  # noqa: E402

ROWS = 1000


def measure(dsns: list[str], seconds: float, clients: int, setup_dsn: str) -> dict:
    with psycopg.connect(setup_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kv (id int primary key, v bigint)")
        conn.execute("INSERT INTO kv SELECT g, 0 FROM generate_series(0, %s) g "
                     "ON CONFLICT (id) DO NOTHING", (ROWS - 1,))
    out = {}
    for kind, sql in (("point select", "SELECT v FROM kv WHERE id = %s"),
                      ("commit", "UPDATE kv SET v = v + 1 WHERE id = %s")):
        lat: list[float] = []
        errors = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def client(i: int) -> None:
            rnd = random.Random(i)
            with psycopg.connect(dsns[i % len(dsns)], autocommit=True) as conn:
                mine = []
                while time.monotonic() < deadline:
                    key = rnd.randrange(i, ROWS, clients)     # each client its own keys
                    t = time.perf_counter()
                    try:
                        conn.execute(sql, (key,)).fetchall() if kind == "point select" \
                            else conn.execute(sql, (key,))
                    except psycopg.Error:
                        errors[0] += 1
                        continue
                    mine.append(time.perf_counter() - t)
            with lock:
                lat.extend(mine)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
        out[kind] = {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "n": len(lat),
                     "errors": errors[0]}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    results = {}

    hosts = Hosts(Path(tempfile.mkdtemp(prefix="dqb", dir="/tmp")))
    hosts.create()
    try:
        hosts.start_all()
        hc = HostsCluster(hosts, hosts.wait_deployed(NAME))
        dsns = [hc.dsn(z) for z in sorted(hc.endpoints)]
        results["hosts"] = measure(dsns, args.seconds, args.clients, dsns[0])
        print("hosts", json.dumps(results["hosts"]), flush=True)
    finally:
        hosts.close()

    local = LocalCluster(Path(tempfile.mkdtemp(prefix="dqe")), free_port(),
                         f"benchhosts{os.getpid()}")
    local.up()
    try:
        results["embedded"] = measure([local.dsn], args.seconds, args.clients, local.dsn)
        print("embedded", json.dumps(results["embedded"]), flush=True)
    finally:
        local.down()

    print(f"{'':<14}{'hosts p50':>11}{'embedded p50':>14}{'ratio':>7}"
          f"{'hosts p99':>11}{'embedded p99':>14}{'ratio':>7}{'n hosts/emb':>14}")
    for kind in ("point select", "commit"):
        h, e = results["hosts"][kind], results["embedded"][kind]
        print(f"{kind:<14}{h['p50_ms']:>9.2f}ms{e['p50_ms']:>12.2f}ms"
              f"{h['p50_ms'] / e['p50_ms']:>7.2f}{h['p99_ms']:>9.2f}ms"
              f"{e['p99_ms']:>12.2f}ms{h['p99_ms'] / e['p99_ms']:>7.2f}"
              f"{h['n']:>8}/{e['n']}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
