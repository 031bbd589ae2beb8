"""An adjudicator's journal links keep several append batches in flight per replica
(``adjudicator/links.py``), and each replica writes them in sequence order whatever
order they arrive in (``journal/replica.py``).

The adjudicator and three journal replicas are the real ones. They talk over the
simulation's network on virtual time (seeded delays, so later appends often arrive
first; losses), or over the real data-plane transport on loopback."""
from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from dsql_ray import limits
from dsql_ray.adjudicator.adjudicator import Adjudicator
from dsql_ray.clock import HybridLogicalClock
from dsql_ray.journal.interface import Append, Fence
from dsql_ray.journal.records import CommitRecord
from dsql_ray.journal.replica import JournalNode
from dsql_ray.sim.loop import SimEventLoop, close_loop
from dsql_ray.sim.network import SimNetwork
from dsql_ray.transport.interface import ask
from dsql_ray.transport.rpc import RpcClient, RpcServer

ZONES = ("a", "b", "c")


class Stream:
    """Stream 0's three journal replicas and its adjudicator, on one simulated network."""

    def __init__(self, directory: Path, net: SimNetwork):
        self.directory = directory
        self.net = net
        self.nodes: dict[str, JournalNode | None] = {}
        for zone in ZONES:
            self.start(zone)
        loop = asyncio.get_running_loop()
        clock = HybridLogicalClock(lambda: 1_000_000_000_000 + int(loop.time() * 1e6))
        clients = [net.client(lambda z=zone: self.nodes.get(z), f"journal-{zone}",
                              timeout_s=5.0) for zone in ZONES]
        self.adj = Adjudicator(0, [(b"", None)], clients, quorum=2, clock=clock)

    def start(self, zone: str) -> None:
        self.nodes[zone] = JournalNode(self.directory / zone, 1, executor=False)

    def crash(self, zone: str) -> None:
        self.nodes.pop(zone).stop()

    def log(self, zone: str) -> list[tuple[int, bytes]]:
        return self.nodes[zone].replicas[0].rpc_read_log(1, 100_000)

    async def commits(self, n: int, every_s: float, first: int = 0) -> list:
        """``n`` one-key commits, one every ``every_s``: their τ_commit or their error."""
        adj, started = self.adj, []
        for i in range(first, first + n):
            started.append(asyncio.ensure_future(
                adj.rpc_commit(adj.clock.now(), [(b"k%05d" % i, (i,))])))
            await asyncio.sleep(every_s)
        return await asyncio.gather(*started, return_exceptions=True)

    async def settled(self, tries: int = 2000) -> None:
        """Until every link is healthy and has every record acknowledged (bounded)."""
        for _ in range(tries):
            if all(l.healthy and l.acked_seq == self.adj.last_seq for l in self.adj.links):
                return
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.adj.stop()
        for zone in list(self.nodes):
            self.crash(zone)


def simulate(tmp_path: Path, scenario, *, seed: int = 7, delay_s: float = 0.002,
             drop: float = 0.0):
    loop = SimEventLoop()

    async def main():
        stream = Stream(tmp_path, SimNetwork(random.Random(seed), mean_delay_s=delay_s,
                                             drop=drop))
        try:
            await stream.adj.recover()
            return await scenario(stream)
        finally:
            stream.stop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 600))
    finally:
        close_loop(loop)


def assert_replicas_hold_the_log(stream: Stream) -> None:
    """Every replica holds seq 1..last, each record the adjudicator wrote there."""
    ours = {seq: payload for seq, _, payload in stream.adj._recent}
    for zone in ZONES:
        log = stream.log(zone)
        assert [seq for seq, _ in log] == list(range(1, stream.adj.last_seq + 1)), zone
        assert all(payload == ours[seq] for seq, payload in log), zone


def test_several_batches_in_flight_land_in_order_with_cumulative_acks(tmp_path):
    """Commits every 0.2 ms over a network with ~4 ms round trips: each link fills its
    pipeline to the limit and no further; appends that arrive ahead of earlier ones
    wait for them; no link ever fails; every replica holds the log in order."""
    async def scenario(stream: Stream):
        results = await stream.commits(300, 0.0002)
        await stream.settled()
        assert all(isinstance(ts, int) for ts in results), results
        assert sorted(results) == results            # τ_commit in commit order
        links = stream.adj.links
        assert [l.most_in_flight for l in links] == [limits.journal_pipeline_depth] * 3
        assert [l.resets for l in links] == [0, 0, 0]
        assert all(l.acked_seq == stream.adj.last_seq == 301 for l in links)
        assert sum(stream.nodes[z].replicas[0].arrived_ahead for z in ZONES) > 0
        assert_replicas_hold_the_log(stream)

    simulate(tmp_path, scenario)


