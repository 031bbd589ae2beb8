"""The seed demo on a real local cluster: psql and psycopg over real sockets, through
relay → compute → storage for reads and compute → adjudicator → journal → storage for
writes, with every actor placed in its labelled zone."""
from __future__ import annotations

import subprocess
import uuid

import psycopg
import pytest

from dsql_ray.control.topology import plan_topology
from dsql_ray.config import ClusterConfig
from dsql_ray.testing import pgtools


def psql(cluster, script: str) -> str:
    exe = pgtools.find("psql")
    proc = subprocess.run([exe, cluster.dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t",
                           "-F", "|", "-f", "-"], input=script, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_psql_demo(cluster):
    table = f"t_{uuid.uuid4().hex[:8]}"
    out = psql(cluster, f"""
CREATE TABLE {table} (id int primary key, v text);
INSERT INTO {table} VALUES (1, 'one'), (2, 'two'), (3, 'three');
SELECT * FROM {table} WHERE id = 1;
UPDATE {table} SET v = 'TWO' WHERE id = 2;
DELETE FROM {table} WHERE id = 3;
SELECT * FROM {table};
""")
    assert out.splitlines() == ["1|one", "1|one", "2|TWO"]


def test_psycopg_crud_and_reads_after_writes(cluster):
    table = f"t_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} (id bigint primary key, v text, n int)")
        conn.execute(f"INSERT INTO {table} VALUES (10, 'a', 1), (20, 'b', NULL)")
        assert conn.execute(f"SELECT v, n FROM {table} WHERE id = 20").fetchall() == [("b", None)]
        assert conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = 10").rowcount == 1
        assert conn.execute(f"DELETE FROM {table} WHERE id = 20").rowcount == 1
    with cluster.connect() as other:   # another session, likely another compute actor
        assert other.execute(f"SELECT * FROM {table}").fetchall() == [(10, "a", 2)]


def test_unsupported_statement_is_0A000_and_session_stays_usable(cluster):
    with cluster.connect() as conn:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("TRUNCATE sometable")
        assert err.value.sqlstate == "0A000"
        with pytest.raises(psycopg.Error) as err:
            conn.execute("LISTEN channel")
        assert err.value.sqlstate == "0A000"
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)


def test_transaction_commits_atomically_and_conflicts_fail_at_commit(cluster):
    table = f"t_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as setup:
        setup.execute(f"CREATE TABLE {table} (id int primary key, bal int)")
        setup.execute(f"INSERT INTO {table} VALUES (1, 100)")
    a, b = cluster.connect(), cluster.connect()
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute(f"UPDATE {table} SET bal = bal - 30 WHERE id = 1")
        b.execute(f"UPDATE {table} SET bal = bal + 5 WHERE id = 1")   # does not wait
        a.execute("COMMIT")
        with pytest.raises(psycopg.Error) as err:
            b.execute("COMMIT")
        assert err.value.sqlstate == "40001"
        assert b.execute(f"SELECT bal FROM {table} WHERE id = 1").fetchone() == (70,)
    finally:
        a.close()
        b.close()


def test_every_actor_runs_on_a_node_labelled_with_its_zone(cluster):
    import ray
    state = cluster.state
    ray.init(address=state["ray_address"], namespace=state["namespace"],
             log_to_driver=False, logging_level="ERROR")
    try:
        node_labels = {n["NodeID"]: n["Labels"] for n in ray.nodes() if n["Alive"]}
        specs = plan_topology(ClusterConfig(name=cluster.name, data_dir=cluster.data_dir))
        roles = {s.role for s in specs}
        assert roles == {"relay", "compute", "adjudicator", "journal", "storage"}
        assert sum(s.role == "storage" for s in specs) == 6
        for spec in specs:
            handle = ray.get_actor(spec.name, namespace=state["namespace"])
            labels = node_labels[ray.get(handle.node_id.remote(), timeout=30)]
            assert (labels["region"], labels["zone"]) == (spec.region, spec.zone), spec.name
        zones_of_journals = {node_labels[ray.get(ray.get_actor(s.name, namespace=state[
            "namespace"]).node_id.remote())]["zone"] for s in specs if s.role == "journal"}
        assert len(zones_of_journals) == 3
    finally:
        ray.shutdown()


def test_status_lists_every_actor_with_its_zone(cluster):
    out = cluster.cli("status").stdout
    specs = plan_topology(ClusterConfig(name=cluster.name, data_dir=cluster.data_dir))
    for spec in specs:
        line = next(l for l in out.splitlines() if l.startswith(spec.name + " "))
        assert spec.zone in line and "ALIVE" in line and "127.0.0.1:" in line, line


def test_data_survives_down_and_up(cluster):
    table = f"t_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} (id int primary key, v text)")
        for i in range(50):
            conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, f"v{i}"))
        conn.execute(f"UPDATE {table} SET v = 'changed' WHERE id = 7")
        conn.execute(f"DELETE FROM {table} WHERE id = 8")
    cluster.down()
    cluster.up()
    with cluster.connect() as conn:
        rows = conn.execute(f"SELECT id, v FROM {table}").fetchall()
    expected = [(i, "changed" if i == 7 else f"v{i}") for i in range(50) if i != 8]
    assert sorted(rows) == expected
