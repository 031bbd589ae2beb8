"""Statements that return no rows, or rows only DDL knows, through the extended protocol
(Parse/Bind/Describe/Execute/Sync), as JDBC, pgx, asyncpg and psycopg with parameters send
them: psycopg sends a statement without parameters as a simple query unless prepare=True.
Each must describe what Execute then sends (RowDescription or NoData)."""
from __future__ import annotations

import asyncio
import ssl
import uuid

import asyncpg
import psycopg
import pytest

from dsql_ray.testing.protocols import ExtendedCursor, cursor_factory

from .test_copy import psql


def test_ddl_show_and_jobs_through_psycopg_prepared(cluster):
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ext_proto", prepare=True)
        conn.execute("CREATE TABLE ext_proto (id int PRIMARY KEY, v text)", prepare=True)
        conn.execute("INSERT INTO ext_proto VALUES (%s, %s)", (1, "a"))
        job = conn.execute("CREATE INDEX ASYNC ext_proto_v ON ext_proto (v)",
                           prepare=True).fetchone()[0]
        assert conn.execute("CALL sys.wait_for_job(%s)", (job,)).fetchone() == (True,)
        assert conn.execute("SHOW timezone", prepare=True).fetchone() == ("UTC",)
        assert conn.execute("SHOW server_version_num", prepare=True).fetchone()[0] \
            .startswith("16")
        conn.execute("SET application_name = 'ext'", prepare=True)
        assert conn.execute("SELECT current_setting('application_name')",
                            prepare=True).fetchone() == ("ext",)
        assert conn.execute("SELECT v FROM ext_proto WHERE id = %s", (1,)).fetchone() == ("a",)
        conn.execute("DROP TABLE ext_proto", prepare=True)


def test_ddl_and_show_through_asyncpg(cluster):
    async def run():
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="admin",
                                     database="postgres", password=cluster.token(), ssl=ctx)
        try:
            await conn.execute("DROP TABLE IF EXISTS ext_async")
            stmt = await conn.prepare("CREATE TABLE ext_async (id int PRIMARY KEY)")
            await stmt.fetch()
            assert await conn.fetchval("SHOW timezone") == "UTC"
            job = await conn.fetchval("CREATE INDEX ASYNC ext_async_id ON ext_async (id)")
            assert await conn.fetchval("CALL sys.wait_for_job($1)", job) is True
            await conn.execute("DROP TABLE ext_async")
        finally:
            await conn.close()
    asyncio.run(run())


def test_several_statements_in_one_extended_query_are_refused(cluster):
    """PostgreSQL refuses them at Parse (42601); in a block that aborts the block, and the
    session goes on."""
    with cluster.connect(cursor_factory=ExtendedCursor) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            conn.execute("SELECT 1; SELECT 2")
        assert "cannot insert multiple commands into a prepared statement" in str(e.value)
        conn.execute("BEGIN")
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("SELECT 1; SELECT 2")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_notices_reach_the_client(cluster, protocol):
    """NoticeResponse before the command's completion, through both protocols and psql."""
    name = f"notice_{uuid.uuid4().hex[:8]}"
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        notices = []
        conn.add_notice_handler(lambda d: notices.append((d.severity, d.message_primary)))
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        assert notices == [("NOTICE", f'table "{name}" does not exist, skipping')]
    proc = psql(cluster, "-c", f"DROP VIEW IF EXISTS {name}")
    assert proc.returncode == 0, proc.stderr
    assert f'NOTICE:  view "{name}" does not exist, skipping' in proc.stderr
