"""PostgreSQL's function library over the wire, through the extended protocol, against a
real cluster, compared with a real PostgreSQL.

The same generated queries as tests/differential/test_library_vs_postgres.py (interval
with months, bytea and timetz columns; date/time, binary string, bit, string and
set-returning functions; DISTINCT ON; rows). Each runs on the cluster through libpq's
PQexecParams (Parse, Bind, Describe portal, Execute, Sync: what JDBC, pgx and psycopg
with parameters send) or, every other query, as a named prepared statement (Parse and
Describe statement, then Bind/Execute), and its text results are compared with
PostgreSQL's. The table is created and filled over the wire too (INSERT with Bind
parameters, values cast from text).
"""
from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import pytest

from tests.differential.library import ROWS_TEXT, create_table_sql, generate_library, \
    insert_sql
from tests.differential.test_library_vs_postgres import (  # noqa: F401 (the fixture)
    COUNT, SEED, pg_text, reference, same)


def wire_text(conn: psycopg.Connection, sql: str, n: int):
    """("ok", names, text rows) or ("error", SQLSTATE) through the extended protocol."""
    pgconn = conn.pgconn
    if n % 2:
        name = f"lib{n}".encode()
        res = pgconn.prepare(name, sql.encode())
        if not res.error_message:
            res = pgconn.exec_prepared(name, [])
            pgconn.exec_(b"DEALLOCATE " + name)
    else:
        res = pgconn.exec_params(sql.encode(), [])
    if res.error_message:
        return ("error", (res.error_field(ord("C")) or b"?").decode())
    names = [res.fname(j).decode() for j in range(res.nfields)]
    rows = [tuple(None if (v := res.get_value(i, j)) is None else v.decode()
                  for j in range(res.nfields)) for i in range(res.ntuples)]
    return ("ok", names, rows)


def test_library_over_the_wire(cluster, reference):
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS lib", prepare=True)
        conn.execute(create_table_sql(), prepare=True)
        with conn.transaction():
            for row in ROWS_TEXT:
                conn.execute(insert_sql(), row)
        corpus = generate_library(SEED, COUNT)
        mismatches = []
        for n, sql in enumerate(corpus):
            expect, got = pg_text(reference, sql), wire_text(conn, sql, n)
            if not same(sql, expect, got):
                mismatches.append((sql, expect, got))
        conn.execute("DROP TABLE lib", prepare=True)
    print(f"\nlibrary differential (over the wire, extended protocol): "
          f"{len(corpus) - len(mismatches)}/{len(corpus)} equal to PostgreSQL")
    for sql, expect, got in mismatches[:40]:
        print(f"MISMATCH: {sql}\n  postgres {str(expect)[:300]}\n  cluster  {str(got)[:300]}")
    assert not mismatches, f"{len(mismatches)} of {len(corpus)} queries differ"


def test_rows_intervals_and_timetz_in_binary_through_asyncpg(cluster):
    """asyncpg asks for every result in binary: records (record_send), intervals with
    months (interval_send) and timetz (timetz_send) must decode as PostgreSQL's do."""
    async def run():
        conn = await cluster.connect_asyncpg()
        try:
            row = await conn.fetchval("SELECT ROW(1, 'a b', NULL, true, 2.5::float8)")
            assert tuple(row) == (1, "a b", None, True, 2.5)
            iv = await conn.fetchval("SELECT interval '1 year 2 mons 3 days 04:05:06'")
            # asyncpg reads interval_send's months as 365-day years and 30-day months
            assert iv == dt.timedelta(days=365 + 2 * 30 + 3, hours=4, minutes=5, seconds=6)
            tz = await conn.fetchval("SELECT timetz '10:00:05+02'")
            assert tz == dt.time(10, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
            got = await conn.fetch("SELECT g, sha256(g::text::bytea) FROM "
                                   "generate_series(1, 3) g ORDER BY g")
            assert [r[0] for r in got] == [1, 2, 3] and len(got[0][1]) == 32
        finally:
            await conn.close()
    asyncio.run(run())


def test_interval_and_timetz_keys(cluster):
    """An interval primary key: equal intervals ('1 mon', '30 days') are one key, as in a
    PostgreSQL btree; rows keep the value as written; timetz works as a key too."""
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS lib_keys", prepare=True)
        conn.execute("CREATE TABLE lib_keys (iv interval PRIMARY KEY, tz timetz, b bytea)",
                     prepare=True)
        conn.execute("INSERT INTO lib_keys VALUES (%s::interval, %s::timetz, %s)",
                     ("1 mon", "10:00+02", b"\x00\x01"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO lib_keys VALUES ('30 days', '11:00+00', NULL)")
        cur = conn.execute("SELECT iv::text, tz::text, encode(b, 'hex') FROM lib_keys "
                           "WHERE iv = %s::interval", ("720 hours",))
        assert cur.fetchall() == [("1 mon", "10:00:00+02", "0001")]
        conn.execute("UPDATE lib_keys SET iv = iv + interval '1 year'", prepare=True)
        assert conn.execute("SELECT iv::text FROM lib_keys", prepare=True).fetchall() == \
            [("1 year 1 mon",)]
        conn.execute("DROP TABLE lib_keys", prepare=True)
