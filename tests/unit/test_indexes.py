"""Secondary indexes on the in-process cluster: CREATE INDEX ASYNC and its job, index
maintenance by every write, unique indexes and constraints, DROP INDEX, limits, EXPLAIN."""
import asyncio
import time
from dataclasses import replace

import pytest

from dsql_ray.compute import jobs as J
from dsql_ray.compute.txn import Transaction
from dsql_ray.errors import DsqlError

from .conftest import sql


@pytest.fixture
def run(run_wire):
    """Every scenario here runs in-process and again over the wire, through the simple and
    the extended protocol (conftest.run_wire)."""
    return run_wire


async def one(s, text):
    return (await sql(s, text))[-1]


async def build(s, ddl: str) -> tuple[str, bool]:
    """Run a CREATE INDEX ASYNC, wait for its job; (job id, succeeded)."""
    r = await one(s, ddl)
    assert [c.name for c in r.columns] == ["job_id"] and len(r.rows) == 1
    job_id = r.rows[0][0]
    w = await one(s, f"CALL sys.wait_for_job('{job_id}')")
    assert [c.name for c in w.columns] == ["wait_for_job"]
    return job_id, w.rows[0][0]


async def plan(s, query: str) -> str:
    return "\n".join(r[0] for r in (await one(s, f"EXPLAIN {query}")).rows)


async def fails(s, text: str, sqlstate: str) -> DsqlError:
    with pytest.raises(DsqlError) as e:
        await sql(s, text)
    assert e.value.sqlstate == sqlstate, e.value
    return e.value


async def same_as_full_scan(s, table: str, column: str, values) -> None:
    """The index path and a scan the index cannot serve return the same rows."""
    for v in values:
        q = f"SELECT * FROM {table} WHERE {column} = {v}"
        assert "Index Scan using" in await plan(s, q) and "_pkey" not in await plan(s, q)
        by_index = sorted((await one(s, q)).rows)
        by_scan = sorted((await one(s, f"SELECT * FROM {table} WHERE {column} + 0 = {v}")).rows)
        assert by_index == by_scan, v


