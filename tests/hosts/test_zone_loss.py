"""Losing a zone under load: a bank over the three hosts' endpoints while one host is cut
off and killed, then started again.

8 transfer clients spread over the three zones' endpoints (a client whose endpoint fails
moves to the next one, as a DSQL client retries another endpoint) retry 40001; at 30 s
the zone's host is cut off (link down) and every process on it killed; at 60 s it is
started again with the config's start commands. At 90 s: the total is unchanged, every
acknowledged transfer is present, zone b's replicas have applied everything the others
have, and a read through the lost zone's own endpoint sees all of it.

Zone b is lost first: it holds adjudicator-1, the user tables' adjudicator, so no
transfer commits until control has rebuilt it from the journal in a surviving zone
(zone c, the one without an adjudicator). Then zone c is lost, in the same cluster: it
now holds the moved adjudicator-1, which moves again (to zone b, back by then).
``DSQL_ZONE_LOSS=us-east-1b`` (comma-separated zones) picks other runs.

It prints the figures (failed statements, the longest stretch with no successful
commit, how long the lost zone took to serve again, the load average). The stretch is
asserted only loosely, under 30 s: the aim is 10 s, but this machine is shared and its
load swings from 1 to 100; 30 s still fails the bug this test found (every connection
attempt to the dead host shared one SYN retried for 38-128 s).
"""
from __future__ import annotations

import os
import random
import threading
import time

import psycopg
import pytest

from tests.integration import bank

ZONES = [z for z in os.environ.get("DSQL_ZONE_LOSS", "us-east-1b,us-east-1c").split(",")
         if z]
SECONDS, CUT_AT, BACK_AT, CLIENTS = 90.0, 30.0, 60.0, 8
NO_COMMIT_MAX_S = 30.0
# a connection to a host that vanished gets no RST: the client gives up on it after ~5 s
CLIENT_TIMEOUTS = dict(connect_timeout=5, keepalives=1, keepalives_idle=2,
                       keepalives_interval=1, keepalives_count=3, tcp_user_timeout=5000)


class Run:
    def __init__(self, hcluster, zones: list[str]):
        self.ledger = bank.Ledger()
        self.commits: list[tuple[float, str]] = []      # (when, through which zone)
        self.failed_statements = 0
        self.dsns = {z: hcluster.dsn(z, **CLIENT_TIMEOUTS) for z in zones}
        self.zones = zones

    def transfer(self, conn: psycopg.Connection, rnd: random.Random) -> int:
        src, dst = rnd.sample(range(bank.ACCOUNTS), 2)
        amount, tid = rnd.randint(1, 50), rnd.getrandbits(62)
        conn.execute("BEGIN")
        conn.execute("UPDATE accounts SET bal = bal - %s WHERE id = %s", (amount, src))
        conn.execute("UPDATE accounts SET bal = bal + %s WHERE id = %s", (amount, dst))
        conn.execute("INSERT INTO transfers VALUES (%s, %s, %s, %s)",
                     (tid, src, dst, amount))
        return tid

    def client(self, first: int, deadline: float, seed: int) -> None:
        rnd = random.Random(seed)
        at, conn = first, None
        while time.monotonic() < deadline:
            zone = self.zones[at % 3]
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsns[zone], autocommit=True)
                tid = self.transfer(conn, rnd)
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
                    self.commits.append((time.monotonic(), zone))
            except psycopg.Error as exc:       # before COMMIT: nothing committed
                with self.ledger.lock:
                    self.failed_statements += 1
                self.ledger.error(exc)
                bank._close(conn)
                conn, at = None, at + 1
                time.sleep(0.1)
        bank._close(conn)

    def longest_gap(self, start: float, end: float) -> tuple[float, float]:
        """The longest stretch with no successful commit, and when it began (s)."""
        times = [start, *sorted(t for t, _ in self.commits), end]
        return max((b - a, a - start) for a, b in zip(times, times[1:]))

    def resumed(self, start: float, after: float) -> dict[str, float]:
        """Per endpoint zone, the first commit after ``after`` s."""
        first: dict[str, float] = {}
        for t, zone in sorted(self.commits):
            if t - start > after and zone not in first:
                first[zone] = round(t - start, 1)
        return first


