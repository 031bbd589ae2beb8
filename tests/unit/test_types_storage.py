"""Every supported column type through table storage, in one process.

For each type: a table keyed by it and holding it, rows inserted from SQL literals and
from Bind parameters (text and binary), read back by primary key and by a full scan,
updated, compared in WHERE, encoded in PostgreSQL's text and binary formats, and bad
input refused with PostgreSQL's SQLSTATE while the session stays usable.
"""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from dsql_ray.compute import types as T
from dsql_ray.errors import DsqlError
from dsql_ray.frontend.pgwire import (BINARY_FORMAT, TEXT_FORMAT, decode_value,
                                   encode_value)

from .conftest import sql

UTC = dt.timezone.utc

# type, OID, (literal, value, PostgreSQL's text output) for a smaller and a larger value,
# then bad input and its SQLSTATE
CASES = [
    ("smallint", T.INT2, ("-7", -7, "-7"), ("32767", 32767, "32767"), "40000", "22003"),
    ("int", T.INT4, ("-2147483648", -2**31, "-2147483648"), ("12", 12, "12"),
     "'twelve'", "22P02"),
    ("bigint", T.INT8, ("-5", -5, "-5"), ("9223372036854775807", 2**63 - 1,
                                          "9223372036854775807"),
     "9223372036854775808", "22003"),
    ("numeric(10,2)", T.NUMERIC, ("-1.5", decimal.Decimal("-1.50"), "-1.50"),
     ("12345678.1", decimal.Decimal("12345678.10"), "12345678.10"),
     "123456789", "22003"),
    ("numeric", T.NUMERIC, ("0.000001", decimal.Decimal("0.000001"), "0.000001"),
     ("123456789012345678901234567890", decimal.Decimal("123456789012345678901234567890"),
      "123456789012345678901234567890"), "'1.2.3'", "22P02"),
    ("real", T.FLOAT4, ("-0.5", -0.5, "-0.5"), ("1.25", 1.25, "1.25"), "'x1'", "22P02"),
    ("double precision", T.FLOAT8, ("0.1", 0.1, "0.1"), ("1e300", 1e300, "1e+300"),
     "'abc'", "22P02"),
    ("boolean", T.BOOL, ("false", False, "f"), ("'yes'", True, "t"), "'maybe'", "22P02"),
    ("text", T.TEXT, ("'abc'", "abc", "abc"), ("'zé ✓'", "zé ✓", "zé ✓"), None, None),
    ("varchar(5)", T.VARCHAR, ("'ab'", "ab", "ab"), ("'hello'", "hello", "hello"),
     "'toolong'", "22001"),
    ("char(3)", T.BPCHAR, ("'a'", "a", "a"), ("'xyz'", "xyz", "xyz"), "'abcd'", "22001"),
    ("bytea", T.BYTEA, ("'\\x00ff'", b"\x00\xff", "\\x00ff"), ("'\\x61'", b"a", "\\x61"),
     "'\\xzz'", "22P02"),
    ("date", T.DATE, ("'1999-12-31'", dt.date(1999, 12, 31), "1999-12-31"),
     ("'2024-02-29'", dt.date(2024, 2, 29), "2024-02-29"), "'2023-02-29'", "22008"),
    ("time", T.TIME, ("'00:00:01'", dt.time(0, 0, 1), "00:00:01"),
     ("'23:59:59.5'", dt.time(23, 59, 59, 500000), "23:59:59.5"), "'noon-ish'", "22007"),
    ("timestamp", T.TIMESTAMP,
     ("'2020-01-01 00:00:00'", dt.datetime(2020, 1, 1), "2020-01-01 00:00:00"),
     ("'2024-06-30T12:30:45.123456'", dt.datetime(2024, 6, 30, 12, 30, 45, 123456),
      "2024-06-30 12:30:45.123456"), "'yesterday-ish'", "22007"),
    ("timestamptz", T.TIMESTAMPTZ,
     ("'2020-01-01 02:00:00+02'", dt.datetime(2020, 1, 1, tzinfo=UTC),
      "2020-01-01 00:00:00+00"),
     ("'2024-06-30 12:30:45.5Z'", dt.datetime(2024, 6, 30, 12, 30, 45, 500000, tzinfo=UTC),
      "2024-06-30 12:30:45.5+00"), "'2024-01-01 25:00:00'", "22008"),
    ("interval", T.INTERVAL, ("'-1 hour'", dt.timedelta(hours=-1), "-01:00:00"),
     ("'1 day 02:03:04'", dt.timedelta(days=1, seconds=7384), "1 day 02:03:04"),
     "'3 parsecs'", "22007"),
    ("uuid", T.UUID,
     ("'00000000-0000-0000-0000-000000000001'", uuid.UUID(int=1),
      "00000000-0000-0000-0000-000000000001"),
     ("'{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}'",
      uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "'not-a-uuid'", "22P02"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_type_through_storage(run, case):
    type_sql, oid, (lit1, v1, text1), (lit2, v2, text2), bad, bad_state = case

    async def scenario(c):
        s = c.session()
        await sql(s, f"CREATE TABLE tv (k {type_sql} PRIMARY KEY, v {type_sql}, n int)")
        await sql(s, f"INSERT INTO tv VALUES ({lit1}, {lit1}, 1), ({lit2}, {lit2}, 2)")
        # by primary key, and in a full scan ordered by the key
        r = (await sql(s, f"SELECT v, n FROM tv WHERE k = {lit1}"))[0]
        assert r.rows == [(v1, 1)] and r.columns[0].type_oid == oid
        r = (await sql(s, "SELECT k, v, n FROM tv ORDER BY k"))[0]
        assert r.rows == [(v1, v1, 1), (v2, v2, 2)]
        assert (await sql(s, f"SELECT n FROM tv WHERE v > {lit1}"))[0].rows == [(2,)]
        assert (await sql(s, f"SELECT n FROM tv WHERE v <> {lit2}"))[0].rows == [(1,)]
        # update the value, then find both rows by it
        await sql(s, f"UPDATE tv SET v = {lit2} WHERE k = {lit1}")
        r = (await sql(s, f"SELECT n FROM tv WHERE v = {lit2} ORDER BY n"))[0]
        assert r.rows == [(1,), (2,)]
        # PostgreSQL's text output, and the binary format round trip
        for value, text in ((v1, text1), (v2, text2)):
            assert encode_value(value, oid, TEXT_FORMAT).decode() == text
            assert decode_value(encode_value(value, oid, BINARY_FORMAT), oid,
                                BINARY_FORMAT) == value
            assert decode_value(text.encode(), oid, TEXT_FORMAT) == value
        # parameters as a driver binds them: text and binary, and NULL
        await sql(s, "DELETE FROM tv")
        insert = "INSERT INTO tv VALUES ($1, $2, $3)"
        await s.execute_prepared(insert, (oid, oid, T.INT4),
                                 [decode_value(text1.encode(), oid, TEXT_FORMAT), None, 1])
        raw = encode_value(v2, oid, BINARY_FORMAT)
        await s.execute_prepared(insert, (oid, oid, T.INT4),
                                 [decode_value(raw, oid, BINARY_FORMAT), v2, 2])
        r = await s.execute_prepared("SELECT n, v FROM tv WHERE k = $1", (oid,), [v2])
        assert r.rows == [(2, v2)]
        r = await s.execute_prepared("SELECT n FROM tv WHERE v IS NULL", (), [])
        assert r.rows == [(1,)]
        # bad input: PostgreSQL's SQLSTATE, nothing written, the session still works
        if bad is not None:
            with pytest.raises(DsqlError) as err:
                await sql(s, f"INSERT INTO tv VALUES ({lit1}, {bad}, 3)")
            assert err.value.sqlstate == bad_state, err.value.message
            with pytest.raises(DsqlError) as err:
                await sql(s, f"UPDATE tv SET v = {bad} WHERE k = {lit2}")
            assert err.value.sqlstate == bad_state, err.value.message
        r = (await sql(s, "SELECT k, v, n FROM tv ORDER BY n"))[0]
        assert r.rows == [(v1, None, 1), (v2, v2, 2)]
    run(scenario)


def test_character_types_follow_postgresql(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE ch (id int PRIMARY KEY, c char(4), v varchar(4))")
        # trailing blanks beyond the length are cut, not an error
        await sql(s, "INSERT INTO ch VALUES (1, 'ab      ', 'cd      ')")
        r = (await sql(s, "SELECT c, v FROM ch WHERE c = 'ab'"))[0]
        assert r.rows == [("ab", "cd  ")]
        assert (await sql(s, "SELECT id FROM ch WHERE c = 'ab  '"))[0].rows == [(1,)]
        with pytest.raises(DsqlError) as err:
            await sql(s, "INSERT INTO ch VALUES (2, 'abcde', 'x')")
        assert err.value.sqlstate == "22001"
        assert "character(4)" in err.value.message
        with pytest.raises(DsqlError) as err:
            await sql(s, "CREATE TABLE bad (v varchar(0))")
        assert err.value.sqlstate == "22023"
    run(scenario)


def test_numeric_and_timestamp_modifiers(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE nm (id int PRIMARY KEY, n numeric(5, 2), "
                     "ts timestamp(0), t time(3))")
        await sql(s, "INSERT INTO nm VALUES (1, 2.345, '2024-01-01 10:00:00.6', "
                     "'10:00:00.12345')")
        r = (await sql(s, "SELECT t::text, ts::text FROM nm"))[0]
        assert r.rows == [("10:00:00.123", "2024-01-01 10:00:01")]
        r = (await sql(s, "SELECT n, ts, t FROM nm"))[0]
        assert r.rows == [(decimal.Decimal("2.35"), dt.datetime(2024, 1, 1, 10, 0, 1),
                           dt.time(10, 0, 0, 123000))]
        with pytest.raises(DsqlError) as err:
            await sql(s, "UPDATE nm SET n = 1000 WHERE id = 1")
        assert err.value.sqlstate == "22003"
        with pytest.raises(DsqlError) as err:
            await sql(s, "CREATE TABLE bad (n numeric(0))")
        assert err.value.sqlstate == "22023"
    run(scenario)


def test_json_at_query_time(run):
    async def scenario(c):
        s = c.session()
        r = (await sql(s, """SELECT '{"b": 1, "a": [1, 2.50, null]}'::jsonb,
                                    '{"b": 1,  "a": 2}'::json"""))[0]
        assert r.rows == [('{"a": [1, 2.50, null], "b": 1}', '{"b": 1,  "a": 2}')]
        assert [col.type_oid for col in r.columns] == [T.JSONB, T.JSON]
        with pytest.raises(DsqlError) as err:
            await sql(s, "SELECT '{a: 1}'::jsonb")
        assert err.value.sqlstate == "22P02"
        assert (await sql(s, "SELECT 1"))[0].rows == [(1,)]
        r = (await sql(s, "SELECT json_build_object('b', 1, 'a', NULL, 'd', date '2024-01-02'),"
                          " jsonb_build_object('b', true, 'a', 'x')"))[0]
        assert r.rows == [('{"b" : 1, "a" : null, "d" : "2024-01-02"}', '{"a": "x", "b": true}')]
    run(scenario)


def test_uuid_key_generated_by_default(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE ug (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v text)")
        await sql(s, "INSERT INTO ug (v) VALUES ('a'), ('b')")
        await sql(s, "INSERT INTO ug VALUES (gen_random_uuid(), 'c')")
        rows = (await sql(s, "SELECT id, v FROM ug ORDER BY v"))[0].rows
        assert [v for _, v in rows] == ["a", "b", "c"]
        assert all(isinstance(k, uuid.UUID) and k.version == 4 for k, _ in rows)
        assert len({k for k, _ in rows}) == 3
        r = (await sql(s, f"SELECT v FROM ug WHERE id = '{rows[1][0]}'"))[0]
        assert r.rows == [("b",)]
        r = (await sql(s, "SELECT gen_random_uuid() <> gen_random_uuid()"))[0]
        assert r.rows == [(True,)]
    run(scenario)


def test_real_is_stored_in_single_precision(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE fl (id int PRIMARY KEY, r real, d double precision)")
        await sql(s, "INSERT INTO fl VALUES (1, 1.1, 1.1), (2, 'NaN', '-Infinity')")
        r = (await sql(s, "SELECT r, d FROM fl WHERE id = 1"))[0]
        assert encode_value(r.rows[0][0], T.FLOAT4, TEXT_FORMAT) == b"1.1"
        # as in PostgreSQL: real 1.1 is not the double 1.1, but equals 1.1::real
        assert (await sql(s, "SELECT id FROM fl WHERE r = 1.1"))[0].rows == []
        assert (await sql(s, "SELECT id FROM fl WHERE d = 1.1"))[0].rows == [(1,)]
        assert (await sql(s, "SELECT id FROM fl WHERE r = '1.1'"))[0].rows == [(1,)]
        r = (await sql(s, "SELECT r, d FROM fl WHERE id = 2"))[0].rows[0]
        assert r[0] != r[0] and r[1] == float("-inf")
        for bad in ("1e39", "'1e39'"):
            with pytest.raises(DsqlError) as err:
                await sql(s, f"INSERT INTO fl VALUES (3, {bad}, 0)")
            assert err.value.sqlstate == "22003"
        with pytest.raises(DsqlError) as err:
            await sql(s, "INSERT INTO fl VALUES (3, 0, '1e400')")
        assert err.value.sqlstate == "22003"
    run(scenario)


def test_any_over_array_parameters(run):
    """``x = ANY($1)``: the array parameter takes x's type (drivers pass lists so)."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE an (id int PRIMARY KEY, u uuid, t text)")
        await sql(s, "INSERT INTO an VALUES (1, '00000000-0000-0000-0000-000000000001', 'a'), "
                     "(2, '00000000-0000-0000-0000-000000000002', 'b'), (3, NULL, NULL)")
        r = await s.execute_prepared("SELECT id FROM an WHERE id = ANY($1) ORDER BY id",
                                     (1007,), [[3, 1, 9]])
        assert r.rows == [(1,), (3,)]
        info = await s.prepare("SELECT id FROM an WHERE u = ANY($1)", ())
        assert info.param_type_oids == [2951]
        r = await s.execute_prepared("SELECT id FROM an WHERE u = ANY($1)", (),
                                     [[uuid.UUID(int=2), None]])
        assert r.rows == [(2,)]
        r = await s.execute_prepared("SELECT id FROM an WHERE t <> ALL($1::text[]) "
                                     "ORDER BY id", (), [["a"]])
        assert r.rows == [(2,)]
        r = await s.execute_prepared("SELECT 2 = ANY($1::oid[]), $2::int[]", (), [[1, 2], [5]])
        assert r.rows == [(True, [5])]
    run(scenario)


def test_now_is_the_transaction_timestamp_in_defaults_and_values(run):
    """DEFAULT now() / CURRENT_DATE and now() in VALUES work on the key-aware path, and
    within one transaction every now() is the same instant (PostgreSQL's rule)."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE stamped (id int PRIMARY KEY, "
                     "ts timestamptz DEFAULT now(), d date DEFAULT CURRENT_DATE, "
                     "l timestamp DEFAULT LOCALTIMESTAMP)")
        before = dt.datetime.now(UTC)
        await sql(s, "INSERT INTO stamped (id) VALUES (1)")
        await sql(s, "INSERT INTO stamped VALUES (2, now(), CURRENT_DATE, LOCALTIMESTAMP)")
        after = dt.datetime.now(UTC)
        rows = (await sql(s, "SELECT id, ts, d, l FROM stamped ORDER BY id"))[-1].rows
        for _, ts, d, l in rows:
            assert before - dt.timedelta(seconds=1) <= ts <= after + dt.timedelta(seconds=1)
            assert d == ts.date() and l == ts.replace(tzinfo=None)
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO stamped (id) VALUES (3)")
        await sql(s, "INSERT INTO stamped (id) VALUES (4)")
        res = (await sql(s, "SELECT count(DISTINCT ts), bool_and(ts = now()), "
                            "bool_and(ts = CURRENT_TIMESTAMP) FROM stamped "
                            "WHERE id IN (3, 4)"))[-1].rows
        await sql(s, "COMMIT")
        assert res == [(1, True, True)]
        later = (await sql(s, "SELECT now() > ts FROM stamped WHERE id = 3"))[-1].rows
        assert later == [(True,)]
    run(scenario)


def test_character_n_is_shown_blank_padded(run):
    """character(n) compares without trailing blanks but is output padded to n, on both
    the key-aware path and the query engine, with the typmod (n + 4) in RowDescription."""
    from dsql_ray.frontend.pgwire import column_encoders

    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE padded (id int PRIMARY KEY, c char(4), v varchar(4))")
        await sql(s, "INSERT INTO padded VALUES (1, 'ab', 'ab'), (2, NULL, NULL)")
        for query in ("SELECT c, v, c || 'x' AS t FROM padded WHERE id = 1",
                      "SELECT p.c, p.v, p.c || 'x' AS t FROM padded p "
                      "JOIN padded q ON p.id = q.id WHERE p.c = 'ab'",
                      "SELECT * FROM (SELECT c, v, c || 'x' AS t FROM padded) s "
                      "WHERE c = 'ab  '",
                      "SELECT 'ab'::char(4) AS c, 'ab'::varchar(4) AS v, 'abx' AS t"):
            res = (await sql(s, query))[-1]
            text = [enc(v) for enc, v in zip(column_encoders(res.columns), res.rows[0])]
            assert text == [b"ab  ", b"ab", b"abx"], query
        res = (await sql(s, "SELECT c FROM padded WHERE id = 1"))[-1]
        assert res.columns[0].type_modifier == 8
        assert (await sql(s, "SELECT length(c), c = 'ab', c::text FROM padded WHERE id = 1")
                )[-1].rows == [(2, True, "ab")]
    run(scenario)
