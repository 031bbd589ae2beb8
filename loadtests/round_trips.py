"""Round trips of a transaction: how many data-plane requests of each kind it sends, and
the sequential chain (critical path) of a one-row UPDATE commit and of a point select.

A counting script, not a timing benchmark. It starts a local dsql-ray cluster through its
CLI (``benchlib.DsqlRay``: one Ray node per zone, every role its own process), loads
ROWS rows, and runs, one after the other on one psycopg connection:

* ``idle``: nothing for IDLE_S seconds (the background: storage's long-poll tails);
* ``update``: N one-row ``UPDATE … WHERE id = k`` autocommit transactions;
* ``select``: N point selects ``SELECT … WHERE id = k``;
* ``explicit``: N ``BEGIN; UPDATE one row; COMMIT`` transactions.

Every role process counts the requests it sends by kind (``transport/rpc.py``,
``sent_counts``), reported in ``dsql-ray status --json`` as ``rpc_sent``. The script
reads every actor's counters before and after each phase and prints, per transaction,
the requests of each kind by sender role (``raw``), and the same less the idle rate times
the phase's duration (``net``: what the transactions caused).

The sequential chain is derived from the net counts and the code path, not measured:

* a storage read (compute → storage ``get``/``get_complete``/``get_many``/``scan``, one
  after the other within a statement) waits in storage for completeness at τ_start
  (``storage/shard.wait_complete``); a stream whose completeness lags asks its
  adjudicator for a ``promise`` nested inside the read. Promises for different streams
  go out at once, so a read that asks any adds one level: the chain counts
  min(promises, reads), an upper bound (a lease renewal that storage sends in the
  background, ahead of reads, is counted too though no read waits for it). Before
  leases, ``promise`` itself waited for the adjudicator's last record to be
  durable (a journal append already in flight, no new request) and the read may then
  wait for its tail to receive that record (a long-poll already outstanding: half a
  round trip, not counted);
* a commit is compute → adjudicator ``commit`` (one level), inside it the adjudicator →
  journal ``append`` to the three replicas at once, acknowledged on two (one level), plus
  a ``prepare`` round when the keys span ranges (none here). The ``durable`` marks that
  follow travel after the acknowledgement: not on the commit's path;
* so an autocommit UPDATE's chain is its reads' levels + 2, a point select's is its
  reads' levels, and the client's own round trips to compute come on top (BEGIN and
  COMMIT are one each, answered by compute; COMMIT carries the commit chain).

    python loadtests/round_trips.py [--n 200]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg

from benchlib import DsqlRay, say

ROWS = 1000
IDLE_S = 10.0
READS = ("get", "get_complete", "get_many", "scan")


def counters(cluster: DsqlRay) -> tuple[float, dict[tuple[str, str], int]]:
    """(when, {(sender role, request kind): requests sent}) summed over every actor."""
    r = cluster._cli("status", "--json", timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"dsql-ray status failed: {r.stdout}{r.stderr}")
    when = time.monotonic()
    total: Counter = Counter()
    for row in json.loads(r.stdout):
        if row.get("state") != "ALIVE" and row.get("role") != "control":
            raise RuntimeError(f"{row['name']} is {row.get('state')}")
        for kind, n in (row.get("rpc_sent") or {}).items():
            total[(row["role"], kind)] += n
    return when, dict(total)


def diff(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def phase(cluster: DsqlRay, conn: psycopg.Connection, name: str, n: int,
          run) -> tuple[str, float, dict]:
    t0, before = counters(cluster)
    for i in range(n):
        run(conn, i)
    t1, after = counters(cluster)
    return name, t1 - t0, diff(after, before)


def update(conn: psycopg.Connection, i: int) -> None:
    conn.execute(f"UPDATE accounts SET bal = bal + 1 WHERE id = {i % ROWS}")


def select(conn: psycopg.Connection, i: int) -> None:
    rows = conn.execute(f"SELECT bal FROM accounts WHERE id = {i % ROWS}").fetchall()
    assert len(rows) == 1, rows


def explicit(conn: psycopg.Connection, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(f"UPDATE accounts SET bal = bal + 1 WHERE id = {i % ROWS}")
    conn.execute("COMMIT")


def report(name: str, seconds: float, counts: dict, n: int, idle_rate: dict) -> dict:
    """Print the per-transaction table of one phase; the net counts, by (role, kind)."""
    say(f"\n== {name}: {n} transactions, {seconds:.1f} s between the counter readings")
    say(f"  {'sender':<12} {'request':<14} {'raw/txn':>8} {'net/txn':>8}")
    net = {}
    for key in sorted(set(counts) | set(idle_rate)):
        raw = counts.get(key, 0) / n
        net[key] = max(0.0, raw - idle_rate.get(key, 0.0) * seconds / n)
        if raw or net[key]:
            say(f"  {key[0]:<12} {key[1]:<14} {raw:8.2f} {net[key]:8.2f}")
    return net


def chain(net: dict, commits: bool) -> str:
    reads = sum(net.get(("compute", k), 0.0) for k in READS)
    promises = net.get(("storage", "promise"), 0.0)
    levels = [f"{reads:.2f} storage reads", f"{min(reads, promises):.2f} promise levels"]
    total = reads + min(reads, promises)
    if commits:
        prepares = net.get(("adjudicator", "prepare"), 0.0)
        levels += ["1 commit", "1 journal append (3 replicas at once, quorum 2)"]
        total += 2 + min(1.0, prepares)
        if prepares:
            levels.append(f"{min(1.0, prepares):.2f} prepare rounds")
    return f"{total:.2f} sequential round trips = " + " + ".join(levels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="transactions per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = DsqlRay(Path(tmp), label="round-trips")
        say("starting a local cluster ...")
        cluster.start()
        try:
            run(cluster, args.n)
        finally:
            cluster.stop()


def run(cluster: DsqlRay, n: int) -> None:
    with psycopg.connect(cluster.dsn, autocommit=True, connect_timeout=30) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, bal bigint)")
        values = ", ".join(f"({i}, 0)" for i in range(ROWS))
        conn.execute(f"INSERT INTO accounts (id, bal) VALUES {values}")
        for i in range(20):            # warm the plan and catalog caches
            select(conn, i)
            update(conn, i)
        t0, before = counters(cluster)
        time.sleep(IDLE_S)
        t1, after = counters(cluster)
        idle = {k: v / (t1 - t0) for k, v in diff(after, before).items()}
        say(f"== idle: requests per second over {t1 - t0:.1f} s (background)")
        for key, rate in sorted(idle.items()):
            say(f"  {key[0]:<12} {key[1]:<14} {rate:8.2f}/s")
        phases = [phase(cluster, conn, "one-row UPDATE, autocommit", n, update),
                  phase(cluster, conn, "point select by primary key", n, select),
                  phase(cluster, conn, "BEGIN; one-row UPDATE; COMMIT", n, explicit)]
    nets = [report(name, seconds, counts, n, idle) for name, seconds, counts in phases]
    say("\n== sequential chain per transaction (derived: see the docstring)")
    say(f"  one-row UPDATE, autocommit:     {chain(nets[0], True)}")
    say(f"  point select:                   {chain(nets[1], False)}")
    say(f"  BEGIN; UPDATE; COMMIT:          {chain(nets[2], True)}")


if __name__ == "__main__":
    main()