def test_create_index_async_returns_a_job_that_builds_the_index(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, y text)")
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i % 7}, 'v{i}')" for i in range(200)))
        assert "Seq Scan on t" in await plan(s, "SELECT * FROM t WHERE x = 3")
        job_id, ok = await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x)")
        assert ok is True and len(job_id) == 26 and job_id.isalnum()
        jobs = (await one(s, "SELECT job_id, status, job_type, details, object_name, "
                             "start_time FROM sys.jobs")).rows
        assert [(j[0], j[1], j[2], j[4]) for j in jobs] == \
            [(job_id, "completed", "INDEX_BUILD", "public.t_x_idx")]
        # DSQL's columns, in its order; the job's object is the index (a pg_class row)
        cols = (await one(s, "SELECT * FROM sys.jobs")).columns
        assert [c.name for c in cols] == ["job_id", "status", "details", "job_type", "class_id",
                                          "object_id", "object_name", "start_time",
                                          "update_time"]
        assert (await one(s, "SELECT c.relname, j.class_id = 'pg_class'::regclass, "
                             "j.update_time >= j.start_time FROM sys.jobs j "
                             "JOIN pg_class c ON c.oid = j.object_id")).rows == \
            [("t_x_idx", True, True)]
        # a procedure is CALLed; in an expression it fails as PostgreSQL's procedures do
        e = await fails(s, f"SELECT sys.wait_for_job('{job_id}')", "42809")
        assert e.message == "sys.wait_for_job(unknown) is a procedure"   # as PostgreSQL 15 says
        assert (await one(s, "SELECT 1")).rows == [(1,)]
        text = await plan(s, "SELECT * FROM t WHERE x = 3")
        assert text.startswith("Index Scan using t_x_idx on t\n  Index Cond: (x = 3)")
        assert "Shards: 1 (of 2 key ranges)" in text
        await same_as_full_scan(s, "t", "x", range(8))
        # psql's \di and \d read these
        assert (await one(s, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 't' "
                             "ORDER BY 1")).rows == [
            ("t_pkey", "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)"),
            ("t_x_idx", "CREATE INDEX t_x_idx ON public.t USING btree (x)")]
        assert (await one(s, "SELECT c.relname, c.relkind, i.indisunique, i.indisvalid "
                             "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                             "ORDER BY 1")).rows == [("t_pkey", "i", True, True),
                                                    ("t_x_idx", "i", False, True)]
        assert (await one(s, "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
                             "WHERE NOT indisprimary")).rows == \
            [("CREATE INDEX t_x_idx ON public.t USING btree (x)",)]
    run(scenario)


def test_plain_create_index_is_refused_even_on_an_empty_table(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        e = await fails(s, "CREATE INDEX t_x ON t (x)", "0A000")
        assert e.message == "unsupported mode. please use CREATE INDEX ASYNC."
        await fails(s, "CREATE UNIQUE INDEX t_x ON t (x)", "0A000")
        assert (await one(s, "SELECT count(*) FROM t")).rows == [(0,)]
    run(scenario)


def test_every_write_maintains_the_index(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, y text)")
        await sql(s, "INSERT INTO t VALUES " + ", ".join(f"({i}, {i % 5}, 'a')" for i in range(50)))
        assert (await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x) INCLUDE (y)"))[1]
        await sql(s, "INSERT INTO t VALUES (100, 3, 'new'), (101, NULL, 'null')")
        await sql(s, "UPDATE t SET x = 4 WHERE id < 10")
        await sql(s, "UPDATE t SET y = 'changed' WHERE x = 4")     # the index finds the rows
        await sql(s, "DELETE FROM t WHERE x = 2")
        await sql(s, "UPDATE t SET id = id + 1000 WHERE id = 13")  # the key moves
        # several changes to one row inside a transaction, read back through the index
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (200, 1, 'txn')")
        assert (await one(s, "SELECT id FROM t WHERE x = 1 AND id = 200")).rows == [(200,)]
        await sql(s, "UPDATE t SET x = 0 WHERE id = 200")
        assert (await one(s, "SELECT id FROM t WHERE x = 1 AND id = 200")).rows == []
        await sql(s, "UPDATE t SET x = 3 WHERE id = 200")
        await sql(s, "COMMIT")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (300, 1, 'rolled back')")
        await sql(s, "ROLLBACK")
        await same_as_full_scan(s, "t", "x", range(6))
        assert (await one(s, "SELECT id FROM t WHERE x = 3 AND id >= 100 ORDER BY id")
                ).rows == [(100,), (200,), (1013,)]
        assert (await one(s, "SELECT count(*) FROM t WHERE x = 4 AND y = 'changed'")
                ).rows == [(18,)]
        # range predicates use the index too
        text = await plan(s, "SELECT id FROM t WHERE x > 1 AND x <= 3")
        assert "Index Only Scan using t_x_idx" in text   # id and x are in the entries
        assert "Index Cond: (x > 1 AND x <= 3)" in text
        assert sorted((await one(s, "SELECT id FROM t WHERE x > 1 AND x <= 3")).rows) == \
            sorted((await one(s, "SELECT id FROM t WHERE x + 0 > 1 AND x + 0 <= 3")).rows)
        assert (await one(s, "SELECT id FROM t WHERE x = NULL")).rows == []
    run(scenario)


def test_unique_index_refuses_duplicates_with_23505(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, email text, n int)")
        await sql(s, "INSERT INTO t VALUES (1, 'a@x', 1), (2, 'b@x', 2), (3, NULL, 3)")
        assert (await build(s, "CREATE UNIQUE INDEX ASYNC t_email ON t (email)"))[1]
        e = await fails(s, "INSERT INTO t VALUES (4, 'a@x', 4)", "23505")
        assert e.message == 'duplicate key value violates unique constraint "t_email"'
        assert e.detail == "Key (email)=(a@x) already exists."
        await fails(s, "UPDATE t SET email = 'b@x' WHERE id = 1", "23505")
        await fails(s, "INSERT INTO t VALUES (5, 'c@x', 5), (6, 'c@x', 6)", "23505")
        # NULLs are distinct; a value freed in the same statement may be taken
        await sql(s, "INSERT INTO t VALUES (7, NULL, 7)")
        await sql(s, "UPDATE t SET email = CASE id WHEN 1 THEN 'z@x' ELSE 'a@x' END "
                     "WHERE id IN (1, 2)")
        assert sorted((await one(s, "SELECT id, email FROM t")).rows) == \
            [(1, "z@x"), (2, "a@x"), (3, None), (7, None)]
        # in a transaction block the statement fails and the block is aborted
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (8, 'new@x', 8)")
        await fails(s, "INSERT INTO t VALUES (9, 'new@x', 9)", "23505")
        await fails(s, "SELECT 1", "25P02")
        assert (await one(s, "COMMIT")).tag == "ROLLBACK"
        await sql(s, "INSERT INTO t VALUES (8, 'new@x', 8)")     # the session still works
        assert (await one(s, "SELECT id FROM t WHERE email = 'new@x'")).rows == [(8,)]
    run(scenario)


def test_concurrent_inserts_of_one_unique_value_conflict_at_commit(run):
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, "CREATE TABLE t (id int primary key, x int)")
        assert (await build(a, "CREATE UNIQUE INDEX ASYNC t_x ON t (x)"))[1]
        await sql(a, "BEGIN")
        await sql(b, "BEGIN")
        await sql(a, "INSERT INTO t VALUES (1, 7)")
        await sql(b, "INSERT INTO t VALUES (2, 7)")     # neither sees the other's row yet
        await sql(a, "COMMIT")
        e = await fails(b, "COMMIT", "40001")
        assert "OC000" in e.message
        assert (await one(a, "SELECT id FROM t WHERE x = 7")).rows == [(1,)]
    run(scenario)


def test_unique_build_on_duplicated_data_fails_and_the_index_stays_unused(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        await sql(s, "INSERT INTO t VALUES " + ", ".join(f"({i}, {i})" for i in range(100)))
        await sql(s, "INSERT INTO t VALUES (1000, 42)")
        job_id, ok = await build(s, "CREATE UNIQUE INDEX ASYNC t_x ON t (x)")
        assert ok is False
        status, details = (await one(s, f"SELECT status, details FROM sys.jobs "
                                        f"WHERE job_id = '{job_id}'")).rows[0]
        assert status == "failed"
        assert 'could not create unique index "t_x"' in details and "(x)=(42)" in details
        assert "Seq Scan on t" in await plan(s, "SELECT * FROM t WHERE x = 42")
        assert (await one(s, "SELECT indisvalid FROM pg_index WHERE NOT indisprimary")
                ).rows == [(False,)]
        await sql(s, "INSERT INTO t VALUES (1001, 42)")       # not enforcing
        assert len((await one(s, "SELECT * FROM t WHERE x = 42")).rows) == 3
        await sql(s, "DROP INDEX t_x")
        assert (await build(s, "CREATE INDEX ASYNC t_x ON t (x)"))[1]
        assert len((await one(s, "SELECT * FROM t WHERE x = 42")).rows) == 3
    run(scenario)


def test_drop_index(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, u int UNIQUE)")
        assert (await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x)"))[1]
        assert "t_x_idx" in await plan(s, "SELECT * FROM t WHERE x = 1")
        await sql(s, "INSERT INTO t VALUES (5, 5, 5), (6, 6, 6)")
        d = c.node.indexes.get("public", "t_x_idx")
        low, high = d.key_range()
        assert len(await c.node.scan(low, high, c.node.clock.now())) == 2
        assert (await one(s, "DROP INDEX t_x_idx")).tag == "DROP INDEX"
        assert "Seq Scan on t" in await plan(s, "SELECT * FROM t WHERE x = 1")
        # its entries are deleted by a DROP job
        job_id, object_name = (await one(s, "SELECT job_id, object_name FROM sys.jobs "
                                            "WHERE job_type = 'DROP'")).rows[0]
        assert object_name == "public.t_x_idx"
        assert (await one(s, f"CALL sys.wait_for_job('{job_id}')")).rows == [(True,)]
        assert await c.node.scan(low, high, c.node.clock.now()) == []
        await sql(s, "DELETE FROM t")
        e = await fails(s, "DROP INDEX t_x_idx", "42704")
        assert e.message == 'index "t_x_idx" does not exist'
        s.notices.clear()
        await sql(s, "DROP INDEX IF EXISTS t_x_idx")
        assert s.notices == ['index "t_x_idx" does not exist, skipping']
        await fails(s, "DROP INDEX t_u_key", "2BP01")
        await sql(s, "INSERT INTO t VALUES (1, 1, 1)")
        assert (await one(s, "SELECT id FROM t WHERE x = 1")).rows == [(1,)]
        assert (await one(s, "SELECT indexname FROM pg_indexes ORDER BY 1")).rows == \
            [("t_pkey",), ("t_u_key",)]
    run(scenario)


def test_drop_table_takes_its_indexes_along(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, u int UNIQUE)")
        await sql(s, "INSERT INTO t VALUES (1, 1, 1), (2, 2, 2)")
        assert (await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x)"))[1]
        low, high = c.node.indexes.get("public", "t_x_idx").key_range()
        rows_low, rows_high = c.node.catalog.tables[("public", "t")].key_range()
        assert len(await c.node.scan(rows_low, rows_high, c.node.clock.now())) == 2
        await sql(s, "DROP TABLE t")
        assert (await one(s, "SELECT count(*) FROM pg_indexes WHERE tablename = 't'")
                ).rows == [(0,)]
        jobs = (await one(s, "SELECT job_id, object_name FROM sys.jobs "
                             "WHERE job_type = 'DROP' ORDER BY 2")).rows
        assert [name for _, name in jobs] == ["public.t", "public.t_u_key", "public.t_x_idx"]
        for job_id, _ in jobs:
            assert (await one(s, f"CALL sys.wait_for_job('{job_id}')")).rows == [(True,)]
        assert await c.node.scan(low, high, c.node.clock.now()) == []
        assert await c.node.scan(rows_low, rows_high, c.node.clock.now()) == []   # freed
        # the names are free again for a new table
        await sql(s, "CREATE TABLE t (id int primary key, x int, u int UNIQUE)")
        await sql(s, "INSERT INTO t VALUES (7, 7, 7)")
        assert (await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x)"))[1]
        assert (await one(s, "SELECT id FROM t WHERE x = 7")).rows == [(7,)]
        assert "t_x_idx" in await plan(s, "SELECT * FROM t WHERE x = 7")
    run(scenario)


def test_refusals_carry_their_sqlstates(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, " +
                  ", ".join(f"c{i} int" for i in range(30)) + ", txt text)")
        cols = ", ".join(f"c{i}" for i in range(9))
        e = await fails(s, f"CREATE INDEX ASYNC wide ON t ({cols})", "54011")
        assert "at most 8 columns" in e.message
        await fails(s, "CREATE INDEX ASYNC bad ON t (nope)", "42703")
        await fails(s, "CREATE INDEX ASYNC bad ON nope (x)", "42P01")
        await fails(s, "CREATE INDEX ASYNC bad ON t ((c1 + random()))", "42P17")
        await fails(s, "CREATE INDEX ASYNC t ON t (c1)", "42P07")   # a relation's name
        for i in range(24):
            await sql(s, f"CREATE INDEX ASYNC i{i} ON t (c{i})")
        e = await fails(s, "CREATE INDEX ASYNC i24 ON t (c24)", "54000")
        assert "at most 24 indexes" in e.message
        await fails(s, "CREATE INDEX ASYNC i0 ON t (c25)", "42P07")
        s.notices.clear()
        r = await one(s, "CREATE INDEX ASYNC IF NOT EXISTS i0 ON t (c25)")
        assert r.rows == [] and s.notices == ['relation "i0" already exists, skipping']
        await sql(s, "DROP INDEX i23")
        await sql(s, "CREATE INDEX ASYNC long_txt ON t (txt)")
        e = await fails(s, f"INSERT INTO t (id, txt) VALUES (1, '{'x' * 1100}')", "54000")
        assert e.message == "key size too large"
        await sql(s, "INSERT INTO t (id, txt) VALUES (1, 'short')")
        await fails(s, "CALL sys.wait_for_job('no-such-job')", "42704")
        await fails(s, "CALL sys.no_such_procedure()", "42883")
        await fails(s, "EXPLAIN CREATE TABLE z (id int)", "42601")
        assert (await one(s, "SELECT count(*) FROM t")).rows == [(1,)]
    run(scenario)


def test_unique_constraints_of_create_table_are_unique_indexes(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int UNIQUE, a int, b int, "
                     "UNIQUE (a, b), CONSTRAINT named UNIQUE (b))")
        await sql(s, "INSERT INTO t VALUES (1, 1, 1, 1)")
        e = await fails(s, "INSERT INTO t VALUES (2, 1, 2, 2)", "23505")
        assert e.message == 'duplicate key value violates unique constraint "t_x_key"'
        e = await fails(s, "INSERT INTO t VALUES (2, 2, 1, 1)", "23505")
        assert '"t_a_b_key"' in e.message and e.detail == "Key (a, b)=(1, 1) already exists."
        await fails(s, "INSERT INTO t VALUES (2, 2, 2, 1)", "23505")
        await sql(s, "INSERT INTO t VALUES (2, NULL, NULL, 2), (3, NULL, NULL, 3)")
        assert (await one(s, "SELECT conname, contype FROM pg_constraint ORDER BY 1")).rows == \
            [("named", "u"), ("t_a_b_key", "u"), ("t_pkey", "p"), ("t_x_key", "u")]
        assert "Index Scan using t_x_key" in await plan(s, "SELECT * FROM t WHERE x = 1")
    run(scenario)


def test_index_entries_do_not_count_toward_the_row_limit(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, a int UNIQUE, b int, c int)")
        assert (await build(s, "CREATE INDEX ASYNC t_b ON t (b)"))[1]
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i}, {i % 3}, {i})" for i in range(3000)))
        assert (await one(s, "SELECT count(*) FROM t WHERE b = 1")).rows == [(1000,)]
        await fails(s, "INSERT INTO t VALUES " +
                    ", ".join(f"({i}, {i}, 0, 0)" for i in range(5000, 8001)), "54000")
    run(scenario)


