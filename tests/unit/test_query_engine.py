"""Focused tests of the SELECT engine's trickiest semantics (no PostgreSQL needed)."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from dsql_ray.compute import types as T
from dsql_ray.compute.query import EngineConfig
from dsql_ray.errors import DsqlError
from dsql_ray.testing.memory import MemorySource


@pytest.fixture
def db() -> MemorySource:
    src = MemorySource()
    src.add_table("t", [("id", T.INT4), ("g", T.TEXT), ("v", T.NUMERIC), ("f", T.FLOAT8)],
                  [(1, "a", Decimal("1.5"), 1.0), (2, "a", None, 2.0),
                   (3, "b", Decimal("3"), None), (4, None, Decimal("-2"), 4.0)], pk=["id"])
    src.add_table("u", [("id", T.INT4), ("x", T.INT8)], [(1, 10), (3, 30), (5, 50), (None, 0)])
    src.add_table("empty", [("id", T.INT4)], [])
    return src


def q(db, sql, params=None, **config):
    return asyncio.run(db.query(sql, params, EngineConfig(**config) if config else None))


def rows(db, sql, params=None, **config):
    return q(db, sql, params, **config).rows


def err(db, sql, params=None, **config) -> str:
    with pytest.raises(DsqlError) as info:
        q(db, sql, params, **config)
    return info.value.sqlstate


def test_not_in_with_null_is_unknown(db):
    assert rows(db, "select id from t where id not in (select id from u)") == []
    assert rows(db, "select id from t where id not in (select id from u where id is not null) "
                    "order by id") == [(2,), (4,)]
    assert rows(db, "select null::int in (select id from empty)") == [(False,)]
    assert rows(db, "select 1 in (2, null), 1 in (1, null), null::int in (1)") == \
        [(None, True, None)]


def test_aggregates_over_empty_input(db):
    assert rows(db, "select count(*), sum(id), max(id) from empty") == [(0, None, None)]
    assert rows(db, "select id, count(*) from empty group by id") == []
    assert rows(db, "select count(*) from t having count(*) > 10") == []


def test_aggregate_types_and_numeric_scale(db):
    r = q(db, "select sum(id), avg(id), sum(x), avg(v), count(*) from t, "
              "(select 1::bigint as x) s")
    assert [c.type_oid for c in r.columns] == [T.INT8, T.NUMERIC, T.NUMERIC, T.NUMERIC, T.INT8]
    assert r.rows == [(10, Decimal("2.5000000000000000"), Decimal(4),
                       Decimal("0.83333333333333333333"), 4)]
    assert str(rows(db, "select 1 / 3.0")[0][0]) == "0.33333333333333333333"
    assert rows(db, "select 7 / 2, -7 / 2, -7 % 3") == [(3, -3, -1)]


def test_grouping_errors(db):
    assert err(db, "select g, id from t group by g") == "42803"
    assert err(db, "select id from t where count(*) > 1") == "42803"
    assert err(db, "select sum(count(*)) from t") == "42803"
    # grouping by the primary key makes the other columns functionally dependent
    assert rows(db, "select id, g from t group by id order by id")[0] == (1, "a")


def test_name_resolution_errors(db):
    assert err(db, "select id from t, u") == "42702"
    assert err(db, "select nope from t") == "42703"
    assert err(db, "select z.id from t") == "42P01"
    assert err(db, "select * from nope") == "42P01"
    assert err(db, "select nope(1)") == "42883"
    assert err(db, "select g + 1 from t") == "42883"


def test_scalar_subquery_cardinality_and_correlation(db):
    assert err(db, "select (select id from t)") == "21000"
    assert rows(db, "select id, (select x from u where u.id = t.id) from t order by id") == \
        [(1, 10), (2, None), (3, 30), (4, None)]
    assert rows(db, "select id from t where exists (select 1 from u where u.x > t.id * 20) "
                    "order by id") == [(1,), (2,)]


def test_order_by_output_name_wins_over_input_column(db):
    # ORDER BY id sorts by the output column named id (which is -t.id), as in PostgreSQL
    assert rows(db, "select -id as id from t order by id") == [(-4,), (-3,), (-2,), (-1,)]
    assert rows(db, "select id from t order by v nulls first, id") == [(2,), (4,), (1,), (3,)]
    assert rows(db, "select id, f from t order by f desc, id") == \
        [(3, None), (4, 4.0), (2, 2.0), (1, 1.0)]


def test_distinct_and_distinct_on(db):
    assert rows(db, "select distinct g from t order by g") == [("a",), ("b",), (None,)]
    assert rows(db, "select distinct on (g) g, id from t order by g, id desc") == \
        [("a", 2), ("b", 3), (None, 4)]
    assert err(db, "select distinct g from t order by id") == "42P10"


def test_set_operation_types(db):
    r = q(db, "select 1 union select 2.5 order by 1")
    assert r.columns[0].type_oid == T.NUMERIC and r.rows == [(1,), (Decimal("2.5"),)]
    r = q(db, "select id from t union select null order by 1")
    assert r.columns[0].type_oid == T.INT4 and r.rows[-1] == (None,)
    assert err(db, "select 1 union select 'a'") == "22P02"
    assert err(db, "select 1 union select 1, 2") == "42601"
    assert rows(db, "select id from t intersect all select id from u order by 1") == [(1,), (3,)]
    assert rows(db, "select id from u except select id from t order by 1") == [(5,), (None,)]


def test_window_default_frame_includes_peers(db):
    got = rows(db, "select id, sum(id) over (order by g), rank() over (order by g), "
                   "row_number() over (order by id desc) from t order by id")
    assert got == [(1, 3, 1, 4), (2, 3, 1, 3), (3, 6, 3, 2), (4, 10, 4, 1)]
    assert rows(db, "select id, lag(id, 1, 0) over (order by id), lead(id) over (order by id) "
                    "from t order by id")[0] == (1, 0, 2)


def test_joins_using_natural_and_lateral(db):
    assert rows(db, "select id, x from t full join u using (id) order by id") == \
        [(1, 10), (2, None), (3, 30), (4, None), (5, 50), (None, 0)]
    assert rows(db, "select id, g, x from t natural join u order by id") == \
        [(1, "a", 10), (3, "b", 30)]
    assert rows(db, "select t.id, s.c from t left join lateral (select count(*) as c from u "
                    "where u.id <= t.id) s on true order by 1") == \
        [(1, 1), (2, 1), (3, 2), (4, 2)]


def test_recursive_cte_and_its_bound(db):
    assert rows(db, "with recursive r(n) as (select 1 union all select n + 1 from r "
                    "where n < 100) select count(*), sum(n) from r") == [(100, 5050)]
    assert err(db, "with recursive r(n) as (select 1 union all select n + 1 from r) "
                   "select count(*) from r", max_recursion=50) == "54001"


def test_row_budget(db):
    assert err(db, "select * from t a, t b, t c", max_rows=20) == "54000"
    assert len(rows(db, "select * from t a, t b", max_rows=20)) == 16


def test_parameters_and_describe(db):
    assert rows(db, "select id from t where id > $1 order by id limit $2", [2, 1]) == [(3,)]
    cols = db.describe("select id, g as name, count(*) over (), 'x', 1.5 from t")
    assert [(c.name, c.type_oid) for c in cols] == [
        ("id", T.INT4), ("name", T.TEXT), ("count", T.INT8), ("?column?", T.TEXT),
        ("?column?", T.NUMERIC)]
    assert err(db, "select $1::int") == "42P02"


def test_expressions(db):
    assert rows(db, "select coalesce(null, 2), nullif(1, 1), greatest(1, null, 3), "
                    "least('b', 'a'), 'a' || null, concat('a', null, true)") == \
        [(2, None, 3, "a", None, "at")]
    assert rows(db, "select case when false then 1 else 2.5 end, 3 between 1 and 5, "
                    "null is distinct from 1, 'abc' like 'a_c', 'ABC' ilike 'a%'") == \
        [(Decimal("2.5"), True, True, True, True)]
    assert rows(db, "select substring('hello' from 2 for 3), position('l' in 'hello'), "
                    "trim(both 'x' from 'xxhixx'), lpad('7', 3, '0'), round(2.5), "
                    "round(2.5::float8)") == [("ell", 3, "hi", "007", Decimal(3), 2.0)]
    assert err(db, "select 2147483647 + 1") == "22003"
    assert err(db, "select 1 / 0") == "22012"


def test_comma_joins_use_where_equalities_and_filters_early(run):
    """FROM a, b, c WHERE a.id = b.id AND ... is planned as hash joins with each item
    filtered first: 300³ = 27 M combinations would exceed the engine's 1 M row bound."""
    from .conftest import sql

    async def scenario(c):
        s = c.session()
        for t in ("ja", "jb", "jc"):
            await sql(s, f"CREATE TABLE {t} (id int PRIMARY KEY, v int)")
            await sql(s, f"INSERT INTO {t} SELECT g, g % 7 FROM generate_series(1, 300) g")
        res = await sql(s, "SELECT count(*), sum(ja.v + jb.v + jc.v) FROM ja, jb, jc "
                           "WHERE ja.id = jb.id AND jc.id = jb.id AND ja.v = 3")
        assert res[-1].rows == [(43, 43 * 9)]
        # a column of one item compared with another item's column of a different name
        res = await sql(s, "SELECT x.id, y.id FROM ja x, jb y WHERE x.id = y.v + 290 "
                           "AND y.id < 10 ORDER BY 1, 2")
        assert res[-1].rows == [(290 + i % 7, i) for i in sorted(range(1, 10),
                                                                  key=lambda i: (i % 7, i))]
    run(scenario)


