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
from ..journal.replica import JournalReplica
from ..journal.segment import SegmentLog
from ..storage.shard import StorageShard


class DirectClient:
    """Calls a handler's ``rpc_*`` methods in-process, with the RpcClient interface."""

    def __init__(self, target: Any, name: str = "peer"):
        self.target = target
        self.name = name

    async def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        result = getattr(self.target, "rpc_" + method)(*args)
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
        self.journals = {z: JournalReplica(SegmentLog(self.data_dir / z / "journal"))
                         for z in zones}
        self.adjudicator = Adjudicator([DirectClient(self.journals[z], f"journal-{z}")
                                        for z in zones], quorum=cfg.journal_quorum)
        await self.adjudicator.recover()
        adj = DirectClient(self.adjudicator, "adjudicator")
        self.storage = {}
        for shard, (low, high) in enumerate(cfg.shard_ranges()):
            for z in zones:
                s = StorageShard(shard, low, high, zone=z,
                                 journal=DirectClient(self.journals[z]), adjudicator=adj)
                s.start()
                self.storage[(shard, z)] = s
        routes = [ShardRoute(low, high, [DirectClient(self.storage[(shard, z)]) for z in zones])
                  for shard, (low, high) in enumerate(cfg.shard_ranges())]
        self.node = ComputeNode(routes, adj, zone=zones[0])
        return self

    def session(self) -> Session:
        return Session(self.node)

    async def stop(self) -> None:
        for s in self.storage.values():
            s.stop()
        self.adjudicator.stop()
        for j in self.journals.values():
            j.close()