def test_a_transaction_older_than_the_index_fails_with_oc001(run):
    """F1's safety: a write that did not know the index cannot commit after it exists."""
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, "CREATE TABLE t (id int primary key, x int)")
        await sql(a, "BEGIN")
        await sql(a, "INSERT INTO t VALUES (1, 5)")
        assert (await build(b, "CREATE INDEX ASYNC t_x ON t (x)"))[1]
        e = await fails(a, "COMMIT", "40001")
        assert "OC001" in e.message
        await sql(a, "INSERT INTO t VALUES (1, 5)")
        assert (await one(a, "SELECT id FROM t WHERE x = 5")).rows == [(1,)]
    run(scenario)


def test_build_while_rows_change(run):
    async def scenario(c):
        s, w = c.session(), c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        for start in range(0, 3000, 1000):
            await sql(s, "INSERT INTO t VALUES " + ", ".join(
                f"({i}, {i % 50})" for i in range(start, start + 1000)))
        r = await one(s, "CREATE INDEX ASYNC t_x ON t (x)")
        job_id = r.rows[0][0]
        stop = False

        async def writer():
            i = 0
            while not stop:
                i += 1
                try:
                    await sql(w, f"INSERT INTO t VALUES ({10_000 + i}, {i % 50})")
                    await sql(w, f"UPDATE t SET x = {(i * 7) % 50} WHERE id = {(i * 37) % 3000}")
                    await sql(w, f"DELETE FROM t WHERE id = {(i * 53) % 3000}")
                except DsqlError as e:
                    assert e.sqlstate == "40001", e
                await asyncio.sleep(0)
            return i

        task = asyncio.ensure_future(writer())
        ok = (await one(s, f"CALL sys.wait_for_job('{job_id}')")).rows[0][0]
        stop = True
        assert await task > 0
        assert ok is True
        await same_as_full_scan(s, "t", "x", range(50))
    run(scenario)


