"""DML through the engine, filters and projections pushed to storage, the statement memory
bound — on the in-process cluster (every role, no Ray)."""
import pytest
from pglast import parse_sql

from dsql_ray import limits
from dsql_ray.errors import DsqlError
from dsql_ray.storage.mvcc import MvccStore, row_filter, row_projection

from .conftest import sql


async def _setup(s):
    await sql(s, "CREATE TABLE t (id int primary key, x int, s text)")
    await sql(s, "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c'), "
                 "(4, 40, NULL), (5, 50, 'e')")
    await sql(s, "CREATE TABLE u (id int primary key, t_id int, y int)")
    await sql(s, "INSERT INTO u VALUES (1, 1, 100), (2, 1, 200), (3, 2, 300), (4, 9, 900)")


async def _rows(s, text):
    return (await sql(s, text))[-1].rows


# -- DML ---------------------------------------------------------------------------------
def test_insert_select_update_from_delete_using(run):
    async def scenario(c):
        s = c.session()
        await _setup(s)
        r = (await sql(s, "INSERT INTO t (id, x) SELECT id + 10, y FROM u WHERE y > 150 "
                          "RETURNING id, x"))[-1]
        assert r.tag == "INSERT 0 3" and sorted(r.rows) == [(12, 200), (13, 300), (14, 900)]
        # a target row joined twice is updated once
        r = (await sql(s, "UPDATE t SET x = u.y FROM u WHERE u.t_id = t.id "
                          "RETURNING t.id, u.id AS uid"))[-1]
        assert r.tag == "UPDATE 2" and sorted(i for i, _ in r.rows) == [1, 2]
        assert await _rows(s, "SELECT x FROM t WHERE id = 2") == [(300,)]
        r = (await sql(s, "DELETE FROM t USING u WHERE u.t_id = t.id AND u.y = 300 "
                          "RETURNING t.*, u.y"))[-1]
        assert r.rows == [(2, 300, "b", 300)]
        r = (await sql(s, "UPDATE t SET x = (SELECT max(y) FROM u) WHERE id IN "
                          "(SELECT t_id FROM u) RETURNING id, x"))[-1]
        assert r.rows == [(1, 900)]
    run(scenario)


def test_on_conflict(run):
    async def scenario(c):
        s = c.session()
        await _setup(s)
        r = (await sql(s, "INSERT INTO t VALUES (1, 0, 'z'), (6, 60, 'f') "
                          "ON CONFLICT DO NOTHING RETURNING id"))[-1]
        assert r.tag == "INSERT 0 1" and r.rows == [(6,)]
        r = (await sql(s, "INSERT INTO t AS o VALUES (1, 5, 'z'), (7, 70, 'g') ON CONFLICT "
                          "(id) DO UPDATE SET x = o.x + excluded.x, s = excluded.s "
                          "RETURNING *"))[-1]
        assert sorted(r.rows) == [(1, 15, "z"), (7, 70, "g")]
        r = (await sql(s, "INSERT INTO t VALUES (2, 1, 'q') ON CONFLICT (id) DO UPDATE "
                          "SET x = excluded.x WHERE t.x > 100"))[-1]
        assert r.tag == "INSERT 0 0"
        with pytest.raises(DsqlError) as e:
            await sql(s, "INSERT INTO t VALUES (1, 1, 'a'), (1, 2, 'b') "
                         "ON CONFLICT (id) DO UPDATE SET x = excluded.x")
        assert e.value.sqlstate == "21000"
        with pytest.raises(DsqlError) as e:
            await sql(s, "INSERT INTO t VALUES (1, 1, 'a') ON CONFLICT (x) DO NOTHING")
        assert e.value.sqlstate == "42P10"
        assert await _rows(s, "SELECT x, s FROM t WHERE id = 1") == [(15, "z")]
    run(scenario)


# -- pushdown ----------------------------------------------------------------------------
def test_storage_filter_has_sql_null_semantics():
    row = (1, None, "b")
    assert row_filter([(">", 1, 5)])(row) is False          # NULL > 5 is not true
    assert row_filter([("<>", 1, 5)])(row) is False
    assert row_filter([("isnull", 1, None)])(row) is True
    assert row_filter([("notnull", 2, None), ("=", 2, "b")])(row) is True
    assert row_filter([(">", 0, None)])((1, 2, 3)) is False  # x > NULL: no row
    assert row_projection((0, 2))((1, 2, 3)) == (1, None, 3)
    store = MvccStore()
    store.apply(1, [(bytes([i]), (i, i * 10 if i % 3 else None)) for i in range(30)])
    got = store.scan_where(b"", None, 5, [(">=", 1, 100)], (0,))
    assert got == [(bytes([i]), (i, None)) for i in range(10, 30) if i % 3]