def wait_serving(dsn: str, ledger: bank.Ledger, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bank.verify(dsn, ledger)
        except (psycopg.Error, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def first_read(dsn: str, deadline: float, out: dict) -> None:
    """When the lost zone's endpoint answers a read again (its relay and compute are
    back; compute reads its own zone's replicas, which serve once caught up)."""
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute("SELECT count(*) FROM transfers").fetchone()
            out["served"] = time.monotonic()
            return
        except psycopg.Error:
            time.sleep(0.5)


def replicas_caught_up(hcluster, zone: str, timeout: float = 180) -> list[dict]:
    """Every storage replica in ``zone`` is alive and has received, in every journal
    stream, as far as the furthest replica of its shard (no writes run any more).
    (Received, not applied: a replica applies the last records once a read's promise
    closes the idle streams up to them, so applied positions differ at rest.)"""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in hcluster.status() if r["role"] == "storage"]
        furthest: dict = {}
        for r in rows:
            if r["state"] == "ALIVE":
                known = furthest.get(r["shard"], r["received"])
                furthest[r["shard"]] = [max(a, b) for a, b in zip(known, r["received"])]
        mine = [r for r in rows if r["zone"] == zone]
        if mine and all(r["state"] == "ALIVE" and r["received"] == furthest[r["shard"]]
                        for r in mine):
            return mine
        assert time.monotonic() < deadline, [(r["name"], r["state"], r.get("received"),
                                              furthest.get(r.get("shard"))) for r in rows]
        time.sleep(3)


def served_by_own_replicas(hcluster, run: Run, zone: str, timeout: float = 90) -> None:
    """A read through the zone's endpoint is served by the zone's own replicas: one at a
    snapshot above everything they had received applies all of it. (Not "applied equals
    received": an adjudicator's lease-cap notes keep arriving, each a little ahead of
    the present, and a record above every read's snapshot is rightly not applied yet.)"""
    deadline = time.monotonic() + timeout
    while True:
        before = {r["name"]: r["received"] for r in hcluster.status()
                  if r["role"] == "storage" and r["zone"] == zone}
        bank.verify(run.dsns[zone], run.ledger)
        rows = [r for r in hcluster.status() if r["role"] == "storage" and r["zone"] == zone]
        if all(r["name"] in before and
               all(a >= b for a, b in zip(r["applied"], before[r["name"]])) for r in rows):
            return
        assert time.monotonic() < deadline, [(r["name"], r["applied"], before.get(r["name"]),
                                              r["complete_ts"], r.get("streams"))
                                             for r in rows]


def reset_bank(hcluster, zone: str) -> None:
    """A fresh bank (a run leaves more transfers than one transaction may delete)."""
    with hcluster.connect(zone) as conn:
        conn.execute("DROP TABLE IF EXISTS transfers")
        conn.execute("DROP TABLE IF EXISTS accounts")
        bank.setup(conn)


def lose_and_restart(hosts, run: Run, lost: str, survivor: str) -> dict:
    """The workload for SECONDS with the zone's host gone from CUT_AT to BACK_AT."""
    events: dict = {}
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
    events["cut_wall"] = time.strftime("%H:%M:%S", time.gmtime())
    hosts.cut(lost)
    hosts.kill(lost)
    events["cut"] = time.monotonic() - start
    at(BACK_AT)
    hosts.reconnect(lost)
    hosts.start(lost)
    events["started"] = time.monotonic() - start
    served: dict = {}
    prober = threading.Thread(target=first_read,
                              args=(run.dsns[lost], time.monotonic() + 240, served))
    prober.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    events["end"] = time.monotonic() - start
    prober.join(timeout=300)
    events["served"] = served.get("served", float("nan")) - start
    events["start"] = start
    return events


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lost", ZONES)
def test_losing_a_zone_under_load(hosts, hcluster, lost):
    zones = sorted(hcluster.endpoints)
    survivor = next(z for z in zones if z != lost)
    reset_bank(hcluster, survivor)
    run = Run(hcluster, zones)
    events = lose_and_restart(hosts, run, lost, survivor)
    start = events.pop("start")
    summary = wait_serving(run.dsns[survivor], run.ledger, 60)
    gap, gap_at = run.longest_gap(start, start + events["end"])
    down = [t for t, _ in run.commits if start + CUT_AT <= t <= start + BACK_AT]
    figures = {
        "lost": lost, "acked": summary["acked"], "unknown": summary["unknown"],
        "conflicts": summary["conflicts"], "failed_statements": run.failed_statements,
        "errors": summary["errors"], "commits_while_down": len(down),
        "longest_no_commit_s": round(gap, 1), "it_began_at_s": round(gap_at, 1),
        "resumed_by_zone_s": run.resumed(start, events["cut"]),
        "serving_again_s_after_restart": round(events["served"] - events["started"], 1),
        "load_average": os.getloadavg(), **{k: (round(v, 1) if isinstance(v, float) else v)
                                            for k, v in events.items()}}
    print("\nZONE LOSS", figures)
    # the lost zone rejoins: its replicas caught up, its endpoint reads everything
    caught_up = replicas_caught_up(hcluster, lost)
    figures["replicas_caught_up_s_after_restart"] = round(
        time.monotonic() - start - events["started"], 1)
    lost_view = wait_serving(run.dsns[lost], run.ledger, 120)
    served_by_own_replicas(hcluster, run, lost)
    print("ZONE LOSS rejoined", lost, {r["name"]: r["received"] for r in caught_up},
          "caught up", figures["replicas_caught_up_s_after_restart"], "s after restart")
    assert lost_view["acked"] == summary["acked"]
    assert len(down) > 0, "no commit succeeded while the zone was gone"
    assert gap <= NO_COMMIT_MAX_S, figures
    rows = all_alive(hcluster)
    adjudicators = {r["name"]: r["zone"] for r in rows if r["role"] == "adjudicator"}
    print("adjudicators", adjudicators, "moves", rows[-1].get("moves"))
    assert lost not in adjudicators.values()   # rebuilt elsewhere, and they stay there


def all_alive(hcluster, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = hcluster.status()
        if all(r["state"] == "ALIVE" for r in rows):
            return rows
        assert time.monotonic() < deadline, [r for r in rows if r["state"] != "ALIVE"]
        time.sleep(3)


#: how long the head's GCS stays dead while the data plane is exercised; Ray's raylets
#: and workers exit on their own once the GCS has been gone for
#: RAY_gcs_rpc_server_reconnect_timeout_s (60 s by default)
HEADLESS_S = float(os.environ.get("DSQL_HEADLESS_S", "15"))


@pytest.mark.timeout(300)
def test_the_data_plane_keeps_serving_while_the_heads_gcs_is_gone(hosts, hcluster):
    """Last in the session: it leaves the Ray cluster without its GCS. Only the GCS
    process dies (the head host and zone a's actors live on), as when Ray's head
    process crashes. Sessions opened before and new ones through zone b's and c's
    endpoints keep committing and reading, and what they wrote is all there."""
    others = [z for z in sorted(hcluster.endpoints) if z != hosts.head.zone]
    with hcluster.connect(others[0]) as conn:
        conn.execute("CREATE TABLE headless (id bigint PRIMARY KEY, zone text)")
    before = {z: hcluster.connect(z) for z in others}     # open before the GCS dies
    assert hosts.kill_process(hosts.head.zone, "gcs_server"), "no GCS process found"
    t0, next_id, written, reads = time.monotonic(), 0, {}, 0
    try:
        while time.monotonic() - t0 < HEADLESS_S:
            for zone in others:
                try:
                    with hcluster.connect(zone) as fresh:          # a new session
                        for conn in (before[zone], fresh):
                            conn.execute("INSERT INTO headless VALUES (%s, %s)",
                                         (next_id, zone))
                            written[next_id] = zone
                            next_id += 1
                            assert conn.execute(
                                "SELECT zone FROM headless WHERE id = %s",
                                (next_id - 1,)).fetchone() == (zone,)
                            reads += 1
                except psycopg.Error as exc:
                    raise AssertionError(f"through {zone}, {time.monotonic() - t0:.1f} s "
                                         f"after the GCS died: {exc!r}") from exc
        headless_s = time.monotonic() - t0
        # still without a GCS: everything above ran while the head's GCS was gone
        assert not hosts.kill_process(hosts.head.zone, "gcs_server")
        for zone in others:     # each zone reads what the other zone wrote
            with hcluster.connect(zone) as conn:
                rows = dict(conn.execute("SELECT id, zone FROM headless").fetchall())
            assert rows == written, (zone, len(rows), len(written))
    finally:
        for conn in before.values():
            conn.close()
    print(f"\nHEAD LOSS: {len(written)} commits and {reads} reads through "
          f"{', '.join(others)} in {headless_s:.1f} s without the GCS; "
          f"load average {os.getloadavg()}")