def test_a_job_whose_owner_stopped_is_taken_over(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        await sql(s, "INSERT INTO t VALUES (1, 1), (2, 2)")

        class Idle:
            def kick(self):
                pass
        c.node.jobs = Idle()                    # this compute's runner is not running
        job_id = (await one(s, "CREATE INDEX ASYNC t_x ON t (x)")).rows[0][0]
        txn = Transaction(c.node, c.node.clock.now(), explicit=False)
        job = J.row_to_job(await txn.get(J.job_key(job_id)))
        txn.put(J.job_key(job_id), J.job_to_row(replace(
            job, status=J.PROCESSING, owner="gone", heartbeat=time.time() - 60)))
        await c.node.commit(txn)                # claimed by a compute that died
        c.node.jobs = None
        assert (await one(s, f"CALL sys.wait_for_job('{job_id}')")).rows == [(True,)]
        assert (await one(s, "SELECT id FROM t WHERE x = 2")).rows == [(2,)]
        assert "Index Scan using t_x" in await plan(s, "SELECT id FROM t WHERE x = 2")
    run(scenario)


def test_explain(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, y text)")
        assert (await build(s, "CREATE INDEX ASYNC t_x_idx ON t (x)"))[1]
        r = await one(s, "EXPLAIN SELECT y FROM t WHERE x = 5 AND y = 'a'")
        assert [c.name for c in r.columns] == ["QUERY PLAN"]
        text = "\n".join(row[0] for row in r.rows)
        assert text.startswith("Index Scan using t_x_idx on t\n  Index Cond: (x = 5)\n"
                               "  Filter: (y = 'a')\n  Key range: [")
        text = await plan(s, "SELECT * FROM t WHERE id = 5")
        assert text.startswith("Index Scan using t_pkey on t\n  Index Cond: (id = 5)")
        assert (await plan(s, "SELECT * FROM t WHERE y = 'a'")).startswith("Seq Scan on t")
        assert (await plan(s, "UPDATE t SET y = 'b' WHERE x = 1")).startswith(
            "Update on t\n  ->  Index Scan using t_x_idx on t")
        assert (await plan(s, "DELETE FROM t WHERE x = 1")).startswith(
            "Delete on t\n  ->  Index Scan using t_x_idx on t")
        text = "\n".join(r[0] for r in (await one(
            s, "EXPLAIN VERBOSE SELECT id FROM t WHERE x > 1 ORDER BY id LIMIT 2")).rows)
        assert text.startswith("Limit\n  ->  Sort\n        ->  Index Only Scan using t_x_idx on t")
        assert "Output: id" in text
        # EXPLAIN with a parameter (extended protocol)
        r = await s.execute_prepared("EXPLAIN SELECT * FROM t WHERE x = $1", [], ["3"])
        assert r.rows[0][0] == "Index Scan using t_x_idx on t"
    run(scenario)


def test_a_table_without_primary_key_uses_its_index(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE h (x int, y text)")
        await sql(s, "INSERT INTO h VALUES " + ", ".join(f"({i % 10}, 'r{i}')" for i in range(60)))
        assert (await build(s, "CREATE INDEX ASYNC h_x ON h (x)"))[1]
        await sql(s, "DELETE FROM h WHERE y = 'r3'")
        await sql(s, "UPDATE h SET x = 99 WHERE y = 'r4'")
        assert "Index Scan using h_x on h" in await plan(s, "SELECT * FROM h WHERE x = 3")
        await same_as_full_scan(s, "h", "x", [3, 4, 99])
        assert len((await one(s, "SELECT * FROM h WHERE x = 3")).rows) == 5
    run(scenario)


def test_the_query_engine_reads_single_table_queries_through_the_index(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, g int)")
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i % 10}, {i % 3})" for i in range(300)))
        assert (await build(s, "CREATE INDEX ASYNC t_x ON t (x)"))[1]
        q = "SELECT g, count(*) FROM t WHERE x = 4 GROUP BY g ORDER BY g"
        text = await plan(s, q)
        assert text.startswith("Query engine\n  ->  Index Scan using t_x on t"), text
        assert (await one(s, q)).rows == \
            (await one(s, q.replace("x = 4", "x + 0 = 4"))).rows == [(0, 10), (1, 10), (2, 10)]
        r = await s.execute_prepared("SELECT count(*) FROM t WHERE x = $1 AND g = 1", [], ["4"])
        assert r.rows == [(10,)]
        # the table read twice: no narrowing (the subquery must see every row)
        q = "SELECT count(*) FROM t WHERE x = 4 AND id IN (SELECT id FROM t WHERE g = 1)"
        assert "Seq Scan on t" in await plan(s, q)
        assert (await one(s, q)).rows == [(10,)]
    run(scenario)


