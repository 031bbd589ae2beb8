"""A fresh in-process cluster per test: every role, wired by direct calls, no Ray."""
import asyncio

import pytest

from dsql_ray.sim.cluster import InProcessCluster
from dsql_ray.sim.loop import close_loop


def cluster_runner(tmp_path, config=None, timeout_s: float = 60):
    loop = asyncio.new_event_loop()
    cluster = loop.run_until_complete(InProcessCluster(tmp_path, config).start())

    def go(coro_fn):
        return loop.run_until_complete(asyncio.wait_for(coro_fn(cluster), timeout_s))

    def close():
        cluster.stop()
        close_loop(loop, timeout_s=5)
    return go, close


@pytest.fixture
def run(tmp_path):
    """``run(async_fn)`` runs ``async_fn(cluster)`` on a fresh cluster's loop."""
    go, close = cluster_runner(tmp_path)
    yield go
    close()


async def sql(session, text):
    return await session.execute_simple(text)
