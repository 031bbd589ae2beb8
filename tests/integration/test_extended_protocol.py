"""Statements that return no rows, or rows only DDL knows, through the extended protocol
(Parse/Bind/Describe/Execute/Sync), as JDBC, pgx, asyncpg and psycopg with parameters send
them: psycopg sends a statement without parameters as a simple query unless prepare=True.
Each must describe what Execute then sends (RowDescription or NoData)."""
from __future__ import annotations

import asyncio
import ssl

import asyncpg


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
