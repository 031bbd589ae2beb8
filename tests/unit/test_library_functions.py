"""The function library's edges that a differential run does not reach: bounds, errors
and their SQLSTATEs, interval values stored before months existed (no PostgreSQL needed;
tests/differential/test_library_vs_postgres.py compares everything else with one)."""
from __future__ import annotations

import asyncio
import datetime as dt
import pickle

import pytest

from dsql_ray.compute import types as T
from dsql_ray.compute.query import EngineConfig
from dsql_ray.errors import DsqlError
from dsql_ray.interval import Interval
from dsql_ray.testing.memory import MemorySource


@pytest.fixture
def db() -> MemorySource:
    src = MemorySource()
    # rows written before intervals had months hold timedelta values
    src.add_table("old", [("id", T.INT4), ("iv", T.INTERVAL)],
                  [(1, dt.timedelta(days=30)), (2, Interval(1, 0, 0)),
                   (3, dt.timedelta(hours=-1)), (4, None)], pk=["id"])
    return src


def rows(db, sql, **config):
    return asyncio.run(db.query(sql, None, EngineConfig(**config) if config else None)).rows


def sqlstate(db, sql, **config) -> str:
    with pytest.raises(DsqlError) as info:
        rows(db, sql, **config)
    return info.value.sqlstate


def test_series_are_bounded_by_the_row_limit(db):
    assert sqlstate(db, "select count(*) from generate_series(1, 1000000000)",
                    max_rows=50_000) == "54000"
    assert sqlstate(db, "select generate_series(1, 1000000000)", max_rows=50_000) == "54000"
    assert sqlstate(db, "select * from generate_series(timestamp '2000-01-01', "
                        "timestamp '3000-01-01', interval '1 minute')", max_rows=50_000) \
        == "54000"
    assert rows(db, "select count(*) from generate_series(1, 49000)",
                max_rows=50_000) == [(49000,)]


@pytest.mark.parametrize("sql, state", [
    ("select * from generate_series(1, 3, 0)", "22023"),
    ("select * from generate_series(now(), now(), interval '0 days')", "22023"),
    ("select 1 where generate_series(1, 2) > 1", "0A000"),
    ("select count(generate_series(1, 2))", "0A000"),
    ("select decode('zz', 'hex')", "22023"),
    ("select decode('abc', 'base32')", "22023"),
    ("select get_byte('\\x01'::bytea, 5)", "2202E"),
    ("select make_date(2023, 2, 29)", "22008"),
    ("select make_time(25, 0, 0)", "22008"),
    ("select interval 'three days'", "22007"),
    ("select interval '1 day' / 0", "22012"),
    ("select interval '2147483647 months' + interval '1 month'", "22008"),
    ("select interval '3000000000 days'", "22015"),
    ("select date_trunc('week', interval '1 day')", "0A000"),
    ("select extract(hour from date '2024-01-01')", "0A000"),
    ("select sha256('abc'::text)", "42883"),
    ("select 1.5 << 2", "42883"),
    ("select format('%s %s', 'a')", "22023"),
    ("select regexp_match('a', 'a', 'g')", "22023"),
    ("select timetz '10:00+99'", "22009"),
    ("select repeat('ab', 1000000000)", "54000"),
    ("select lpad('x', 2000000000)", "54000"),
    ("select format('%2000000000s', 'x')", "54000"),
])
def test_errors_carry_postgresql_sqlstates(db, sql, state):
    assert sqlstate(db, sql) == state
    assert rows(db, "select 1") == [(1,)]          # the engine stays usable


def test_intervals_stored_as_timedelta_still_read_compare_and_group(db):
    assert rows(db, "select id, iv + interval '1 mon' from old order by id") == [
        (1, Interval(1, 30, 0)), (2, Interval(2, 0, 0)), (3, Interval(1, 0, -3_600_000_000)),
        (4, None)]
    # 30 days and 1 mon are equal intervals, as PostgreSQL compares them
    assert rows(db, "select count(distinct iv) from old") == [(2,)]
    assert rows(db, "select id from old where iv = interval '1 mon' order by id") == \
        [(1,), (2,)]
    assert rows(db, "select max(iv), min(iv) from old") == \
        [(dt.timedelta(days=30), dt.timedelta(hours=-1))]


def test_interval_values_keep_months_days_and_microseconds():
    v = Interval(14, -3, 5)
    assert pickle.loads(pickle.dumps(v)) == v and str(v) == "1 year 2 mons -3 days +00:00:00.000005"
    assert hash(Interval(1, 0, 0)) == hash(Interval(0, 30, 0)) == hash(dt.timedelta(days=30))
    with pytest.raises(OverflowError):
        Interval(2**31, 0, 0)


def test_select_list_set_returning_functions_run_in_lockstep(db):
    assert rows(db, "select id, generate_series(1, id), unnest(array['a', 'b']) from old "
                    "where id <= 3 order by 1, 2") == [
        (1, 1, "a"), (1, None, "b"), (2, 1, "a"), (2, 2, "b"), (3, 1, "a"), (3, 2, "b"),
        (3, 3, None)]
    assert rows(db, "select id, generate_series(1, 0) from old") == []