def test_dropping_an_index_cancels_its_build(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")

        class Idle:
            def kick(self):
                pass
        c.node.jobs = Idle()
        job_id = (await one(s, "CREATE INDEX ASYNC t_x ON t (x)")).rows[0][0]
        await sql(s, "DROP INDEX t_x")
        c.node.jobs = None
        assert (await one(s, f"CALL sys.wait_for_job('{job_id}')")).rows == [(False,)]
        assert (await one(s, "SELECT status, details FROM sys.jobs "
                             "WHERE job_type = 'INDEX_BUILD'")).rows == \
            [("cancelled", "the index was dropped")]
    run(scenario)


def test_index_follows_its_columns_through_alter_table(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, a int, x int, y text)")
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i}, {i % 4}, 'y')" for i in range(40)))
        assert (await build(s, "CREATE INDEX ASYNC t_x ON t (x)"))[1]
        await sql(s, "ALTER TABLE t DROP COLUMN a")
        await sql(s, "ALTER TABLE t RENAME COLUMN x TO xx")
        await sql(s, "INSERT INTO t VALUES (100, 2, 'new')")
        await sql(s, "UPDATE t SET xx = 3 WHERE id = 1")
        assert "Index Scan using t_x" in await plan(s, "SELECT * FROM t WHERE xx = 2")
        await same_as_full_scan(s, "t", "xx", range(4))
        assert (await one(s, "SELECT indexdef FROM pg_indexes WHERE indexname = 't_x'")
                ).rows == [("CREATE INDEX t_x ON public.t USING btree (xx)",)]
    run(scenario)


