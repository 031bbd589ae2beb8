"""Transaction rules on the in-process cluster: limits, read-only transactions, MVCC."""
import asyncio
import time

import pytest

from dsql_ray.errors import DsqlError
from dsql_ray.journal.records import CommitRecord
from dsql_ray.storage.mvcc import MvccStore

from .conftest import sql


def test_row_limit_is_3000_rows_per_transaction(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key)")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES " + ", ".join(f"({i})" for i in range(3000)))
        with pytest.raises(DsqlError) as e:
            await sql(s, "INSERT INTO t VALUES (3000)")
        assert e.value.sqlstate == "54000" and "transaction row limit exceeded" in e.value.message
        assert (await sql(s, "COMMIT"))[0].tag == "ROLLBACK"
        assert (await sql(s, "SELECT * FROM t WHERE id = 1"))[0].rows == []
        await sql(s, "INSERT INTO t VALUES " + ", ".join(f"({i})" for i in range(3000)))
        assert len((await sql(s, "SELECT * FROM t"))[0].rows) == 3000
    run(scenario)


def test_size_limit_is_10_mib_per_transaction(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v text)")
        await sql(s, "BEGIN")
        blob = "x" * (1024 * 1024)
        with pytest.raises(DsqlError) as e:
            for i in range(11):
                await sql(s, f"INSERT INTO t VALUES ({i}, '{blob}')")
        assert e.value.sqlstate == "54000" and "10mb" in e.value.message
        await sql(s, "ROLLBACK")
    run(scenario)


def test_transaction_age_limit_is_300_s(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key)")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (1)")
        s.txn.started = time.monotonic() - 301          # as if BEGIN was 301 s ago
        with pytest.raises(DsqlError) as e:
            await sql(s, "COMMIT")
        assert e.value.sqlstate == "54000" and "300s" in e.value.message
        assert (await sql(s, "SELECT * FROM t"))[0].rows == []
    run(scenario)


async def replicated(c) -> None:
    while any(r.last_seq < a.last_seq for j in c.journals.values()
              for r, a in zip(j.replicas, c.adjudicators)):
        await asyncio.sleep(0.01)      # the third replica lands after the quorum ack


def test_read_only_transactions_touch_neither_adjudicator_nor_journal(run):
    """No commit, and no journal record but the lease caps that storage's completeness
    leases (adjudicator.py) journal once per cap period, whoever reads."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")
        await replicated(c)
        seqs, commits = [a.last_seq for a in c.adjudicators], [a.commits for a in c.adjudicators]
        for _ in range(5):
            await sql(s, "BEGIN")
            await sql(s, "SELECT * FROM t WHERE id = 1")
            await sql(s, "SELECT * FROM t")
            await sql(s, "COMMIT")
            await sql(s, "SELECT v FROM t WHERE id = 1")
        assert [a.commits for a in c.adjudicators] == commits
        for a, seq in zip(c.adjudicators, seqs):
            added = [CommitRecord.decode(p) for _, _, p in
                     await a.records_from(seq + 1, exclude=-1)] if a.last_seq > seq else []
            assert all(r.note[0] == "cap" and not r.writes for r in added), added
        await replicated(c)
        assert all(r.last_seq == a.last_seq for j in c.journals.values()
                   for r, a in zip(j.replicas, c.adjudicators))
    run(scenario)


def test_snapshot_is_taken_at_begin_and_writes_are_invisible_until_commit(run):
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, "CREATE TABLE t (id int primary key, v int)")
        await sql(a, "INSERT INTO t VALUES (1, 1)")
        await sql(a, "BEGIN")
        await sql(b, "UPDATE t SET v = 2 WHERE id = 1")           # commits after a's BEGIN
        assert (await sql(a, "SELECT v FROM t WHERE id = 1"))[0].rows == [(1,)]
        await sql(b, "BEGIN")
        await sql(b, "UPDATE t SET v = 3 WHERE id = 1")
        assert (await sql(c.session(), "SELECT v FROM t"))[0].rows == [(2,)]
        await sql(b, "COMMIT")
        assert (await sql(a, "SELECT v FROM t"))[0].rows == [(1,)]
        await sql(a, "COMMIT")
        assert (await sql(a, "SELECT v FROM t"))[0].rows == [(3,)]
    run(scenario)


def test_mvcc_reads_as_of_a_timestamp_and_gc_keeps_what_snapshots_can_see():
    store = MvccStore()
    store.apply(10, [(b"a", ("v1",)), (b"b", ("b1",))])
    store.apply(20, [(b"a", ("v2",)), (b"b", None)])
    store.apply(30, [(b"a", ("v3",))])
    assert [store.get(b"a", ts) for ts in (5, 10, 25, 30)] == [None, ("v1",), ("v2",), ("v3",)]
    assert list(store.scan(b"", None, 15)) == [(b"a", ("v1",)), (b"b", ("b1",))]
    assert list(store.scan(b"", None, 25)) == [(b"a", ("v2",))]
    freed = store.gc(25)           # no snapshot older than 25 remains
    assert freed == 3              # a@10, b@10 and b's tombstone
    assert store.get(b"a", 25) == ("v2",) and store.get(b"a", 30) == ("v3",)
    assert store.get(b"b", 25) is None and len(store) == 1
    with pytest.raises(AssertionError):
        store.apply(29, [(b"c", ("late",))])   # commits arrive in timestamp order
