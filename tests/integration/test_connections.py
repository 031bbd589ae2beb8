"""Connections as DSQL manages them: cancel, admission limits, age, compute failure."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from dsql_ray.transport.handoff import compute_index

from . import rawpg
from .conftest import LocalCluster, free_port

pytestmark = pytest.mark.timeout(600)

HEAVY = ("SELECT count(*) FROM conn_t a JOIN conn_t b ON true "
         "JOIN conn_t c ON a.v + b.v + c.v < 0")          # ~4 s of engine work, no rows
MAX, RATE, BURST, AGE = 5, 5, 5, 8


LIMIT_FLAGS = ("--max-connections", str(MAX), "--connection-rate", str(RATE),
               "--connection-burst", str(BURST), "--max-connection-age", str(AGE))


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("limited"), free_port(), "pytestlimits",
                     up_args=LIMIT_FLAGS)
    c.up()
    yield c
    c.down()


@pytest.fixture(scope="module")
def heavy_table(cluster):
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS conn_t (id bigint PRIMARY KEY, v int)")
        if conn.execute("SELECT count(*) FROM conn_t").fetchone()[0] == 0:
            values = ", ".join(f"({i}, {i})" for i in range(200))
            conn.execute(f"INSERT INTO conn_t VALUES {values}")
    return cluster


def owner(conn: psycopg.Connection) -> int:
    return compute_index(conn.info.backend_pid)


def cancel_soon(conn: psycopg.Connection, after: float = 0.7) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(after), conn.cancel()))
    t.start()
    return t


# -- cancel ----------------------------------------------------------------------------

def test_cancel_stops_only_the_running_statement(heavy_table):
    c = heavy_table
    conns = [c.connect() for _ in range(4)]
    try:
        # the cancel's own connection lands on either compute: try enough times that
        # both the local and the forwarded path are taken
        owners = {owner(conn) for conn in conns}
        assert owners == {0, 1}, owners
        for conn in conns:
            other = next(o for o in conns if owner(o) != owner(conn))
            stop, bystander_errors, bystander_runs = threading.Event(), [], []

            def bystander():
                try:
                    while not stop.is_set():
                        bystander_runs.append(other.execute(
                            "SELECT count(*) FROM conn_t").fetchone()[0])
                except Exception as exc:  # noqa: BLE001
                    bystander_errors.append(exc)
            b = threading.Thread(target=bystander)
            b.start()
            t = cancel_soon(conn)
            start = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled) as info:
                conn.execute(HEAVY)
            took = time.monotonic() - start
            t.join()
            stop.set()
            b.join()
            assert info.value.sqlstate == "57014"
            assert "canceling statement due to user request" in str(info.value)
            assert took < 2.5, f"cancel took {took:.1f}s"
            assert conn.execute("SELECT 1").fetchone() == (1,)      # session usable
            assert not bystander_errors and bystander_runs and set(bystander_runs) == {200}
    finally:
        for conn in conns:
            conn.close()


def test_cancel_aborts_an_explicit_transaction(heavy_table):
    with heavy_table.connect() as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM conn_t")
        t = cancel_soon(conn)
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(HEAVY)
        t.join()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM conn_t").fetchone() == (200,)


def test_cancel_when_idle_is_harmless(heavy_table):
    with heavy_table.connect() as conn:
        conn.cancel()
        time.sleep(0.3)
        assert conn.execute("SELECT count(*) FROM conn_t").fetchone() == (200,)


# -- admission limits (a cluster of its own, with small limits) ------------------------

def refill() -> None:
    time.sleep(BURST / RATE + 0.3)


def test_connection_rate_limit(limited):
    refill()
    dsn = limited.dsn
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda _: try_connect_dsn(dsn), range(12)))
    ok = [o for o in outcomes if isinstance(o, psycopg.Connection)]
    refused = [o for o in outcomes if not isinstance(o, psycopg.Connection)]
    for conn in ok:
        conn.close()
    assert 1 <= len(ok) <= BURST + 1, outcomes
    assert any("rate exceeded" in str(e) for e in refused), refused
    # (a token refilled while 5 were open meets the open-connection limit instead)
    assert all("rate exceeded" in str(e) or "too many open connections" in str(e)
               for e in refused), refused
    refill()
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def try_connect_dsn(dsn: str):
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        return exc


def test_max_connections_and_the_count_follows_closes(limited):
    refill()
    dsn = limited.dsn
    held = []
    try:
        for _ in range(MAX):
            held.append(psycopg.connect(dsn, autocommit=True))
        time.sleep(1 / RATE + 0.1)
        extra = try_connect_dsn(dsn)
        assert isinstance(extra, psycopg.OperationalError), extra
        assert "too many open connections" in str(extra)
        # on the wire, as PostgreSQL at max_connections: the startup packet is answered
        # with the error at once (no password request first), then the connection closes
        time.sleep(1 / RATE + 0.1)
        with rawpg.start_tls(rawpg.connect(limited.port)) as sock:
            sock.sendall(rawpg.startup_packet())
            reply, closed = rawpg.read_until_closed(sock, 10)
        assert closed and [kind for kind, _ in rawpg.messages(reply)] == [b"E"], reply
        fields = rawpg.errors(reply)[0]
        assert (fields["S"], fields["C"]) == ("FATAL", "53300"), fields
        held.pop().close()
        time.sleep(0.5)
        again = try_connect_dsn(dsn)
        assert isinstance(again, psycopg.Connection), again
        held.append(again)
        assert again.execute("SELECT 1").fetchone() == (1,)
    finally:
        for conn in held:
            conn.close()


def test_connection_age_closes_the_session(limited):
    refill()
    with psycopg.connect(limited.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        time.sleep(AGE + 1)
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("SELECT 1")
        print("after the age limit:", info.value)
        assert "connection age limit" in str(info.value) or conn.closed
    # the aged-out session no longer counts: a full set of connections opens again
    refill()
    held = [psycopg.connect(limited.dsn, autocommit=True) for _ in range(MAX)]
    for conn in held:
        conn.close()


def kill(cluster: LocalCluster, name: str) -> None:
    with cluster.ray_session() as ray:
        ray.kill(ray.get_actor(name, namespace=cluster.state["namespace"]), no_restart=False)


def test_compute_death_ends_only_its_sessions(limited):
    refill()
    dsn = limited.dsn
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(2)]
    try:
        by_owner = {owner(c): c for c in conns}
        assert set(by_owner) == {0, 1}, "round robin puts two connections on two computes"
        kill(limited, "compute-0")
        time.sleep(1)
        with pytest.raises(psycopg.OperationalError):
            by_owner[0].execute("SELECT 1")
        assert by_owner[1].execute("SELECT 1").fetchone() == (1,)
        deadline = time.monotonic() + 30
        while True:                 # new connections succeed (compute-1 meanwhile)
            fresh = try_connect_dsn(dsn)
            if isinstance(fresh, psycopg.Connection):
                break
            assert time.monotonic() < deadline, fresh
            time.sleep(1)
        with fresh:
            assert fresh.execute("SELECT 1").fetchone() == (1,)
        assert by_owner[1].execute("SELECT 2").fetchone() == (2,)
    finally:
        for c in conns:
            c.close()