def test_a_cancel_stops_wait_for_job(run_in_process):
    from .test_cancel import cancel_from_another_thread, served

    async def scenario(c):
        backend, ctl = served(c)
        await sql(backend, "CREATE TABLE t (id int primary key, x int)")

        class Idle:
            def kick(self):
                pass
        c.node.jobs = Idle()                         # the job never runs
        job_id = (await one(backend, "CREATE INDEX ASYNC t_x ON t (x)")).rows[0][0]
        t = cancel_from_another_thread(ctl, 0.3)
        start = time.monotonic()
        await fails(backend, f"CALL sys.wait_for_job('{job_id}')", "57014")
        assert time.monotonic() - start < 2
        await asyncio.to_thread(t.join)
        c.node.jobs = None
        assert (await one(backend, f"CALL sys.wait_for_job('{job_id}')")).rows == [(True,)]
    run_in_process(scenario)


def test_explain_of_dml_through_the_engine(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        await sql(s, "CREATE TABLE o (id int primary key, x int)")
        text = await plan(s, "UPDATE t SET x = o.x FROM o WHERE o.id = t.id")
        assert text.startswith("Update on t\n  ->  Query engine"), text
        assert (await plan(s, "INSERT INTO t VALUES (1, 2)")).startswith("Insert on t")
        text = await plan(s, "SELECT count(*) FROM t JOIN o ON o.id = t.id")
        assert text == "Query engine\n  ->  Seq Scan on t\n  ->  Seq Scan on o", text
        r = await one(s, "EXPLAIN ANALYZE SELECT * FROM t")
        assert r.rows[-1][0].startswith("Execution Time:")
    run(scenario)


def test_index_only_scan_when_the_entries_cover_the_query(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, x int, y text, z text)")
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i % 4}, 'y{i}', 'z{i}')" for i in range(40)))
        assert (await build(s, "CREATE INDEX ASYNC t_x ON t (x) INCLUDE (y)"))[1]
        await sql(s, "UPDATE t SET y = 'changed' WHERE id = 1")
        await sql(s, "INSERT INTO t VALUES (100, 1, NULL, 'z')")
        q = "SELECT id, y FROM t WHERE x = 1 ORDER BY id"
        assert (await plan(s, q)).startswith("Sort\n  ->  Index Only Scan using t_x on t")
        assert (await one(s, q)).rows == \
            (await one(s, "SELECT id, y FROM t WHERE x + 0 = 1 ORDER BY id")).rows
        assert (await one(s, q)).rows[:2] == [(1, "changed"), (5, "y5")]
        q = "SELECT id, z FROM t WHERE x = 1 AND y = 'y5'"
        assert (await plan(s, q)).startswith("Index Scan using t_x on t")
        assert (await one(s, q)).rows == [(5, "z5")]
    run(scenario)


