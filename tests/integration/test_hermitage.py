"""Hermitage (github.com/ept/hermitage) over the wire, PostgreSQL "repeatable read" column,
adapted to Aurora DSQL's optimistic concurrency.

Every case runs on the classic table ``test (id int primary key, value int)`` holding
(1, 10), (2, 20), with several psycopg sessions interleaving statements inside explicit
BEGIN … COMMIT blocks, in the order of the Hermitage script. Where PostgreSQL would block
on a row lock, DSQL lets the statement proceed and the second committer fails at COMMIT
with SQLSTATE 40001 "(OC000)". Nothing ever waits for a lock: the module timeout turns a
blocking implementation into a failure instead of a hang.

Expected outcomes (snapshot isolation): G0, G1a, G1b, G1c, OTV, PMP, P4 and G-single are
prevented; G2-item (write skew) and G2 are allowed.
"""
from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from psycopg.pq import TransactionStatus

pytestmark = pytest.mark.timeout(60)

INITIAL = [(1, 10), (2, 20)]


class Txn:
    """One client session of a Hermitage script. SQL is written against the table name
    ``test`` exactly as in Hermitage; it is rewritten to this test's own table."""

    def __init__(self, conn: psycopg.Connection, table: str, name: str):
        self.conn, self.table, self.name = conn, table, name

    def sql(self, text: str) -> str:
        return re.sub(r"\btest\b", self.table, text)

    def begin(self) -> None:
        assert self.conn.execute("BEGIN").statusmessage == "BEGIN"
        assert self.conn.info.transaction_status == TransactionStatus.INTRANS

    def q(self, text: str) -> list[tuple]:
        """A query; its rows, sorted (row order is not what Hermitage checks)."""
        return sorted(self.conn.execute(self.sql(text)).fetchall())

    def x(self, text: str) -> int:
        """A write; its row count."""
        return self.conn.execute(self.sql(text)).rowcount

    def commit(self) -> None:
        assert self.conn.execute("COMMIT").statusmessage == "COMMIT", f"{self.name} COMMIT"
        assert self.conn.info.transaction_status == TransactionStatus.IDLE

    def rollback(self) -> None:
        assert self.conn.execute("ROLLBACK").statusmessage == "ROLLBACK"
        assert self.conn.info.transaction_status == TransactionStatus.IDLE

    def commit_fails(self) -> psycopg.Error:
        """COMMIT is refused as a serialization failure, and the transaction is over."""
        with pytest.raises(psycopg.Error) as err:
            self.conn.execute("COMMIT")
        assert err.value.sqlstate == "40001", f"{self.name}: {err.value.sqlstate} {err.value}"
        assert "(OC000)" in err.value.diag.message_primary, err.value.diag.message_primary
        assert self.conn.info.transaction_status == TransactionStatus.IDLE
        return err.value


class Hermitage:
    def __init__(self, cluster):
        self.cluster = cluster
        self.table = f"hermitage_{uuid.uuid4().hex[:10]}"
        self.conns: list[psycopg.Connection] = []
        with cluster.connect() as c:
            c.execute(f"CREATE TABLE {self.table} (id int primary key, value int)")
            c.execute(f"INSERT INTO {self.table} (id, value) VALUES (1, 10), (2, 20)")

    def open(self, n: int) -> list[Txn]:
        txns = []
        for _ in range(n):
            conn = self.cluster.connect()
            self.conns.append(conn)
            txns.append(Txn(conn, self.table, f"T{len(self.conns)}"))
        return txns

    def committed(self) -> list[tuple]:
        """The committed state, read by a fresh session outside any transaction."""
        with self.cluster.connect() as c:
            return sorted(c.execute(f"SELECT * FROM {self.table}").fetchall())

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


@pytest.fixture
def h(cluster):
    hermitage = Hermitage(cluster)
    assert hermitage.committed() == INITIAL
    yield hermitage
    hermitage.close()


def open_pair(h: Hermitage) -> tuple[Txn, Txn]:
    t1, t2 = h.open(2)
    return t1, t2


# -- G0: write cycles -------------------------------------------------------------------

def test_g0_write_cycles_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t2.x("update test set value = 12 where id = 1") == 1   # PG blocks; DSQL does not
    assert t1.x("update test set value = 21 where id = 2") == 1
    t1.commit()
    assert t2.x("update test set value = 22 where id = 2") == 1
    t2.commit_fails()
    assert h.committed() == [(1, 11), (2, 21)]


# -- G1: aborted, intermediate reads and circular information flow ----------------------

def test_g1a_aborted_reads_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 101 where id = 1") == 1
    assert t1.q("select * from test") == [(1, 101), (2, 20)]   # reads its own write
    assert t2.q("select * from test") == INITIAL
    t1.rollback()
    assert t2.q("select * from test") == INITIAL
    t2.commit()
    assert h.committed() == INITIAL


