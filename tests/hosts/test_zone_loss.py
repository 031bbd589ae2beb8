"""Losing a zone under load: a bank over the three hosts' endpoints while one host is cut
off and killed, then started again.

8 transfer clients spread over the three zones' endpoints (a client whose endpoint fails
moves to the next one, as a DSQL client retries another endpoint) retry 40001; at 30 s
the zone's host is cut off (link down) and every process on it killed; at 60 s it is
started again with the config's start commands. At 90 s: the total is unchanged, every
acknowledged transfer is present, and a read through the lost zone's own endpoint (its
compute reads its own zone's storage replicas) sees all of it.

It runs only when ``DSQL_ZONE_LOSS`` names the zones to lose, e.g.
``DSQL_ZONE_LOSS=us-east-1b`` (zone b holds adjudicator-1, the user tables' adjudicator,
which control rebuilds from the journal in a surviving zone) or ``us-east-1b,us-east-1c``.
It is NOT in the default run yet: on the shared 2-core machine (load average 30-100)
the rebuilt adjudicator took 60-70 s to serve, so no commit succeeded while the zone was
gone and the test fails; the default run would be red.
"""
from __future__ import annotations

import os
import random
import threading
import time

import psycopg
import pytest

from tests.integration import bank

ZONES = [z for z in os.environ.get("DSQL_ZONE_LOSS", "").split(",") if z]
SECONDS, CUT_AT, BACK_AT, CLIENTS = 90.0, 30.0, 60.0, 8
# a connection to a host that vanished gets no RST: the client gives up on it after ~5 s
CLIENT_TIMEOUTS = dict(connect_timeout=5, keepalives=1, keepalives_idle=2,
                       keepalives_interval=1, keepalives_count=3, tcp_user_timeout=5000)


class Run:
    def __init__(self, hcluster, zones: list[str]):
        self.ledger = bank.Ledger()
        self.commits: list[float] = []
        self.failed_statements = 0
        self.dsns = {z: hcluster.dsn(z, **CLIENT_TIMEOUTS) for z in zones}
        self.zones = zones

    def client(self, first: int, deadline: float, seed: int) -> None:
        rnd = random.Random(seed)
        at, conn = first, None
        while time.monotonic() < deadline:
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsns[self.zones[at % 3]], autocommit=True)
                src, dst = rnd.sample(range(bank.ACCOUNTS), 2)
                amount, tid = rnd.randint(1, 50), rnd.getrandbits(62)
                conn.execute("BEGIN")
                conn.execute("UPDATE accounts SET bal = bal - %s WHERE id = %s",
                             (amount, src))
                conn.execute("UPDATE accounts SET bal = bal + %s WHERE id = %s",
                             (amount, dst))
                conn.execute("INSERT INTO transfers VALUES (%s, %s, %s, %s)",
                             (tid, src, dst, amount))
                try:
                    conn.execute("COMMIT")
                except psycopg.errors.SerializationFailure:
                    with self.ledger.lock:
                        self.ledger.conflicts += 1
                    continue
                except psycopg.Error as exc:
                    with self.ledger.lock:
                        self.ledger.unknown.add(tid)      # the outcome is not known
                        self.failed_statements += 1
                    self.ledger.error(exc)
                    bank._close(conn)
                    conn, at = None, at + 1
                    continue
                with self.ledger.lock:
                    self.ledger.acked.add(tid)
                    self.commits.append(time.monotonic())
            except psycopg.Error as exc:       # before COMMIT: nothing committed
                with self.ledger.lock:
                    self.failed_statements += 1
                self.ledger.error(exc)
                bank._close(conn)
                conn, at = None, at + 1
                time.sleep(0.1)
        bank._close(conn)

    def longest_gap(self, start: float, end: float) -> float:
        times = [start, *sorted(self.commits), end]
        return max(b - a for a, b in zip(times, times[1:]))


def wait_serving(dsn: str, ledger: bank.Ledger, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bank.verify(dsn, ledger)
        except (psycopg.Error, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lost", ZONES)
def test_losing_a_zone_under_load(hosts, hcluster, lost):
    zones = sorted(hcluster.endpoints)
    survivor = next(z for z in zones if z != lost)
    with hcluster.connect(survivor) as conn:
        if conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                        "table_name = 'accounts'").fetchone()[0] == 0:
            bank.setup(conn)
        conn.execute("DELETE FROM transfers")
        conn.execute("UPDATE accounts SET bal = %s", (bank.OPENING,))
    run = Run(hcluster, zones)
    events: dict[str, float] = {}
    start = time.monotonic()
    deadline = start + SECONDS
    threads = [threading.Thread(target=run.client, args=(i, deadline, i))
               for i in range(CLIENTS)]
    threads.append(threading.Thread(target=bank.audit_client,
                                    args=(run.dsns[survivor], run.ledger, deadline)))
    for t in threads:
        t.start()

    def at(t: float) -> None:
        time.sleep(max(0.0, start + t - time.monotonic()))
    at(CUT_AT)
    hosts.cut(lost)
    hosts.kill(lost)
    events["cut"] = time.monotonic() - start
    at(BACK_AT)
    hosts.reconnect(lost)
    hosts.start(lost)
    events["started"] = time.monotonic() - start
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    end = time.monotonic()

    summary = wait_serving(run.dsns[survivor], run.ledger, 60)
    # the lost zone rejoins: its endpoint serves again, its replicas caught up
    rejoin_from = time.monotonic()
    lost_view = wait_serving(run.dsns[lost], run.ledger, 240)
    rejoined_s = time.monotonic() - start - events["started"]
    down = [c for c in run.commits if start + CUT_AT <= c <= start + BACK_AT]
    figures = {
        "lost": lost, "acked": summary["acked"], "unknown": summary["unknown"],
        "conflicts": summary["conflicts"], "failed_statements": run.failed_statements,
        "errors": summary["errors"], "commits_while_down": len(down),
        "longest_no_commit_s": round(run.longest_gap(start, end), 1),
        "rejoin_s_after_restart": round(rejoined_s, 1),
        "rejoin_check_s": round(time.monotonic() - rejoin_from, 1), **events}
    print("ZONE LOSS", figures)
    assert lost_view["acked"] == summary["acked"]
    assert len(down) > 0, "no commit succeeded while the zone was gone"
    # the adjudicators that lived there now live elsewhere; every actor is back
    rows = hcluster.status()
    adjudicators = {r["name"]: r["zone"] for r in rows if r["role"] == "adjudicator"}
    print("adjudicators", adjudicators, "moves", rows[-1].get("moves"))
    deadline = time.monotonic() + 120
    while any(r["state"] != "ALIVE" for r in rows):
        assert time.monotonic() < deadline, [r for r in rows if r["state"] != "ALIVE"]
        time.sleep(3)
        rows = hcluster.status()