def test_autocommit_ddl_runs_again_after_an_index_job_ends_under_it(run_in_process):
    """Tortoise ORM's cleanup: DROP TABLE a moment after CREATE INDEX ASYNC. Here the build
    job ends (its catalog writes commit) exactly between the DROP's snapshot and its
    COMMIT; the DROP must not fail with OC001 but run again after the job."""
    class Idle:
        def kick(self):
            pass

    async def scenario(c):
        s, node = c.session(), c.node
        await sql(s, "CREATE TABLE t (id int primary key, x int)")
        await sql(s, "INSERT INTO t VALUES (1, 1), (2, 2)")
        node.jobs = Idle()                               # the build waits
        job_id = (await one(s, "CREATE INDEX ASYNC t_x ON t (x)")).rows[0][0]
        commit, ended = node.commit, []

        async def job_ends_first(txn):
            if txn.has_ddl and not ended:                # the DROP's first COMMIT
                ended.append(True)
                node.jobs = None
                assert (await J.wait_for_job(node, job_id)).status == J.COMPLETED
            return await commit(txn)
        node.commit = job_ends_first
        try:
            assert (await sql(s, "DROP TABLE t"))[-1].tag == "DROP TABLE"
        finally:
            node.commit = commit
        assert ended == [True]
        await fails(s, "SELECT * FROM t", "42P01")
    run_in_process(scenario)
