"""The relay's admission: token bucket, open-connection counter, pid encoding."""
from __future__ import annotations

import argparse
import threading

import pytest
from pydantic import ValidationError

from dsql_ray.config import ClusterConfig
from dsql_ray.relay.relay import (RATE_EXCEEDED, TOO_MANY_CONNECTIONS, Admission,
                                  AdmissionLimits, ConnectionCounter, TokenBucket)
from dsql_ray.transport.handoff import compute_index, make_pid


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_refills_at_rate():
    clock = Clock()
    bucket = TokenBucket(rate=100, burst=1000, clock=clock)
    assert sum(bucket.take() for _ in range(1200)) == 1000
    assert not bucket.take()
    clock.now += 0.5                    # 50 tokens
    assert sum(bucket.take() for _ in range(100)) == 50
    clock.now += 3600                   # never more than the burst
    assert bucket.tokens == 1000


def test_bucket_fractional_refill():
    clock = Clock()
    bucket = TokenBucket(rate=5, burst=5, clock=clock)
    for _ in range(5):
        assert bucket.take()
    assert not bucket.take()
    clock.now += 0.1                    # half a token: still no
    assert not bucket.take()
    clock.now += 0.15
    assert bucket.take()
    assert not bucket.take()


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


def test_bucket_is_thread_safe():
    bucket = TokenBucket(rate=1e-9, burst=1000)
    taken = []

    def worker():
        taken.append(sum(bucket.take() for _ in range(500)))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 1000


def test_counter_per_link_and_drop():
    c = ConnectionCounter()
    assert c.try_open(1, 3) and c.try_open(1, 3) and c.try_open(2, 3)
    assert not c.try_open(2, 3)
    assert c.total == 3
    c.closed(1)
    assert c.total == 2 and c.try_open(2, 3)
    assert c.drop_link(2) == 2           # its compute died: its sessions are gone
    assert c.total == 1 and c.on_link(2) == 0
    c.closed(2)                          # a late end report from a dropped link: ignored
    c.closed(1)
    c.closed(1)
    assert c.total == 0


def test_admission_rate_then_connections():
    clock = Clock()
    adm = Admission(AdmissionLimits(max_connections=2, rate=1, burst=3), clock)
    assert adm.admit(1) is None
    assert adm.admit(1) is None
    assert adm.admit(1) == TOO_MANY_CONNECTIONS      # a token spent, no slot
    assert adm.admit(1) == RATE_EXCEEDED
    adm.counter.closed(1)
    clock.now += 1
    assert adm.admit(1) is None
    assert (TOO_MANY_CONNECTIONS, RATE_EXCEEDED) == ("53300", "53400")


def test_limits_come_from_the_cluster_config():
    lim = AdmissionLimits.from_config(ClusterConfig())
    assert (lim.max_connections, lim.rate, lim.burst) == (10_000, 100, 1000)   # DSQL's
    assert ClusterConfig().max_connection_age == 3600
    config = ClusterConfig(max_connections=5, connection_rate=2.5, connection_burst=7,
                           max_connection_age=8)
    lim = AdmissionLimits.from_config(config)
    assert (lim.max_connections, lim.rate, lim.burst) == (5, 2.5, 7)
    # the config reaches the actors as JSON
    again = ClusterConfig.model_validate_json(config.model_dump_json())
    assert (again.max_connections, again.connection_rate, again.connection_burst,
            again.max_connection_age) == (5, 2.5, 7, 8)
    for bad in ({"max_connections": 0}, {"connection_rate": 0}, {"connection_burst": 0},
                {"max_connection_age": -1}):
        with pytest.raises(ValidationError):
            ClusterConfig(**bad)


def test_up_flags_set_the_limits(capsys):
    from dsql_ray.cli import _config
    parser = argparse.Namespace(name="x", data_dir="/tmp/x", max_connections=5,
                                connection_rate=2.5, connection_burst=7,
                                max_connection_age=8.0)
    config = _config(parser)
    assert (config.max_connections, config.connection_rate, config.connection_burst,
            config.max_connection_age) == (5, 2.5, 7, 8.0)
    with pytest.raises(SystemExit) as info:
        _config(argparse.Namespace(name="x", data_dir="/tmp/x", max_connections=0))
    assert "--max-connections" in str(info.value)


def test_a_refused_connection_is_refused_before_authentication():
    """As PostgreSQL at max_connections: the startup packet is answered with the FATAL
    error (no AuthenticationCleartextPassword first), then the connection closes."""
    import asyncio
    import socket
    import struct

    from dsql_ray.compute.service import _Fatal
    from dsql_ray.frontend.session import serve_connection

    async def main():
        server_sock, client_sock = socket.socketpair()
        asked = []

        async def authenticate(user, database, password):
            asked.append(user)

        async def factory(user, database, params):
            raise AssertionError("no session for a refused connection")
        reader, writer = await asyncio.open_connection(sock=server_sock)
        error = _Fatal("too many open connections", sqlstate="53300")
        serving = asyncio.ensure_future(serve_connection(
            reader, writer, factory, authenticate=authenticate, refusal=error))
        creader, cwriter = await asyncio.open_connection(sock=client_sock)
        body = struct.pack("!I", 196608) + b"user\0admin\0database\0postgres\0\0"
        cwriter.write(struct.pack("!I", len(body) + 4) + body)
        await cwriter.drain()
        reply = await asyncio.wait_for(creader.read(), 5)     # to EOF: closed
        await serving
        cwriter.close()
        return reply, asked
    reply, asked = asyncio.run(main())
    assert reply[:1] == b"E" and not asked
    assert b"C53300\0" in reply and b"SFATAL\0" in reply
    assert b"too many open connections" in reply
    (length,) = struct.unpack_from("!I", reply, 1)
    assert len(reply) == 1 + length                          # nothing else was sent


def test_pid_carries_compute_index():
    for index in (0, 1, 7, 127):
        pid = make_pid(index, 0xFFFFFFFF)
        assert 0 <= pid < 2 ** 31 and compute_index(pid) == index
    with pytest.raises(ValueError):
        make_pid(128, 1)


def test_cancel_flag_reaches_the_engine_checkpoint():
    """The compute-side cancel mark fails the statement at the engine's checkpoint."""
    import asyncio

    from dsql_ray.compute import service
    from dsql_ray.compute.interrupt import QueryCanceled
    from dsql_ray.compute.query import EngineConfig
    from dsql_ray.testing.memory import MemorySource

    src = MemorySource()
    src.add_table("t", [("id", 20), ("v", 23)], [(i, i) for i in range(200)], pk=["id"])

    async def main():
        ctl = service._SessionControl(1, 2, asyncio.current_task())
        config = EngineConfig(interrupt=ctl.check)
        ctl.running = ctl.seq = 1
        assert ctl.request_cancel()
        with pytest.raises(QueryCanceled) as info:
            await src.query("SELECT count(*) FROM t a JOIN t b ON true "
                            "JOIN t c ON a.v + b.v + c.v < 0", config=config)
        assert info.value.sqlstate == "57014"
        ctl.running = 0
        assert not ctl.request_cancel()          # idle: nothing to cancel
        assert (await src.query("SELECT count(*) FROM t", config=config)).rows == [(200,)]
    asyncio.run(main())