def test_g1b_intermediate_reads_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 101 where id = 1") == 1
    assert t2.q("select * from test") == INITIAL
    assert t1.x("update test set value = 11 where id = 1") == 1
    t1.commit()
    assert t2.q("select * from test") == INITIAL   # neither 101 nor, in its snapshot, 11
    t2.commit()
    assert h.committed() == [(1, 11), (2, 20)]


def test_g1c_circular_information_flow_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t2.x("update test set value = 22 where id = 2") == 1
    assert t1.q("select * from test where id = 2") == [(2, 20)]
    assert t2.q("select * from test where id = 1") == [(1, 10)]
    t1.commit()
    t2.commit()
    assert h.committed() == [(1, 11), (2, 22)]


# -- OTV: observed transaction vanishes -------------------------------------------------

def test_otv_observed_transaction_vanishes_prevented(h):
    t1, t2, t3 = h.open(3)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t1.x("update test set value = 19 where id = 2") == 1
    assert t2.x("update test set value = 12 where id = 1") == 1   # PG blocks; DSQL does not
    t1.commit()
    t3.begin()   # PostgreSQL takes T3's snapshot at its first read, i.e. here
    assert t3.q("select * from test") == [(1, 11), (2, 19)]
    assert t2.x("update test set value = 18 where id = 2") == 1
    assert t3.q("select * from test") == [(1, 11), (2, 19)]
    t2.commit_fails()
    assert t3.q("select * from test") == [(1, 11), (2, 19)]
    t3.commit()
    assert h.committed() == [(1, 11), (2, 19)]


# -- PMP: predicate-many-preceders ------------------------------------------------------

def test_pmp_read_predicates_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where value = 30") == []
    assert t2.x("insert into test (id, value) values (3, 30)") == 1
    t2.commit()
    assert t1.q("select * from test where value % 3 = 0") == []
    assert t1.q("select * from test where value = 30") == []
    t1.commit()
    assert h.committed() == [(1, 10), (2, 20), (3, 30)]


def test_pmp_write_predicates_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = value + 10") == 2
    assert t2.x("delete from test where value = 20") == 1   # PG blocks; DSQL does not
    t1.commit()
    t2.commit_fails()
    assert h.committed() == [(1, 20), (2, 30)]


# -- P4: lost update --------------------------------------------------------------------

def test_p4_lost_update_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1") == [(1, 10)]
    assert t2.q("select * from test where id = 1") == [(1, 10)]
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t2.x("update test set value = 11 where id = 1") == 1   # PG blocks; DSQL does not
    t1.commit()
    err = t2.commit_fails()
    assert "OC000" in str(err)
    assert h.committed() == [(1, 11), (2, 20)]


def test_p4_lost_increment_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = value + 1 where id = 1") == 1
    assert t2.x("update test set value = value + 1 where id = 1") == 1
    assert t2.q("select * from test where id = 1") == [(1, 11)]
    t1.commit()
    t2.commit_fails()
    assert h.committed() == [(1, 11), (2, 20)]


# -- G-single: single anti-dependency cycles (read skew) -------------------------------

def test_g_single_read_skew_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1") == [(1, 10)]
    assert t2.q("select * from test where id = 1") == [(1, 10)]
    assert t2.q("select * from test where id = 2") == [(2, 20)]
    assert t2.x("update test set value = 12 where id = 1") == 1
    assert t2.x("update test set value = 18 where id = 2") == 1
    t2.commit()
    assert t1.q("select * from test where id = 2") == [(2, 20)]   # not 18: no read skew
    t1.commit()
    assert h.committed() == [(1, 12), (2, 18)]


def test_g_single_predicate_dependencies_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where value % 5 = 0") == INITIAL
    assert t2.x("update test set value = 12 where value = 10") == 1
    t2.commit()
    assert t1.q("select * from test where value % 3 = 0") == []   # does not see 12
    t1.commit()
    assert h.committed() == [(1, 12), (2, 20)]


