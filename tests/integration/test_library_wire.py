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

import psycopg

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