def test_pushed_filter_reaches_storage_and_results_stay_exact(run):
    async def scenario(c):
        s = c.session()
        await _setup(s)
        shipped = []
        for route in s.node.shards:        # count the rows storage sends back
            for replica in route.replicas:
                orig = replica.call

                async def call(method, *args, _orig=orig, **kw):
                    out = await _orig(method, *args, **kw)
                    if method == "scan" and len(args) > 3:
                        shipped.append((args[4], args[5], len(out), out))
                    return out
                replica.call = call
        assert await _rows(s, "SELECT id FROM t WHERE x > 15 AND s IS NOT NULL "
                              "ORDER BY id") == [(2,), (5,)]
        pred, cols, n, out = shipped[-1]
        assert pred == ((">", 1, 15), ("notnull", 2, None)) and cols is None and n == 2
        shipped.clear()
        assert await _rows(s, "SELECT id FROM t WHERE x >= 20") == [(2,), (4,), (5,)]
        _, cols, n, out = shipped[-1]
        assert cols == (0, 1) and n == 3 and all(r[2] is None for _, r in out)
        # NULLs: no comparison with NULL is true
        assert await _rows(s, "SELECT id FROM t WHERE x <> 10 ORDER BY id") == \
            [(2,), (4,), (5,)]
        assert await _rows(s, "SELECT id FROM t WHERE x > NULL") == []
        assert await _rows(s, "SELECT id FROM t WHERE x IS NULL") == [(3,)]
        # the transaction's own writes are filtered alike
        await sql(s, "BEGIN")
        await sql(s, "UPDATE t SET x = 1 WHERE id = 2")
        await sql(s, "INSERT INTO t VALUES (9, 99, 'n')")
        assert await _rows(s, "SELECT id, s FROM t WHERE x >= 20 ORDER BY id") == \
            [(4, None), (5, "e"), (9, "n")]
        await sql(s, "ROLLBACK")
        # parameters are pushed too
        r = await s.execute_prepared("SELECT id FROM t WHERE x < $1 AND s = $2", [], [30, "b"])
        assert r.rows == [(2,)]
    run(scenario)


def test_explain_lines_show_pushdown(run):
    async def scenario(c):
        s = c.session()
        await _setup(s)
        text = "SELECT id FROM t WHERE x > 10 AND 'a' < s AND x + 1 > 2"
        plan = await s._plan(parse_sql(text)[0].stmt, text, ())
        lines = plan.access.describe().split("\n")
        assert "Filter pushed to storage: (x > 10 AND 'a' < s)" in lines
        assert "Columns: id, x, s" not in lines         # every column: no projection
        text = "SELECT id FROM t WHERE x > 10 AND x + 1 > 2"
        plan = await s._plan(parse_sql(text)[0].stmt, text, ())
        lines = plan.access.describe().split("\n")
        assert "Filter pushed to storage: (x > 10)" in lines
        assert "Columns: id, x" in lines
        assert plan.access.residual is not None          # x + 1 > 2 stays in compute
    run(scenario)


# -- statement memory bound ------------------------------------------------------------------
def test_statement_memory_bound_fails_with_54000(run, monkeypatch):
    small = limits.Limit("statement_memory_max", 200_000, "bytes", "54000",
                         "statement memory limit exceeded")

    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE m (id int primary key, v text)")
        await sql(s, "INSERT INTO m SELECT g, repeat('x', 20) FROM generate_series(1, 300) g")
        await sql(s, "CREATE TABLE big (id int primary key, v text)")
        await sql(s, "INSERT INTO big SELECT g, repeat('y', 5000) FROM generate_series(1, 100) g")
        monkeypatch.setattr(limits, "statement_memory_max", small)
        with pytest.raises(DsqlError) as e:      # the engine: 90,000 joined rows
            await sql(s, "SELECT a.id, b.id FROM m a, m b WHERE a.v = b.v")
        assert e.value.sqlstate == "54000" and "memory" in e.value.message
        with pytest.raises(DsqlError) as e:      # the engine: 500 kB scanned
            await sql(s, "SELECT count(*) FROM big")
        assert e.value.sqlstate == "54000" and "memory" in e.value.message
        with pytest.raises(DsqlError) as e:      # the key-aware path
            await sql(s, "SELECT * FROM big")
        assert e.value.sqlstate == "54000" and "memory" in e.value.message
        # the session stays usable; pushdown keeps a selective read under the bound
        assert await _rows(s, "SELECT id FROM big WHERE id <= 3") == [(1,), (2,), (3,)]
        assert await _rows(s, "SELECT count(*) FROM m") == [(300,)]
    run(scenario)
