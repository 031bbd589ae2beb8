"""A long engine statement computes off compute's event loop (compute/query/threads.py):
the other sessions of the same compute keep being served while it runs, and a cancel
still stops it (57014), leaving its session usable.

Real parts: the in-process cluster behind the relay's accept loop and compute's wire
front end (tests/unit/wire.py), psycopg as the client, both sessions on one compute."""
import asyncio
import threading
import time

import psycopg
import pytest
from pglast import parse_sql

from dsql_ray.compute.query import EngineConfig, prepare_select, threads
from dsql_ray.compute.query.runtime import Abandoned, RunState
from dsql_ray.testing.memory import MemorySource

from .conftest import sql
from .wire import FrontEnd

#: a nested-loop join of generate_series: seconds of engine work, little memory
LONG = ("SELECT count(*) FROM generate_series(1, 2000) a "
        "JOIN generate_series(1, 2000) b ON a + b = 7")
POINTS = 3
RUNNING_WAIT_S = 30     # bound on waiting for the long statement to reach compute


def wait_running(front: FrontEnd, conn: psycopg.Connection) -> None:
    """Until compute is running a statement of ``conn``'s session (its cancel point)."""
    ctl = front.compute._sessions[conn.info.backend_pid]
    deadline = time.monotonic() + RUNNING_WAIT_S
    while not ctl.running:
        assert time.monotonic() < deadline, "the long statement never started"
        time.sleep(0.01)


def start(target) -> threading.Thread:
    t = threading.Thread(target=target)
    t.start()
    return t


def stall_and_cancel(front: FrontEnd) -> None:
    with front.connect() as a, front.connect() as b:
        b.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        b.execute("INSERT INTO t VALUES " + ", ".join(f"({i}, {i})" for i in range(10)))
        events: list[str] = []
        worker = start(lambda: (a.execute(LONG).fetchall(), events.append("long done")))
        wait_running(front, a)
        for i in range(POINTS):
            assert b.execute("SELECT v FROM t WHERE id = %s", (i,)).fetchall() == [(i,)]
            events.append("point")
        worker.join()
        # the point selects were answered while the long statement was still computing
        assert events == ["point"] * POINTS + ["long done"]
        assert a.execute(LONG).fetchall() == [(6,)]

        errors: list[Exception] = []

        def canceled():
            try:
                a.execute(LONG)
            except psycopg.Error as exc:
                errors.append(exc)
        worker = start(canceled)
        wait_running(front, a)
        a.cancel_safe(timeout=10)     # plain cancel() holds the GIL while it waits
        worker.join()
        assert [e.sqlstate for e in errors] == ["57014"]
        assert a.execute("SELECT v FROM t WHERE id = 3").fetchall() == [(3,)]


def test_a_long_query_leaves_other_sessions_served_and_stays_cancelable(run):
    async def scenario(c):
        front = FrontEnd(c, "engine-threads")
        try:
            await asyncio.to_thread(stall_and_cancel, front)
        finally:
            front.stop()
    run(scenario)


def test_small_statements_compute_inline_and_generators_do_not():
    assert threads.runs_inline(threads.INLINE_MAX_ROWS, generates=False)
    assert not threads.runs_inline(threads.INLINE_MAX_ROWS + 1, generates=False)
    assert not threads.runs_inline(0, generates=True)


@pytest.mark.parametrize("sql, generates", [
    ("SELECT 1", False),
    ("SELECT * FROM generate_series(1, 3)", True),
    ("SELECT (SELECT max(x) FROM unnest(ARRAY[1, 2]) x)", True),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
     "SELECT * FROM r", True),
    ("SELECT * FROM upper('a')", False),
])
def test_the_planner_marks_statements_that_generate_rows(sql, generates):
    prepared = prepare_select(parse_sql(sql)[0].stmt, MemorySource())
    assert prepared.generates is generates


def test_a_statement_nobody_awaits_any_more_stops_at_its_next_checkpoint():
    """A session that ends while its statement computes in a worker: the worker stops."""
    async def main():
        run = RunState(EngineConfig(), {})
        started, stopped = threading.Event(), threading.Event()
        how: list[str] = []

        def work():
            started.set()
            try:
                while True:
                    run.checkpoint()
            except Abandoned:
                how.append("abandoned")
                stopped.set()
        task = asyncio.ensure_future(threads.compute(work, run, inline=False))
        assert await asyncio.to_thread(started.wait, RUNNING_WAIT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(stopped.wait, RUNNING_WAIT_S)
        assert how == ["abandoned"]
    asyncio.run(main())


def test_sequence_values_taken_in_a_worker_thread(run):
    """nextval in a statement that computes in a worker (it generates rows) takes the
    session's values as on the loop: distinct, in order, currval after it."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE SEQUENCE s CACHE 65536")
        rows = (await sql(s, "SELECT nextval('s') FROM generate_series(1, 5000)"))[0].rows
        assert [r[0] for r in rows] == list(range(1, 5001))
        assert (await sql(s, "SELECT currval('s')"))[0].rows == [(5000,)]
        other = c.session()
        assert (await sql(other, "SELECT nextval('s')"))[0].rows[0][0] > 5000
    run(scenario)
