"""Every role of a region in one process and one event loop, wired without sockets.

The same role classes the Ray actors host run here, connected by direct calls, so
tests of the transaction path need no Ray and a seeded simulation can drive them.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..adjudicator.adjudicator import Adjudicator
from ..compute.node import ComputeNode, ShardRoute
from ..compute.session import Session
from ..config import ClusterConfig
from ..journal.replica import JournalNode
from ..storage.shard import StorageShard


class DirectClient:
    """Calls a handler's ``rpc_*`` methods in-process, with the RpcClient interface.

    ``target`` may be a callable returning the current handler, so a restarted role is
    found again, as a real client re-resolves a restarted actor.
    """

    def __init__(self, target: Any, name: str = "peer"):
        self._target = target if callable(target) else (lambda: target)
        self.name = name

    async def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        result = getattr(self._target(), "rpc_" + method)(*args)
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            result = await result
        return result


class InProcessCluster:
    def __init__(self, data_dir: Path, config: ClusterConfig | None = None):
        self.config = config or ClusterConfig(data_dir=data_dir)
        self.data_dir = Path(data_dir)

    async def start(self) -> "InProcessCluster":
        cfg = self.config
        zones = cfg.region.zones
        ranges = cfg.shard_ranges()
        self.journals = {z: JournalNode(self.data_dir / z / "journal", len(ranges))
                         for z in zones}
        self.adjudicators: list[Adjudicator] = []
        peers = [DirectClient(lambda i=i: self.adjudicators[i], f"adjudicator-{i}")
                 for i in range(len(ranges))]
        for i in range(len(ranges)):
            self.adjudicators.append(Adjudicator(
                i, ranges, [DirectClient(lambda z=z: self.journals[z], f"journal-{z}")
                            for z in zones], peers=peers, quorum=cfg.journal_quorum))
        await asyncio.gather(*(a.recover() for a in self.adjudicators))
        self.storage = {}
        for shard, (low, high) in enumerate(ranges):
            for z in zones:
                s = StorageShard(shard, low, high, zone=z, adjudicators=peers,
                                 journals=[DirectClient(lambda z=z: self.journals[z])],
                                 checkpoint_dir=self.data_dir / z / f"storage-{shard}")
                s.start()
                self.storage[(shard, z)] = s
        routes = [ShardRoute(low, high, [DirectClient(self.storage[(shard, z)]) for z in zones])
                  for shard, (low, high) in enumerate(ranges)]
        self.node = ComputeNode(routes, peers, zone=zones[0])
        await self.node.sync_clock()
        return self

    def session(self) -> Session:
        return Session(self.node)

    async def stop(self) -> None:
        for s in self.storage.values():
            s.stop()
        for a in self.adjudicators:
            a.stop()
        for j in self.journals.values():
            j.stop()