def test_the_pipeline_depth_is_the_named_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "journal_pipeline_depth", 2)

    async def scenario(stream: Stream):
        results = await stream.commits(200, 0.0002)
        await stream.settled()
        return results, [l.most_in_flight for l in stream.adj.links]

    results, deepest = simulate(tmp_path, scenario)
    assert all(isinstance(ts, int) for ts in results)
    assert deepest == [2, 2, 2]


def test_a_failure_mid_pipeline_resyncs_and_loses_no_acknowledged_commit(tmp_path):
    """A replica crashes while batches are in flight to it and comes back; the network
    loses messages throughout. Its link resets, resyncs and catches up; every
    acknowledged commit is on every replica, at the seq the adjudicator gave it."""
    async def scenario(stream: Stream):
        first = asyncio.ensure_future(stream.commits(200, 0.0002))
        await asyncio.sleep(0.02)                 # mid-stream: batches in flight
        assert len(stream.adj.links[1]._in_flight) > 1
        stream.crash("b")
        await asyncio.sleep(0.3)
        stream.start("b")
        results = await first + await stream.commits(100, 0.0002, first=200)
        await stream.settled()
        assert stream.adj.links[1].resets >= 1
        assert all(l.healthy for l in stream.adj.links)
        assert_replicas_hold_the_log(stream)
        acked = [(i, ts) for i, ts in enumerate(results) if isinstance(ts, int)]
        assert len(acked) > 250, results
        for zone in ZONES:
            written = {CommitRecord.decode(p).ts: CommitRecord.decode(p).writes
                       for _, p in stream.log(zone)}
            for i, ts in acked:
                assert written[ts] == ((b"k%05d" % i, (i,)),), (zone, i)

    simulate(tmp_path, scenario, drop=0.01)


def record(seq: int) -> tuple[int, int, bytes]:
    return seq, 1000 + seq, CommitRecord(seq, 1000 + seq, ((b"k%d" % seq, (seq,)),),
                                         epoch=1).encode()


def test_appends_pipelined_on_one_connection_are_written_in_order(tmp_path):
    """Over the real transport: four appends in flight at once on one connection, then
    two sent in reverse order (the later batch first, as a reconnection could deliver
    them): the replica writes seqs 1..8 in order and acknowledges each cumulatively."""
    async def scenario():
        node = JournalNode(tmp_path / "j", 1)
        server = RpcServer(node)
        client = RpcClient(await server.start(), name="journal")
        try:
            await ask(client, Fence(0, 1, 0))
            acks = await asyncio.gather(*(ask(client, Append(0, 1, [record(s)]))
                                          for s in (1, 2, 3, 4)))
            later = asyncio.ensure_future(ask(client, Append(0, 1, [record(7), record(8)])))
            await asyncio.sleep(0.05)
            assert not later.done()                   # waits for seqs 5 and 6
            earlier = await ask(client, Append(0, 1, [record(5), record(6)]))
            return acks, earlier, await later, node.replicas[0].rpc_read_log(1, 100)
        finally:
            client.close()
            await server.stop()
            node.stop()

    acks, earlier, later, log = asyncio.run(scenario())
    assert acks == sorted(acks) and acks[-1] == 4
    assert earlier >= 6 and later == 8
    assert log == [(s, record(s)[2]) for s in range(1, 9)]


@pytest.mark.parametrize("resync", ["fence", "truncate"])
def test_appends_held_ahead_fail_when_the_writer_resyncs(tmp_path, resync):
    async def scenario():
        node = JournalNode(tmp_path / "j", 1, executor=False)
        replica = node.replicas[0]
        await replica.rpc_fence(1, 0)
        replica.rpc_append(1, [record(1)])
        ahead = replica.rpc_append(1, [record(3)])
        await asyncio.sleep(0)
        if resync == "fence":
            await replica.rpc_fence(1, 0)
        else:
            await replica.rpc_truncate(1, 1)
        try:
            return await asyncio.gather(ahead, return_exceptions=True), replica.last_seq
        finally:
            node.stop()

    (outcome,), last = asyncio.run(scenario())
    assert type(outcome).__name__ == "SequenceGap"
    assert last == 1
