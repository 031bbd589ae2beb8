"""Ray Data over the cluster: read_table is one consistent snapshot (equal, as a
multiset, to SELECT * at the same τ while writers update), one read task per key range;
write_table lands exactly its rows and names the batch a duplicate key failed."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

import dsql_ray
from dsql_ray.client.data import TableDatasource

from . import bank_tasks
from .conftest import ITEMS, SPLIT_IDS

pytestmark = pytest.mark.timeout(400)


def _rows(ds, columns):
    return Counter(tuple(r[c] for c in columns) for r in ds.iter_rows())


def test_read_table_is_one_snapshot_while_writers_update(ray_driver):
    stop = threading.Event()
    writes = []

    def writer(seed):
        conn = dsql_ray.connect(ray_driver, autocommit=True)
        i = seed
        while not stop.is_set():
            conn.execute("UPDATE items SET qty = qty + 1, label = %s WHERE id = %s",
                         (f"w{seed}-{i}", (i * 37) % ITEMS))
            writes.append(1)
            i += 4
        conn.close()

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        reader = dsql_ray.connect(ray_driver)      # a transaction: SELECT * at its τ
        expected = Counter(reader.execute("SELECT * FROM items").fetchall())
        tau = reader.snapshot_ts
        source = TableDatasource("items", cluster=ray_driver, as_of=tau)
        assert len(source.ranges) == len(SPLIT_IDS) + 1        # one task per key range
        assert len(source.get_read_tasks(1)) == len(SPLIT_IDS) + 1
        ds = dsql_ray.read_table("items", cluster=ray_driver, as_of=tau)
        got = _rows(ds, ["id", "grp", "qty", "price", "label"])
        time.sleep(0.5)
        after = Counter(reader.execute("SELECT * FROM items").fetchall())
        reader.rollback()
        reader.close()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert len(writes) > 10, "the writers did not run"
    assert after == expected                        # SELECT * again in the same snapshot
    assert sum(got.values()) == ITEMS
    assert got == expected

    # columns and a simple filter pushed down: equal to the same SQL
    ds = dsql_ray.read_table("items", columns=["id", "price"],
                             where="grp = 3 AND id >= 100 AND price < 900.5",
                             cluster=ray_driver)
    assert ds.schema().names == ["id", "price"]
    with dsql_ray.connect(ray_driver, autocommit=True) as conn:
        sql = Counter(conn.execute("SELECT id, price FROM items WHERE grp = 3 AND id >= 100 "
                                   "AND price < 900.5").fetchall())
    assert _rows(ds, ["id", "price"]) == sql and len(sql) > 10

    # errors: unknown table/column as in SQL; a snapshot older than 300 s is refused
    with pytest.raises(dsql_ray.ProgrammingError) as e:
        dsql_ray.read_table("no_such_table", cluster=ray_driver)
    assert e.value.sqlstate == "42P01"
    with pytest.raises(dsql_ray.ProgrammingError) as e:
        dsql_ray.read_table("items", columns=["nope"], cluster=ray_driver)
    assert e.value.sqlstate == "42703"
    with pytest.raises(dsql_ray.NotSupportedError):
        dsql_ray.read_table("items", where="grp = 3 OR id = 4", cluster=ray_driver)
    with pytest.raises(dsql_ray.OperationalError) as e:
        dsql_ray.read_table("items", cluster=ray_driver, as_of=tau - 301_000_000)
    assert e.value.sqlstate == "54000" and "300s" in str(e.value)


def test_write_table_lands_exactly_its_rows_and_names_a_failed_batch(ray_driver):
    import ray
    with dsql_ray.connect(ray_driver, autocommit=True) as conn:
        conn.execute("CREATE TABLE landed (id bigint primary key, name text, v float8)")
    n = 7_500                                       # three batches of ≤ 3,000 per block
    ds = ray.data.range(n, override_num_blocks=2).map(
        lambda r: {"id": r["id"], "name": f"n{r['id']}", "v": r["id"] / 2})
    report = dsql_ray.write_table(ds, "landed", cluster=ray_driver)
    assert report.rows_written == n and report.batches >= 3
    with dsql_ray.connect(ray_driver, autocommit=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id), sum(v) FROM landed"
                            ).fetchone() == (n, n, sum(i / 2 for i in range(n)))

    # a duplicate key in one block: 23505, the batch named, earlier batches stay
    dup = ray.data.from_items([{"id": 100_000 + i, "name": "new", "v": 0.0}
                               for i in range(3_500)] +
                              [{"id": 5, "name": "dup", "v": 0.0}], override_num_blocks=1)
    with pytest.raises(dsql_ray.IntegrityError) as e:
        dsql_ray.write_table(dup, "landed", cluster=ray_driver)
    err = e.value
    assert err.sqlstate == "23505"
    assert "batch of rows 3000..3500" in str(err) and "committed 3000 rows" in str(err)
    with dsql_ray.connect(ray_driver, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM landed WHERE name = 'new'").fetchone() \
            == (3000,)
        assert conn.execute("SELECT name FROM landed WHERE id = 5").fetchone() == ("n5",)


def test_bank_through_ray_tasks(ray_driver):
    """16 Ray tasks transfer with run_transaction while an auditor task sums balances
    (8 s here; loadtests/bench_client.py runs it for 30 s)."""
    bank_tasks.setup(ray_driver)
    out = bank_tasks.run(ray_driver, tasks=16, seconds=8)
    assert out["acked"] > 16, out
    assert out["lost"] == 0 and out["total"] == bank_tasks.ACCOUNTS * bank_tasks.OPENING
    assert out["balances_match"], out
    assert out["audits"] > 5 and out["bad_audits"] == [], out
