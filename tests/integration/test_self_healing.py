"""Kill roles under a concurrent bank workload: no acknowledged commit is lost, the total
never changes, and the cluster keeps serving (Ray restarts each actor, which recovers
from its checkpoint and the journal)."""
from __future__ import annotations

import json
import time

import pytest

from dsql_ray.keys import encode_key, table_prefix

from . import bank
from .conftest import LocalCluster, free_port

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def split_cluster(tmp_path_factory):
    """A cluster whose first user table (the bank's accounts) spans two adjudicators."""
    splits = [table_prefix(1).hex(), (table_prefix(1) + encode_key((10,))).hex()]
    c = LocalCluster(tmp_path_factory.mktemp("split"), free_port(), "pytestheal",
                     up_args=("--shard-splits", ",".join(splits)))
    c.up()
    yield c
    c.down()


def kill(cluster: LocalCluster, name: str) -> None:
    with cluster.ray_session() as ray:
        handle = ray.get_actor(name, namespace=cluster.state["namespace"])
        ray.kill(handle, no_restart=False)


VICTIMS = ((10, "storage-1-us-east-1a"), (22, "journal-us-east-1b"), (34, "adjudicator-1"),
           (46, "compute-0"))


def test_bank_survives_killing_storage_journal_adjudicator_and_compute(split_cluster):
    c = split_cluster
    with c.connect() as conn:
        bank.setup(conn)
    killed = []

    def faults():
        for at, name in VICTIMS:
            while time.monotonic() - start < at:
                time.sleep(0.2)
            kill(c, name)
            killed.append((round(time.monotonic() - start, 1), name))
    start = time.monotonic()
    ledger = bank.run(c.dsn, seconds=60, clients=8, during=faults)
    # the cluster heals by itself: every role answers again and the data is intact
    deadline = time.monotonic() + 60
    while True:
        try:
            summary = bank.verify(c.dsn, ledger)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    print("bank with faults:", json.dumps({"killed": killed, **summary}))
    assert len(killed) == len(VICTIMS)
    assert summary["acked"] > 100, summary
    status = c.cli("status").stdout
    for _, name in VICTIMS:
        line = next(l for l in status.splitlines() if l.startswith(name + " "))
        assert "ALIVE" in line, line


def test_down_during_writes_then_up_keeps_every_acknowledged_commit(split_cluster):
    c = split_cluster
    with c.connect() as conn:
        conn.execute("CREATE TABLE log (id bigint primary key, v int)")
    import threading

    import psycopg
    acked: list[int] = []
    stop = threading.Event()

    def writer(base: int):
        n = 0
        try:
            with psycopg.connect(c.dsn, autocommit=True, connect_timeout=5) as conn:
                while not stop.is_set():
                    n += 1
                    conn.execute("INSERT INTO log VALUES (%s, %s)", (base + n, n))
                    acked.append(base + n)
        except psycopg.Error:
            pass   # the cluster went down under us: the last statement's outcome is unknown
    threads = [threading.Thread(target=writer, args=(i * 1_000_000,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    c.down()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    c.up()
    with c.connect() as conn:
        present = {r[0] for r in conn.execute("SELECT id FROM log").fetchall()}
    assert acked, "the writers committed nothing before the cluster went down"
    missing = set(acked) - present
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged inserts lost"
    print(f"down during writes: {len(acked)} acknowledged inserts, all present")
