"""The SQL path through every role, in one process: compute → adjudicator → journal → storage."""
import asyncio

import pytest

from dsql_ray.errors import DsqlError
from dsql_ray.sim.cluster import InProcessCluster


@pytest.fixture
def run(tmp_path):
    loop = asyncio.new_event_loop()
    cluster = loop.run_until_complete(InProcessCluster(tmp_path).start())

    def go(coro_fn):
        return loop.run_until_complete(asyncio.wait_for(coro_fn(cluster), 20))
    yield go
    loop.run_until_complete(cluster.stop())
    loop.close()


async def sql(session, text):
    return await session.execute_simple(text)


def test_crud_round_trip(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v text)")
        r = await sql(s, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        assert r[0].tag == "INSERT 0 2"
        r = await sql(s, "SELECT * FROM t WHERE id = 1")
        assert r[0].rows == [(1, "one")] and [c.name for c in r[0].columns] == ["id", "v"]
        await sql(s, "UPDATE t SET v = 'uno' WHERE id = 1")
        await sql(s, "DELETE FROM t WHERE id = 2")
        r = await sql(s, "SELECT * FROM t")
        assert r[0].rows == [(1, "uno")]
        other = c.session()
        assert (await sql(other, "SELECT v FROM t WHERE id = 1"))[0].rows == [("uno",)]
    run(scenario)


def test_duplicate_key_and_not_null(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v text not null)")
        await sql(s, "INSERT INTO t VALUES (1, 'a')")
        with pytest.raises(DsqlError) as e:
            await sql(s, "INSERT INTO t VALUES (1, 'b')")
        assert e.value.sqlstate == "23505"
        with pytest.raises(DsqlError) as e:
            await sql(s, "INSERT INTO t VALUES (2, NULL)")
        assert e.value.sqlstate == "23502"
        assert (await sql(s, "SELECT * FROM t"))[0].rows == [(1, "a")]
    run(scenario)


def test_snapshot_and_first_committer_wins(run):
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, "CREATE TABLE acct (id int primary key, bal int)")
        await sql(a, "INSERT INTO acct VALUES (1, 100)")
        await sql(a, "BEGIN")
        await sql(b, "BEGIN")
        await sql(a, "UPDATE acct SET bal = bal - 10 WHERE id = 1")
        await sql(b, "UPDATE acct SET bal = bal - 20 WHERE id = 1")
        assert (await sql(b, "SELECT bal FROM acct WHERE id = 1"))[0].rows == [(80,)]
        await sql(a, "COMMIT")
        with pytest.raises(DsqlError) as e:
            await sql(b, "COMMIT")
        assert e.value.sqlstate == "40001" and "OC000" in e.value.message
        assert (await sql(b, "SELECT bal FROM acct WHERE id = 1"))[0].rows == [(90,)]
    run(scenario)


def test_aborted_transaction_state(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key)")
        await sql(s, "BEGIN")
        with pytest.raises(DsqlError):
            await sql(s, "SELECT nope FROM t")
        assert s.txn_status == "E"
        with pytest.raises(DsqlError) as e:
            await sql(s, "SELECT * FROM t")
        assert e.value.sqlstate == "25P02"
        assert (await sql(s, "COMMIT"))[0].tag == "ROLLBACK"
        assert s.txn_status == "I"
    run(scenario)


def test_unsupported_is_0A000_and_session_survives(run):
    async def scenario(c):
        s = c.session()
        for stmt in ("TRUNCATE t", "CREATE TEMP TABLE x (a int)", "SAVEPOINT a",
                     "CREATE TABLE s (id serial primary key)"):
            with pytest.raises(DsqlError) as e:
                await sql(s, stmt)
            assert e.value.sqlstate == "0A000", stmt
        assert (await sql(s, "SELECT 1 + 1"))[0].rows == [(2,)]
    run(scenario)
