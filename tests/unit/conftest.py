"""A fresh in-process cluster per test: every role, wired by direct calls, no Ray."""
import asyncio

import pytest

from dsql_ray.sim.cluster import InProcessCluster
from dsql_ray.sim.loop import close_loop
from dsql_ray.testing.protocols import PROTOCOLS

from .wire import WireCluster


def cluster_runner(tmp_path, config=None, timeout_s: float = 60):
    loop = asyncio.new_event_loop()
    cluster = loop.run_until_complete(InProcessCluster(tmp_path, config).start())

    def go(coro_fn):
        return loop.run_until_complete(asyncio.wait_for(coro_fn(cluster), timeout_s))

    def close():
        cluster.stop()
        close_loop(loop, timeout_s=5)
    return go, close


def _fresh(tmp_path):
    go, close = cluster_runner(tmp_path)
    yield go
    close()


@pytest.fixture
def run(tmp_path):
    """``run(async_fn)`` runs ``async_fn(cluster)`` on a fresh cluster's loop."""
    yield from _fresh(tmp_path)


@pytest.fixture
def run_in_process(tmp_path):
    """``run``, for a scenario that drives compute's internals (a module whose ``run``
    goes over the wire keeps this one for them)."""
    yield from _fresh(tmp_path)


def runner_over(tmp_path, protocol: str):
    """``run`` whose cluster's sessions are in-process (``protocol`` "session") or client
    connections over TLS through the relay and compute's front end, speaking the simple
    or the extended protocol (tests/unit/wire.py)."""
    go, close = cluster_runner(tmp_path)
    if protocol == "session":
        return go, close
    wired: list[WireCluster] = []

    def go_wire(coro_fn):
        if not wired:
            wired.append(go(lambda c: _wire(c, protocol, tmp_path)))
        return go(lambda _: coro_fn(wired[0]))

    def close_wire():
        for w in wired:
            w.stop()
        close()
    return go_wire, close_wire


async def _wire(cluster, protocol: str, directory) -> WireCluster:
    return WireCluster(cluster, protocol, directory)


@pytest.fixture(params=("session",) + PROTOCOLS)
def run_wire(tmp_path, request):
    """``run``, three times: in-process, over the simple and over the extended protocol."""
    go, close = runner_over(tmp_path, request.param)
    yield go
    close()


@pytest.fixture(params=("session", "simple"))
def run_simple(tmp_path, request):
    """``run`` for what only the simple protocol can send (several statements in one
    query): in-process and over the wire."""
    go, close = runner_over(tmp_path, request.param)
    yield go
    close()


async def sql(session, text):
    return await session.execute_simple(text)