def test_g_single_write_predicate_prevented(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1") == [(1, 10)]
    assert t2.q("select * from test") == INITIAL
    assert t2.x("update test set value = 12 where id = 1") == 1
    assert t2.x("update test set value = 18 where id = 2") == 1
    t2.commit()
    # PostgreSQL fails the DELETE at once; DSQL runs it on T1's snapshot (row 2 is still
    # 20 there) and fails the COMMIT.
    assert t1.x("delete from test where value = 20") == 1
    t1.commit_fails()
    assert h.committed() == [(1, 12), (2, 18)]


def test_g_single_write_predicate_with_rollback(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1") == [(1, 10)]
    assert t2.q("select * from test") == INITIAL
    assert t2.x("update test set value = 12 where id = 1") == 1
    assert t1.x("delete from test where value = 20") == 1
    assert t2.x("update test set value = 18 where id = 2") == 1   # PG blocks; DSQL does not
    t1.rollback()
    t2.commit()
    assert h.committed() == [(1, 12), (2, 18)]


# -- G2: anti-dependency cycles (allowed under snapshot isolation) ----------------------

def test_g2_item_write_skew_allowed(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id in (1, 2)") == INITIAL
    assert t2.q("select * from test where id in (1, 2)") == INITIAL
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t2.x("update test set value = 21 where id = 2") == 1
    t1.commit()
    t2.commit()
    assert h.committed() == [(1, 11), (2, 21)]


def test_g2_predicate_anti_dependency_cycle_allowed(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where value % 3 = 0") == []
    assert t2.q("select * from test where value % 3 = 0") == []
    assert t1.x("insert into test (id, value) values (3, 30)") == 1
    assert t2.x("insert into test (id, value) values (4, 42)") == 1
    t1.commit()
    t2.commit()
    assert h.committed() == [(1, 10), (2, 20), (3, 30), (4, 42)]


def test_g2_two_anti_dependency_edges_allowed(h):
    t1, t2, t3 = h.open(3)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test") == INITIAL
    assert t2.x("update test set value = value + 5 where id = 2") == 1
    t2.commit()
    t3.begin()
    assert t3.q("select * from test") == [(1, 10), (2, 25)]
    t3.commit()
    assert t1.x("update test set value = 0 where id = 1") == 1
    t1.commit()
    assert h.committed() == [(1, 0), (2, 25)]


# -- SELECT … FOR UPDATE: the read rows join the conflict check -------------------------

def test_for_update_read_only_locker_loses_to_committed_writer(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1 for update") == [(1, 10)]
    assert t2.x("update test set value = 11 where id = 1") == 1   # PG blocks; DSQL does not
    t2.commit()
    t1.commit_fails()   # T1 wrote nothing, but it locked row 1
    assert h.committed() == [(1, 11), (2, 20)]


def test_for_update_locker_writing_another_row_loses_to_committed_writer(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1 for update") == [(1, 10)]
    assert t2.x("update test set value = 11 where id = 1") == 1
    t2.commit()
    assert t1.x("update test set value = 21 where id = 2") == 1
    t1.commit_fails()
    assert h.committed() == [(1, 11), (2, 20)]


def test_for_update_committed_locker_fails_concurrent_writer(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1 for update") == [(1, 10)]
    assert t2.x("update test set value = 11 where id = 1") == 1
    t1.commit()
    t2.commit_fails()   # row 1 counts as written by T1
    assert h.committed() == INITIAL


def test_plain_select_does_not_join_the_conflict_check(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.q("select * from test where id = 1") == [(1, 10)]
    assert t1.x("update test set value = 21 where id = 2") == 1
    assert t2.x("update test set value = 11 where id = 1") == 1
    t2.commit()
    t1.commit()   # read of row 1 without FOR UPDATE: no conflict
    assert h.committed() == [(1, 11), (2, 21)]


# -- the session after a failed transaction ---------------------------------------------

def test_after_failed_commit_session_is_usable_and_transaction_is_gone(h):
    t1, t2 = open_pair(h)
    t1.begin()
    t2.begin()
    assert t1.x("update test set value = 11 where id = 1") == 1
    assert t2.x("update test set value = 12 where id = 1") == 1
    assert t2.x("insert into test (id, value) values (3, 30)") == 1
    t1.commit()
    t2.commit_fails()
    # Outside any transaction now: a new statement sees the latest committed data and
    # none of the failed transaction's writes.
    assert t2.q("select * from test") == [(1, 11), (2, 20)]
    assert t2.conn.info.transaction_status == TransactionStatus.IDLE
    # The retry, in a new transaction, succeeds.
    t2.begin()
    assert t2.q("select * from test where id = 1") == [(1, 11)]
    assert t2.x("update test set value = 12 where id = 1") == 1
    t2.commit()
    assert h.committed() == [(1, 12), (2, 20)]


@pytest.mark.parametrize("bad_statement, sqlstate", [
    ("select value / 0 from test where id = 1", "22012"),
    ("select * from test_no_such_table", "42P01"),
])
def test_error_in_transaction_block_aborts_it(h, bad_statement, sqlstate):
    (t1,) = h.open(1)
    t1.begin()
    assert t1.x("update test set value = 11 where id = 1") == 1
    with pytest.raises(psycopg.Error) as err:
        t1.q(bad_statement)
    assert err.value.sqlstate == sqlstate
    assert t1.conn.info.transaction_status == TransactionStatus.INERROR
    for statement in ("select * from test", "update test set value = 12 where id = 2",
                      "select 1"):
        with pytest.raises(psycopg.Error) as err:
            t1.q(statement)
        assert err.value.sqlstate == "25P02", statement
    cur = t1.conn.execute("COMMIT")
    assert cur.statusmessage == "ROLLBACK"
    assert t1.conn.info.transaction_status == TransactionStatus.IDLE
    assert t1.q("select * from test") == INITIAL   # the update before the error is gone
    assert h.committed() == INITIAL
