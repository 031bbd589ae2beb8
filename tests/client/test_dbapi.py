"""The PEP 249 client over Ray against a real local cluster: the API surface, values as
psycopg returns them, typed errors with the connection usable after each, and the
client from a task, an actor and asyncio."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest

import dsql_ray

pytestmark = pytest.mark.timeout(300)


def test_pep249_surface_and_values(ray_driver):
    assert (dsql_ray.client.apilevel, dsql_ray.client.paramstyle) == ("2.0", "pyformat")
    with dsql_ray.connect(ray_driver, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE kinds (id int primary key, n numeric(10,2), f float8, "
                    "ts timestamptz, d date, u uuid, b bytea, s text, ok bool)")
        now = dt.datetime(2026, 12, 7, 8, 30, 1, 250000, tzinfo=dt.timezone.utc)
        u = uuid.UUID("12345678-1234-5678-1234-567812345678")
        cur.execute("INSERT INTO kinds VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (1, Decimal("12.50"), 0.5, now, dt.date(2026, 1, 2), u, b"\x00\xff",
                     "it's", True))
        assert cur.rowcount == 1
        cur.executemany("INSERT INTO kinds (id, n, s) VALUES (%(id)s, %(n)s, %(s)s)",
                        [{"id": i, "n": Decimal(i), "s": f"row {i}"} for i in range(2, 7)])
        assert cur.rowcount == 5
        cur.execute("SELECT * FROM kinds WHERE id = %s", (1,))
        assert [c.name for c in cur.description] == \
            ["id", "n", "f", "ts", "d", "u", "b", "s", "ok"]
        assert cur.description[1].type_code == 1700 and cur.description[0][0] == "id"
        assert cur.fetchone() == (1, Decimal("12.50"), 0.5, now, dt.date(2026, 1, 2), u,
                                  b"\x00\xff", "it's", True)
        assert cur.fetchone() is None
        cur.execute("SELECT id, s FROM kinds WHERE id >= %(low)s ORDER BY id", {"low": 2})
        assert cur.rowcount == 5
        assert cur.fetchmany(2) == [(2, "row 2"), (3, "row 3")]
        assert list(cur) == [(4, "row 4"), (5, "row 5"), (6, "row 6")]
        cur.execute("UPDATE kinds SET s = 'x%%' WHERE id > %s", (4,))
        assert cur.rowcount == 2
        assert conn.execute("SELECT count(*) FROM kinds WHERE s = 'x%'").fetchall() == [(2,)]
        with pytest.raises(dsql_ray.ProgrammingError):
            cur.execute("SELECT %s, %s", (1,))           # two placeholders, one value
        with pytest.raises(dsql_ray.ProgrammingError):
            conn.execute("UPDATE kinds SET s = 'y'").fetchall()   # no result to fetch

    # transactions (autocommit off): commit keeps, rollback discards, `with` commits
    a = dsql_ray.connect(ray_driver)
    b = dsql_ray.connect(ray_driver, autocommit=True)
    a.execute("INSERT INTO kinds (id) VALUES (%s)", (10,))
    assert a.info.transaction_status == "T" and a.snapshot_ts is not None
    assert b.execute("SELECT count(*) FROM kinds WHERE id = 10").fetchone() == (0,)
    a.rollback()
    assert a.info.transaction_status == "I"
    a.execute("INSERT INTO kinds (id) VALUES (%s)", (11,))
    a.commit()
    with a:
        a.execute("INSERT INTO kinds (id) VALUES (12)")
    assert a.closed
    assert b.execute("SELECT id FROM kinds WHERE id >= 10 ORDER BY id").fetchall() == \
        [(11,), (12,)]
    b.close()
    with pytest.raises(dsql_ray.InterfaceError):
        b.cursor()


def test_typed_errors_leave_the_connection_usable(ray_driver):
    conn = dsql_ray.connect(ray_driver)
    conn.execute("CREATE TABLE acct (id int primary key, bal int)")
    conn.commit()
    conn.execute("INSERT INTO acct VALUES (1, 100), (2, 100)")
    conn.commit()

    with pytest.raises(dsql_ray.IntegrityError) as e:
        conn.execute("INSERT INTO acct VALUES (%s, %s)", (1, 5))
    assert e.value.sqlstate == "23505" and isinstance(e.value, dsql_ray.DatabaseError)
    assert conn.info.transaction_status == "E"
    with pytest.raises(dsql_ray.InternalError) as aborted:
        conn.execute("SELECT 1")
    assert aborted.value.sqlstate == "25P02"
    conn.rollback()
    assert conn.execute("SELECT bal FROM acct WHERE id = 1").fetchone() == (100,)
    conn.rollback()

    with pytest.raises(dsql_ray.ProgrammingError) as e:
        conn.execute("SELECT * FROM no_such_table")
    assert e.value.sqlstate == "42P01"
    conn.rollback()

    # first committer wins: the other gets 40001 (OC000) at COMMIT
    other = dsql_ray.connect(ray_driver)
    conn.execute("UPDATE acct SET bal = bal - 1 WHERE id = 2")
    other.execute("UPDATE acct SET bal = bal + 1 WHERE id = 2")
    other.commit()
    with pytest.raises(dsql_ray.TransactionRollbackError) as e:
        conn.commit()
    assert isinstance(e.value, dsql_ray.OperationalError)
    assert e.value.sqlstate == "40001" and "OC000" in str(e.value)
    assert conn.info.transaction_status == "I"
    assert conn.execute("SELECT bal FROM acct WHERE id = 2").fetchone() == (101,)
    conn.commit()

    # run_transaction retries the conflict and commits
    calls = []

    def withdraw(cur):
        cur.execute("SELECT bal FROM acct WHERE id = 1")
        (bal,) = cur.fetchone()
        if not calls:     # a concurrent writer commits in between, once
            other.execute("UPDATE acct SET bal = bal + 10 WHERE id = 1")
            other.commit()
        calls.append(bal)
        cur.execute("UPDATE acct SET bal = %s WHERE id = 1", (bal - 30,))
        return bal - 30
    assert dsql_ray.run_transaction(conn, withdraw) == 80
    assert calls == [100, 110]
    # and gives up with the last error when the retries run out
    with pytest.raises(dsql_ray.SerializationFailure):
        def always_conflicts(cur):
            cur.execute("UPDATE acct SET bal = bal + 1 WHERE id = 2")
            other.execute("UPDATE acct SET bal = bal + 1 WHERE id = 2")
            other.commit()
        dsql_ray.run_transaction(conn, always_conflicts, retries=2, base_delay_s=0.001)
    assert conn.execute("SELECT bal FROM acct ORDER BY id").fetchall() == [(80,), (104,)]
    conn.close()
    other.close()


def test_from_a_task_an_actor_and_asyncio(ray_driver):
    import ray

    @ray.remote(num_cpus=0)
    def in_task(cluster):
        with dsql_ray.connect(cluster) as conn:
            return conn.execute("SELECT count(*), sum(id) FROM items WHERE id < %s",
                                (10,)).fetchone()

    @ray.remote(num_cpus=0)
    class Worker:
        def __init__(self, cluster):
            self.conn = dsql_ray.connect(cluster, autocommit=True)

        def count(self, grp):
            return self.conn.execute("SELECT count(*) FROM items WHERE grp = %s",
                                     (grp,)).fetchone()[0]

    assert ray.get(in_task.remote(ray_driver), timeout=120) == (10, 45)
    worker = Worker.remote(ray_driver)
    assert ray.get(worker.count.remote(3), timeout=120) == \
        len([i for i in range(1000) if i % 7 == 3])
    ray.kill(worker)

    async def main():
        async with await dsql_ray.connect_async(ray_driver) as conn:
            cur = await conn.execute("SELECT label FROM items WHERE id = %s", (7,))
            assert await cur.fetchone() == ("item 7",)
            with pytest.raises(dsql_ray.IntegrityError):
                await conn.execute("INSERT INTO items (id) VALUES (7)")
            await conn.rollback()
            cur = conn.cursor()
            await cur.execute("SELECT id FROM items WHERE id < 3 ORDER BY id")
            return [r async for r in cur]
    assert asyncio.run(main()) == [(0,), (1,), (2,)]


def test_from_a_separate_process_joining_ray_by_address(client_cluster):
    """A plain Python process, not in Ray yet: connect(address=…) joins, then queries."""
    import subprocess
    import sys
    code = ("import sys, dsql_ray; c = dsql_ray.connect(sys.argv[1], address=sys.argv[2]); "
            "print(c.execute('SELECT label FROM items WHERE id = %s', (3,)).fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", code, client_cluster.name,
                          client_cluster.state["ray_address"]],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "item 3"
