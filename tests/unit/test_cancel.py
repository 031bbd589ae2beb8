"""Cancel reaches a statement wherever it is: waiting on storage, or in the key-aware
path's row loops (the query engine's checkpoints are tested in test_relay_limits.py).

Sessions here are wrapped exactly as compute serves them (service._Backend with the
session's _SessionControl), on the in-process cluster."""
import asyncio
import threading
import time

import pytest

from dsql_ray.compute import service
from dsql_ray.compute.interrupt import Interrupter, QueryCanceled, interruptible
from dsql_ray.compute.plan.engine import QueryPlan
from dsql_ray.errors import DsqlError

from .conftest import sql


def served(cluster):
    """A session as compute serves it: (backend, its cancel control)."""
    session = cluster.session()
    ctl = service._SessionControl(1, 2, asyncio.current_task())
    session.interrupt = ctl.check
    return service._Backend(session, ctl), ctl


def cancel_from_another_thread(ctl, after: float) -> threading.Thread:
    """As the prelude / hand-off threads deliver a CancelRequest."""
    t = threading.Thread(target=lambda: (time.sleep(after), ctl.request_cancel()))
    t.start()
    return t


async def setup_table(backend, rows: int):
    await sql(backend, "CREATE TABLE t (id int PRIMARY KEY, v int)")
    await sql(backend, "INSERT INTO t VALUES "
              + ", ".join(f"({i}, {i})" for i in range(rows)))


def test_cancel_abandons_a_read_waiting_on_storage(run):
    """With an adjudicator down, storage cannot become complete at a new snapshot and
    a read waits (up to 5 s, then 'retry'); a cancel ends the wait at once."""
    async def scenario(c):
        backend, ctl = served(c)
        await setup_table(backend, 10)
        c.crash("adjudicator-1")
        t = cancel_from_another_thread(ctl, 0.3)
        start = time.monotonic()
        with pytest.raises(QueryCanceled) as info:
            await sql(backend, "SELECT * FROM t WHERE id = 3")
        took = time.monotonic() - start
        await asyncio.to_thread(t.join)
        assert info.value.sqlstate == "57014"
        assert info.value.message == "canceling statement due to user request"
        assert took < 1.5, f"the cancel took {took:.2f}s"
        assert asyncio.current_task().cancelling() == 0     # no cancel left pending
        # the engine path waits the same way
        t = cancel_from_another_thread(ctl, 0.3)
        start = time.monotonic()
        with pytest.raises(QueryCanceled):
            await sql(backend, "SELECT count(*) FROM t a JOIN t b ON a.v = b.v")
        assert time.monotonic() - start < 1.5
        await asyncio.to_thread(t.join)
        # the session is usable, and the next statement is not hit by the old cancel
        await c.restart("adjudicator-1")
        assert (await sql(backend, "SELECT v FROM t WHERE id = 3"))[0].rows == [(3,)]
    run(scenario)


def test_cancel_in_an_explicit_transaction_aborts_it(run):
    async def scenario(c):
        backend, ctl = served(c)
        await setup_table(backend, 10)
        await sql(backend, "BEGIN")
        c.crash("adjudicator-1")          # before the transaction's first read
        t = cancel_from_another_thread(ctl, 0.2)
        with pytest.raises(QueryCanceled):
            await sql(backend, "SELECT * FROM t WHERE id = 3")
        await asyncio.to_thread(t.join)
        assert backend.txn_status == "E"
        with pytest.raises(DsqlError) as info:
            await sql(backend, "SELECT 1")
        assert info.value.sqlstate == "25P02"
        assert (await sql(backend, "COMMIT"))[0].tag == "ROLLBACK"
        await c.restart("adjudicator-1")
        assert (await sql(backend, "SELECT count(*) FROM t"))[0].rows == [(10,)]
    run(scenario)


def cancel_when_rows_arrive(backend, ctl):
    """Deliver a cancel just as the statement's storage read returns: the rows are
    there, the statement is in its row loop when it must notice."""
    node = backend.node
    real_scan = node.scan

    async def scan(*args):
        rows = await real_scan(*args)
        node.scan = real_scan
        ctl.request_cancel()
        return rows
    node.scan = scan


@pytest.mark.parametrize("statement", [
    "SELECT * FROM t WHERE v % 7 = 3",              # residual filter
    "SELECT id * 2, v FROM t",                      # projection
    "UPDATE t SET v = v + 1 WHERE v % 7 = 3",       # (a residual filter again: the
    "DELETE FROM t WHERE v % 7 = 3",                # DML loops are bounded by 3,000 rows)
])
def test_cancel_stops_the_key_aware_row_loops(run, statement):
    async def scenario(c):
        backend, ctl = served(c)
        await setup_table(backend, 2000)
        cancel_when_rows_arrive(backend, ctl)
        with pytest.raises(QueryCanceled):
            await sql(backend, statement)
        plans = [p for key, p in backend.node.plans.items() if key[0] == statement]
        assert plans and not any(isinstance(p, QueryPlan) for p in plans)  # key-aware
        result = (await sql(backend, "SELECT count(*), sum(v) FROM t"))[0].rows
        assert result == [(2000, sum(range(2000)))]             # nothing changed
        await sql(backend, statement)                           # the session is usable
    run(scenario)


def test_a_cancel_only_hits_the_statement_it_was_sent_for():
    async def main():
        ctl = Interrupter()
        assert not ctl.request_cancel()             # idle: ignored
        with ctl.statement():
            ctl.check()                             # no cancel
        with ctl.statement():
            assert ctl.request_cancel()
        await asyncio.sleep(0)                      # the wake-up finds nothing running
        with ctl.statement():
            ctl.check()                             # a late cancel does not carry over
            assert await interruptible(asyncio.sleep(0, "read")) == "read"
        with ctl.statement():
            ctl.request_cancel()
            with pytest.raises(QueryCanceled):
                ctl.check()
            ctl.check()                             # raised once only
    asyncio.run(main())


def test_a_session_ending_during_a_read_is_not_mistaken_for_a_cancel():
    async def main():
        ctl = Interrupter()
        started = asyncio.Event()

        async def statement():
            with ctl.statement():
                started.set()
                await interruptible(asyncio.sleep(10))
        task = asyncio.ensure_future(statement())
        await started.wait()
        task.cancel()                               # the session's task is torn down
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
