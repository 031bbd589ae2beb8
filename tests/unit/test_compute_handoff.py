"""The relay and a compute service, for real but without Ray: the relay's accept loop
and admission, the fd hand-off, compute's prelude and sessions over the in-process
cluster; psycopg as the client (plaintext: TLS is covered by the integration tests)."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import psycopg
import pytest

from dsql_ray.compute import service
from dsql_ray.relay.relay import AdmissionLimits

from .wire import FrontEnd

async def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_cancel_request_stops_a_read_waiting_on_storage(run):
    """psycopg's cancel (a CancelRequest on a new connection, read by compute's prelude
    thread) ends a statement that waits on storage, at once; the session goes on."""
    async def scenario(c):
        front = FrontEnd(c, "cancelwait")
        try:
            conn = await asyncio.to_thread(front.connect)
            await asyncio.to_thread(conn.execute,
                                    "CREATE TABLE t (id int PRIMARY KEY, v int)")
            await asyncio.to_thread(conn.execute, "INSERT INTO t VALUES (1, 10), (2, 20)")
            c.crash("adjudicator-1")        # storage cannot complete a new snapshot

            def cancelled_query():
                # (cancel_safe: plain cancel() holds the GIL while it waits for the
                # server, which lives in this very process here)
                timer = threading.Timer(0.3, conn.cancel_safe)
                timer.start()
                start = time.monotonic()
                try:
                    conn.execute("SELECT v FROM t WHERE id = 2")
                except psycopg.errors.QueryCanceled as exc:
                    return exc, time.monotonic() - start
                finally:
                    timer.join()
                return None, time.monotonic() - start
            error, took = await asyncio.to_thread(cancelled_query)
            assert error is not None and error.sqlstate == "57014", took
            assert "canceling statement due to user request" in str(error)
            assert took < 1.5, f"the cancel took {took:.2f}s"
            await c.restart("adjudicator-1")
            cur = await asyncio.to_thread(conn.execute, "SELECT v FROM t WHERE id = 2")
            assert cur.fetchone() == (20,)
            assert front.compute.cancels["applied"] == 1
            await asyncio.to_thread(conn.close)
            await wait_until(lambda: front.relay.open_connections == 0, 5)
        finally:
            front.stop()
    run(scenario)


def test_refused_before_authentication_and_counted_right(run):
    async def scenario(c):
        front = FrontEnd(c, "refuse", AdmissionLimits(max_connections=1, rate=100,
                                                      burst=100))
        try:
            first = await asyncio.to_thread(front.connect)
            with pytest.raises(psycopg.OperationalError) as info:
                await asyncio.to_thread(front.connect)
            assert "too many open connections" in str(info.value)
            assert front.relay.refused["53300"] == 1
            await asyncio.to_thread(first.close)
            await wait_until(lambda: front.relay.open_connections == 0, 5)
            again = await asyncio.to_thread(front.connect)
            assert (await asyncio.to_thread(again.execute, "SELECT 1")).fetchone() == (1,)
            await asyncio.to_thread(again.close)
        finally:
            front.stop()
    run(scenario)


def test_a_silent_connection_is_closed_after_the_startup_time(run, monkeypatch):
    """Nothing sent after connecting: closed once the startup time is over (as
    PostgreSQL's authentication_timeout), and no longer counted open."""
    monkeypatch.setattr(service, "STARTUP_TIMEOUT_S", 1.0)

    async def scenario(c):
        front = FrontEnd(c, "silent")
        try:
            def silent() -> float:
                with socket.create_connection(("127.0.0.1", front.port), timeout=10) as s:
                    start = time.monotonic()
                    assert s.recv(100) == b""        # closed by the server
                    return time.monotonic() - start
            took = await asyncio.to_thread(silent)
            assert 0.8 < took < 3, took
            await wait_until(lambda: front.relay.open_connections == 0, 5)
        finally:
            front.stop()
    run(scenario)
