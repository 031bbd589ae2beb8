"""A journal replica that missed its writer's durability mark gets it again.

Readers (storage) are served only records the writer marked durable on a quorum. On an
idle stream the mark travels alone, in a ``durable`` message; if that one message is
lost, the replica must still learn the mark, or storage tailing that replica never
receives the stream's last record and reads waiting for it stall for good (the
simulation's seed 50532 stalled so: the adjudicator's recovery record, the last of its
stream, stayed unreadable on one zone's replica). Real adjudicator, journal nodes and
simulated network, on virtual time; one chosen message is lost."""
from __future__ import annotations

import asyncio
import random

from dsql_ray.adjudicator.adjudicator import Adjudicator
from dsql_ray.clock import HybridLogicalClock
from dsql_ray.journal.interface import Read
from dsql_ray.journal.replica import JournalNode
from dsql_ray.sim.loop import SimEventLoop, close_loop
from dsql_ray.sim.network import SimNetwork
from dsql_ray.transport.interface import ask

READ_TRIES = 30          # each a reader's long poll of READ_WAIT_S virtual seconds
READ_WAIT_S = 1.0


async def read_record(client, seq: int) -> list:
    """The durable record ``seq`` of stream 0 as a reader gets it (bounded: [] if never)."""
    for _ in range(READ_TRIES):
        got = await ask(client, Read(0, seq, 1, READ_WAIT_S), timeout=READ_WAIT_S * 2)
        if got:
            return got
    return []


def test_a_replica_that_missed_the_durability_mark_of_an_idle_stream_gets_it(tmp_path):
    loop = SimEventLoop()
    net = SimNetwork(random.Random(0))
    nodes = [JournalNode(tmp_path / f"journal-{i}", streams=1, executor=False)
             for i in range(3)]
    clients = [net.client(lambda node=node: node, f"journal-{i}")
               for i, node in enumerate(nodes)]
    clock = HybridLogicalClock(lambda: 1_000_000_000_000 + int(loop.time() * 1e6))
    adj = Adjudicator(0, [(b"", None)], clients, quorum=2, clock=clock)
    net.lose_next("journal-2", "durable")     # the mark to zone 2's replica, once

    async def scenario():
        await adj.recover()           # its epoch record, seq 1, is durable on a quorum
        # nothing else is written: the stream is idle from here on
        return [await read_record(client, adj.last_seq) for client in clients]

    try:
        reads = loop.run_until_complete(scenario())
    finally:
        for link in adj.links:
            link.stop()
        close_loop(loop, timeout_s=5)
    assert net.dropped == 1, "the durability mark was never lost: nothing was tested"
    assert adj.last_seq == adj.durable_seq == 1
    assert [[seq for seq, _ in got] for got in reads] == [[1], [1], [1]]
