"""Every role of a region in one process and one event loop, wired by a simulated network.

The same role classes the Ray actors host run here. The seeded simulation (harness.py)
drives them on virtual time with a lossy network and crashes; unit tests use
:class:`InProcessCluster`, the same wiring with a network that never loses anything.
"""
from __future__ import annotations

import asyncio
import random
from pathlib import Path

from ..adjudicator.adjudicator import Adjudicator
from ..clock import HybridLogicalClock
from ..compute.node import ComputeNode, ShardRoute
from ..compute.session import Session
from ..config import ClusterConfig
from ..errors import Unavailable
from ..journal.replica import JournalNode
from ..storage.shard import StorageShard
from .network import SimNetwork


class SimCluster:
    """The roles of one region with restartable instances, wired by the simulated network."""

    def __init__(self, data_dir: Path, net: SimNetwork, rng: random.Random,
                 config: ClusterConfig):
        self.data_dir = Path(data_dir)
        self.net = net
        self.rng = rng
        self.config = config
        self.zones = self.config.region.zones
        self.ranges = self.config.shard_ranges()
        self.journals: dict[str, JournalNode | None] = {}
        self.adjudicators: list[Adjudicator | None] = [None] * len(self.ranges)
        self.storage: dict[tuple[int, str], StorageShard | None] = {}
        self.adj_clients = [net.client(lambda i=i: self.adjudicators[i], f"adjudicator-{i}")
                            for i in range(len(self.ranges))]

    def _clock(self) -> HybridLogicalClock:
        loop = asyncio.get_running_loop()
        return HybridLogicalClock(lambda: 1_000_000_000_000 + int(loop.time() * 1e6))

    def _txn_ids(self):
        return lambda: "%032x" % self.rng.getrandbits(128)

    # -- starting and restarting roles ----------------------------------------------
    def start_journal(self, zone: str) -> None:
        self.journals[zone] = JournalNode(self.data_dir / zone / "journal", len(self.ranges),
                                          executor=False)

    async def start_adjudicator(self, i: int) -> None:
        adj = Adjudicator(i, self.ranges,
                          [self.net.client(lambda z=z: self.journals[z], f"journal-{z}")
                           for z in self.zones],
                          peers=self.adj_clients, clock=self._clock(), txn_ids=self._txn_ids())
        self.adjudicators[i] = adj
        for _ in range(200):
            try:
                await adj.recover()
                return
            except Unavailable:
                await asyncio.sleep(0.25)
        raise Unavailable(f"adjudicator {i} could not recover")

    def start_storage(self, shard: int, zone: str) -> None:
        low, high = self.ranges[shard]
        journals = [self.net.client(lambda z=z: self.journals[z], f"journal-{z}")
                    for z in [zone] + [z for z in self.zones if z != zone]]
        s = StorageShard(shard, low, high, zone=zone, journals=journals,
                         adjudicators=self.adj_clients, checkpoint_every_s=2.0,
                         checkpoint_dir=self.data_dir / zone / f"storage-{shard}")
        s.start()
        self.storage[(shard, zone)] = s

    async def start(self) -> None:
        for z in self.zones:
            self.start_journal(z)
        await asyncio.gather(*(self.start_adjudicator(i) for i in range(len(self.ranges))))
        for shard in range(len(self.ranges)):
            for z in self.zones:
                self.start_storage(shard, z)

    def compute(self) -> ComputeNode:
        routes = [ShardRoute(low, high, [self.net.client(
            lambda key=(shard, z): self.storage[key], f"storage-{shard}-{z}")
            for z in self.zones]) for shard, (low, high) in enumerate(self.ranges)]
        return ComputeNode(routes, self.adj_clients, zone=self.zones[0], clock=self._clock())

    # -- crashes ------------------------------------------------------------------------
    def crash(self, role: str) -> None:
        if role.startswith("journal-"):
            zone = role[len("journal-"):]
            self.journals[zone].stop()
            self.journals[zone] = None
            self._tear_tail(zone)
        elif role.startswith("adjudicator-"):
            i = int(role.rsplit("-", 1)[1])
            self.adjudicators[i].stop()
            self.adjudicators[i] = None
        else:
            _, shard, zone = role.split("-", 2)
            key = (int(shard), zone)
            self.storage[key].stop()
            self.storage[key] = None

    def _tear_tail(self, zone: str) -> None:
        """Sometimes a crash leaves a torn, unsynced write at the end of a segment."""
        if self.rng.random() < 0.5:
            segments = sorted((self.data_dir / zone / "journal").glob("stream-*/segments/*.seg"))
            if segments:
                victim = self.rng.choice(segments)
                with open(victim, "ab") as f:
                    f.write(bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 40))))

    async def restart(self, role: str) -> None:
        if role.startswith("journal-"):
            self.start_journal(role[len("journal-"):])
        elif role.startswith("adjudicator-"):
            await self.start_adjudicator(int(role.rsplit("-", 1)[1]))
        else:
            _, shard, zone = role.split("-", 2)
            self.start_storage(int(shard), zone)

    def roles(self) -> list[str]:
        return ([f"journal-{z}" for z in self.zones]
                + [f"adjudicator-{i}" for i in range(len(self.ranges))]
                + [f"storage-{s}-{z}" for s in range(len(self.ranges)) for z in self.zones])

    def stop(self) -> None:
        for s in self.storage.values():
            if s is not None:
                s.stop()
        for a in self.adjudicators:
            if a is not None:
                a.stop()
        for j in self.journals.values():
            if j is not None:
                j.stop()


class InProcessCluster(SimCluster):
    """A region for tests: a network without delay or loss, and one compute node."""

    def __init__(self, data_dir: Path, config: ClusterConfig | None = None):
        super().__init__(data_dir, SimNetwork(random.Random(0), mean_delay_s=0.0),
                         random.Random(0), config or ClusterConfig(data_dir=data_dir))
        self.node: ComputeNode | None = None

    async def start(self) -> "InProcessCluster":
        await super().start()
        self.node = self.compute()
        await self.node.sync_clock()
        return self

    def session(self) -> Session:
        return Session(self.node)
