"""Every client of the client matrix runs one relational schema on the real cluster: a
parent and a child with a foreign key (ON DELETE CASCADE), a unique expression index and
a partial index, built with CREATE INDEX ASYNC and waited for; then rows, the violations
a user meets (23503, 23505), reads the planner answers through those indexes, and a
cascading delete. psycopg (simple and extended protocol), asyncpg, pg8000, SQLAlchemy and
psql each send the same statements through their own API and must see the same answers.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

import pg8000.native
import psycopg
import pytest
import sqlalchemy
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dsql_ray.testing import pgtools
from dsql_ray.testing.protocols import cursor_factory

from .test_clients import insecure_context


def steps(p: str, c: str) -> list[tuple[str, object]]:
    """(statement, what the client must see): rows as lists of tuples of text, a
    SQLSTATE, or a predicate over the rows' text."""
    return [
        (f"CREATE TABLE {p} (id int PRIMARY KEY, email text NOT NULL, active boolean)", []),
        (f"CREATE TABLE {c} (id int PRIMARY KEY, p_id int NOT NULL REFERENCES {p} (id) "
         "ON DELETE CASCADE, note text)", []),
        (f"CREATE UNIQUE INDEX ASYNC {p}_email ON {p} ((lower(email)))", "job"),
        (f"CREATE INDEX ASYNC {c}_noted ON {c} (p_id) WHERE note IS NOT NULL", "job"),
        (f"INSERT INTO {p} VALUES (1, 'Ann@X.org', true), (2, 'bob@x.org', false)", []),
        (f"INSERT INTO {c} VALUES (10, 1, 'first'), (11, 2, NULL), (12, 1, NULL)", []),
        (f"INSERT INTO {p} VALUES (3, 'ann@x.ORG', true)", "23505"),
        (f"INSERT INTO {c} VALUES (13, 99, 'orphan')", "23503"),
        (f"SELECT id FROM {p} WHERE lower(email) = 'ann@x.org'", [("1",)]),
        (f"EXPLAIN SELECT id FROM {p} WHERE lower(email) = 'ann@x.org'",
         lambda rows: any(f"Index Scan using {p}_email" in r[0] for r in rows)),
        (f"SELECT id FROM {c} WHERE p_id = 1 AND note IS NOT NULL", [("10",)]),
        (f"EXPLAIN SELECT id FROM {c} WHERE p_id = 1 AND note IS NOT NULL",
         lambda rows: any(f"Index Scan using {c}_noted" in r[0] for r in rows)),
        (f"DELETE FROM {p} WHERE id = 1", []),
        (f"SELECT id, p_id FROM {c} ORDER BY id", [("11", "2")]),
        (f"DROP TABLE {p}", "2BP01"),
        (f"DROP TABLE {c}", []),
        (f"DROP TABLE {p}", []),
    ]


def run_steps(execute, wait_for_job) -> None:
    """``execute(sql)`` → ("ok", rows as text tuples) or ("error", SQLSTATE)."""
    p, c = f"par_{uuid.uuid4().hex[:6]}", f"chi_{uuid.uuid4().hex[:6]}"
    for sql, want in steps(p, c):
        kind, got = execute(sql)
        if want == "job":
            assert kind == "ok" and len(got) == 1, (sql, kind, got)
            assert wait_for_job(got[0][0]), f"{sql}: the build failed"
        elif isinstance(want, str):
            assert (kind, got) == ("error", want), sql
        elif callable(want):
            assert kind == "ok" and want(got), (sql, got)
        else:
            assert (kind, got) == ("ok", want), sql


def _text(rows) -> list[tuple]:
    return [tuple(None if v is None else str(v) for v in r) for r in rows]


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_psycopg(cluster, protocol):
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        def execute(sql):
            try:
                cur = conn.execute(sql)
                return "ok", _text(cur.fetchall()) if cur.description else []
            except psycopg.Error as e:
                return "error", e.sqlstate

        def wait(job):
            return conn.execute("CALL sys.wait_for_job(%s)", (job,)).fetchone()[0]
        run_steps(execute, wait)


def test_asyncpg(cluster):
    import asyncpg

    async def scenario():
        conn = await cluster.connect_asyncpg()
        loop = asyncio.get_running_loop()
        try:
            async def execute(sql):
                try:
                    return "ok", _text(await conn.fetch(sql))
                except asyncpg.PostgresError as e:
                    return "error", e.sqlstate

            async def wait(job):
                return await conn.fetchval("CALL sys.wait_for_job($1)", job)
            await loop.run_in_executor(None, run_steps,
                                       lambda sql: asyncio.run_coroutine_threadsafe(
                                           execute(sql), loop).result(60),
                                       lambda job: asyncio.run_coroutine_threadsafe(
                                           wait(job), loop).result(120))
        finally:
            await conn.close()
    asyncio.run(scenario())


def test_pg8000(cluster):
    conn = pg8000.native.Connection("admin", password=cluster.token(), host="127.0.0.1",
                                    port=cluster.port, database="postgres",
                                    ssl_context=insecure_context(), timeout=30)
    try:
        def execute(sql):
            try:
                return "ok", _text(conn.run(sql) or [])
            except pg8000.native.DatabaseError as e:
                return "error", e.args[0]["C"]
        run_steps(execute, lambda job: conn.run("CALL sys.wait_for_job(:j)", j=job)[0][0])
    finally:
        conn.close()


def test_sqlalchemy(cluster):
    url = URL.create("postgresql+psycopg", username="admin", password=cluster.token(),
                     host="127.0.0.1", port=cluster.port, database="postgres",
                     query={"sslmode": "require"})
    engine = sqlalchemy.create_engine(url, use_native_hstore=False, poolclass=NullPool,
                                      isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            def execute(sql):
                try:
                    result = conn.execute(sqlalchemy.text(sql))
                    return "ok", _text(result.fetchall()) if result.returns_rows else []
                except sqlalchemy.exc.DBAPIError as e:
                    return "error", e.orig.sqlstate

            def wait(job):
                return conn.execute(sqlalchemy.text("CALL sys.wait_for_job(:j)"),
                                    {"j": job}).scalar()
            run_steps(execute, wait)
    finally:
        engine.dispose()


def test_psql(cluster):
    exe = pgtools.find("psql")
    assert exe, "psql is needed for this test"
    env = os.environ | {"PGPASSWORD": cluster.token(), "PGSSLMODE": "require"}

    def execute(sql):
        proc = subprocess.run([str(exe), "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
                               "admin", "-d", "postgres", "-X", "-q", "-A", "-t", "-F", "\t",
                               "-v", "VERBOSITY=verbose", "-c", sql],
                              capture_output=True, text=True, timeout=60, env=env)
        if proc.returncode != 0:
            code = proc.stderr.split("ERROR:", 1)[1].split(":", 1)[0].strip()
            return "error", code
        lines = [ln for ln in proc.stdout.splitlines() if ln]
        return "ok", [tuple(None if v == "" else v for v in ln.split("\t")) for ln in lines]
    run_steps(execute, lambda job: execute(f"CALL sys.wait_for_job('{job}')")[1] == [("t",)])
