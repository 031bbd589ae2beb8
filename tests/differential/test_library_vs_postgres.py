"""Differential test of PostgreSQL's function library: the engine against a real
PostgreSQL, over a table with interval (with months), bytea, timetz and date/time columns.

Generated queries (library.py) by chapter of the manual: date/time arithmetic and
functions, binary strings, integer bit operators, string functions, set-returning
functions in FROM and in select lists, DISTINCT ON, row constructors. Each result is
compared as the text PostgreSQL sends (the engine's values through the wire encoder),
column names included; in order when the query has ORDER BY, else as multisets; errors by
SQLSTATE. ``test_library_over_the_wire`` in tests/integration runs the same queries
against a real cluster through the extended protocol.
"""
from __future__ import annotations

import asyncio
import collections

import pytest
from pglast import parse_sql

from dsql_ray.compute.query import EngineConfig, run_select
from dsql_ray.compute.query import sqltypes as S
from dsql_ray.errors import DsqlError
from dsql_ray.frontend.pgwire import TEXT_FORMAT, encode_value
from dsql_ray.testing.memory import MemorySource
from dsql_ray.testing.postgres import PostgresServer, PostgresUnavailable

from .library import COLUMNS, PRIMARY_KEY, ROWS_TEXT, TABLE, create_table_sql, \
    generate_library, insert_sql

psycopg = pytest.importorskip("psycopg")

SEED = 20261207
COUNT = 1200


def pg_text(conn, sql: str):
    """("ok", names, rows as text) or ("error", SQLSTATE) from PostgreSQL."""
    res = conn.pgconn.exec_(sql.encode())
    if res.error_message:
        code = res.error_field(ord("C")) or b"?"
        conn.pgconn.exec_(b"rollback")
        return ("error", code.decode())
    names = [res.fname(j).decode() for j in range(res.nfields)]
    rows = [tuple(None if (v := res.get_value(i, j)) is None else v.decode()
                  for j in range(res.nfields)) for i in range(res.ntuples)]
    return ("ok", names, rows)


def engine_text(source, sql: str):
    try:
        res = asyncio.run(run_select(parse_sql(sql)[0].stmt, source, [], EngineConfig()))
    except DsqlError as exc:
        return ("error", exc.sqlstate)
    except Exception as exc:       # a bug: a mismatch, keep going
        return ("crash", f"{type(exc).__name__}: {exc}")
    oids = [c.type_oid for c in res.columns]
    rows = [tuple(None if v is None else encode_value(v, oid, TEXT_FORMAT).decode()
                  for v, oid in zip(r, oids)) for r in res.rows]
    return ("ok", [c.name for c in res.columns], rows)


def same(sql: str, expect, got) -> bool:
    if expect[0] != "ok" or got[0] != "ok":
        return expect == got
    if expect[1] != got[1]:
        return False
    ordered = bool(getattr(parse_sql(sql)[0].stmt, "sortClause", None))
    if ordered:
        return expect[2] == got[2]
    return collections.Counter(expect[2]) == collections.Counter(got[2])


def memory_source() -> MemorySource:
    src = MemorySource()
    rows = [tuple(None if v is None else S.cast(v, oid) for v, (_, _, oid) in zip(r, COLUMNS))
            for r in ROWS_TEXT]
    src.add_table(TABLE, [(name, oid) for name, _, oid in COLUMNS], rows, PRIMARY_KEY)
    return src


@pytest.fixture(scope="module")
def reference():
    """A connection to a real PostgreSQL holding the library table."""
    try:
        pg = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("set timezone = 'UTC'")
            conn.execute(create_table_sql())
            with conn.cursor() as cur:
                cur.executemany(insert_sql(), ROWS_TEXT)
            yield conn
    finally:
        pg.stop()


def test_library_matches_postgres(reference):
    source = memory_source()
    corpus = generate_library(SEED, COUNT)
    mismatches = []
    for sql in corpus:
        expect, got = pg_text(reference, sql), engine_text(source, sql)
        if not same(sql, expect, got):
            mismatches.append((sql, expect, got))
    print(f"\nlibrary differential (in process): {len(corpus) - len(mismatches)}/{len(corpus)} "
          f"equal to PostgreSQL")
    for sql, expect, got in mismatches[:40]:
        print(f"MISMATCH: {sql}\n  postgres {str(expect)[:300]}\n  engine   {str(got)[:300]}")
    assert not mismatches, f"{len(mismatches)} of {len(corpus)} queries differ"