def test_array_subscripts_are_one_based_and_null_out_of_range(db):
    assert rows(db, "SELECT (ARRAY[10, 20, 30])[1], (ARRAY[10, 20, 30])[3], "
                    "(ARRAY[10, 20, 30])[0], (ARRAY[10, 20, 30])[4], "
                    "(ARRAY[10, 20, 30])[NULL::int]") == [(10, 30, None, None, None)]
    assert rows(db, "SELECT id FROM t WHERE (ARRAY['x', g])[2] = 'b'") == [(3,)]
    assert rows(db, "SELECT (ARRAY[1.5, 2.5])[id] FROM t ORDER BY id") == \
        [(Decimal("1.5"),), (Decimal("2.5"),), (None,), (None,)]
    assert err(db, "SELECT id[1] FROM t") == "42804"          # not an array
    assert rows(db, "SELECT (ARRAY[1, 2, 3])[2:3], (ARRAY[1, 2])[:1], (ARRAY[1])[3:]") == \
        [([2, 3], [1], [])]
    assert err(db, "SELECT (ARRAY[1, 2])['a']") == "22P02"


def test_field_selection_needs_a_composite(db):
    assert err(db, "SELECT (id).x FROM t") == "42809"


def test_integer_bitwise_operators(db):
    assert rows(db, "SELECT 6 & 3, 6 | 3, 6 # 3, 5::smallint & 1::smallint, "
                    "NULL::int & 1") == [(2, 7, 5, 1, None)]
    assert err(db, "SELECT 1.5 & 1") == "42883"
