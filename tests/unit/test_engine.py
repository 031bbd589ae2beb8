"""The SQL path through every role, in one process: compute → adjudicator → journal → storage."""
import asyncio

import pytest

from dsql_ray.errors import DsqlError

from .conftest import cluster_runner, sql


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


@pytest.fixture
def run_split(tmp_path):
    """Three adjudicators: the catalog, and table 1 split at id 50."""
    from dsql_ray.config import ClusterConfig
    from dsql_ray.keys import encode_key, table_prefix
    cfg = ClusterConfig(data_dir=tmp_path, shard_splits=[
        table_prefix(1).hex(), (table_prefix(1) + encode_key((50,))).hex()])
    go, close = cluster_runner(tmp_path, cfg)
    yield go
    close()


def test_commit_spanning_adjudicators_is_atomic_and_conflict_checked(run_split):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE acct (id int primary key, bal int)")
        await sql(s, "INSERT INTO acct VALUES (10, 100), (60, 100)")   # spans two ranges
        owners = {c.adjudicators[i].commits for i in (1, 2)}
        assert c.adjudicators[1].commits == 1 and c.adjudicators[2].commits == 0, owners
        a, b = c.session(), c.session()
        await sql(a, "BEGIN")
        await sql(b, "BEGIN")
        await sql(a, "UPDATE acct SET bal = bal - 30 WHERE id = 10")
        await sql(a, "UPDATE acct SET bal = bal + 30 WHERE id = 60")
        await sql(b, "UPDATE acct SET bal = bal + 1 WHERE id = 60")      # only range 2
        await sql(a, "COMMIT")
        with pytest.raises(DsqlError) as e:
            await sql(b, "COMMIT")
        assert e.value.sqlstate == "40001"
        rows = (await sql(c.session(), "SELECT id, bal FROM acct"))[0].rows
        assert rows == [(10, 70), (60, 130)]
        # every replica of each shard converges on the same rows
        for (shard, zone), store in c.storage.items():
            if shard == 0:
                continue
            await store.wait_complete(c.node.clock.now())
        assert not any(a._held for a in c.adjudicators)
    run_split(scenario)


def test_concurrent_spanning_transfers_keep_the_total(run_split):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE acct (id int primary key, bal int)")
        ids = [5, 15, 25, 55, 65, 75]
        await sql(s, "INSERT INTO acct VALUES " + ", ".join(f"({i}, 100)" for i in ids))
        import random
        rnd = random.Random(7)

        async def transfer(n):
            sess = c.session()
            done = 0
            for _ in range(n):
                src, dst = rnd.sample(ids, 2)
                try:
                    await sql(sess, "BEGIN")
                    await sql(sess, f"UPDATE acct SET bal = bal - 1 WHERE id = {src}")
                    await sql(sess, f"UPDATE acct SET bal = bal + 1 WHERE id = {dst}")
                    await sql(sess, "COMMIT")
                    done += 1
                except DsqlError as exc:
                    assert exc.sqlstate == "40001", exc
                    await sql(sess, "ROLLBACK")
            return done
        done = await asyncio.gather(*(transfer(40) for _ in range(6)))
        assert sum(done) > 0
        rows = (await sql(c.session(), "SELECT bal FROM acct"))[0].rows
        assert sum(r[0] for r in rows) == 600
    run_split(scenario)
