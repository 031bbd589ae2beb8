"""Every role of a region in one process and one event loop, wired by a simulated network.

Roles start through their real starters (each role's ``service.py``), with a simulated
directory: a name resolves to a client on the simulated network that reaches the
role's *current* instance, so a restarted role is found as in a cluster. The seeded
simulation (harness.py) drives them on virtual time with a lossy network and crashes;
unit tests use :class:`InProcessCluster`, the same wiring with a network that never
loses anything.
"""
from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from ..adjudicator.service import start_adjudicator
from ..clock import HybridLogicalClock
from ..compute.node import ComputeNode
from ..compute.service import compute_node
from ..compute.session import Session
from ..config import ClusterConfig
from ..control.directory import Directory
from ..control.topology import ActorSpec, plan_topology
from ..errors import Unavailable
from ..journal.service import journal_dir, start_journal
from ..storage.service import start_storage
from .network import SimClient, SimNetwork
from .witness import CompletenessWitness

#: the roles the simulation runs, crashes and restarts, in the order faults pick from
SIMULATED_ROLES = ("journal", "adjudicator", "storage")


class SimDirectory(Directory):
    """Names to the simulated network: a client reaches whatever instance of the role
    is up now (none while it is down or still starting: connection refused)."""

    def __init__(self, net: SimNetwork, instances: dict[str, Any]):
        self.net, self.instances = net, instances

    async def lookup(self, name: str) -> dict[str, Any] | None:
        return {"name": name} if self.instances.get(name) is not None else None

    def client(self, name: str, **kw: Any) -> SimClient:
        return self.net.client(lambda: self.instances.get(name), name, **kw)


class SimCluster:
    """The roles of one region with restartable instances, wired by the simulated network."""

    def __init__(self, data_dir: Path, net: SimNetwork, rng: random.Random,
                 config: ClusterConfig, *, skew_us: int = 0,
                 witness: CompletenessWitness | None = None):
        """``skew_us``: each role instance's clock reads virtual time plus its own seeded
        offset in [-skew_us, skew_us] (a restarted role draws a new one, as if it came
        back on another host); ``witness`` watches commits and reads (witness.py)."""
        self.data_dir = Path(data_dir)
        self.net = net
        self.rng = rng
        self.skew_us = skew_us
        self._skew_rng = random.Random(rng.getrandbits(64)) if skew_us else None
        self.witness = witness
        self.config = config
        self.zones = self.config.region.zones
        self.specs = {s.name: s for s in plan_topology(config)}
        self.instances: dict[str, Any] = {}
        self.directory = SimDirectory(net, self.instances)

    def _clock(self) -> HybridLogicalClock:
        loop = asyncio.get_running_loop()
        base = 1_000_000_000_000
        if self._skew_rng is not None:
            base += self._skew_rng.randint(-self.skew_us, self.skew_us)
        return HybridLogicalClock(lambda: base + int(loop.time() * 1e6))

    def _txn_ids(self):
        return lambda: "%032x" % self.rng.getrandbits(128)

    # -- starting and restarting roles ----------------------------------------------
    async def _start(self, name: str) -> None:
        """Start one role through its real starter; reachable once started."""
        spec, config, directory = self.specs[name], self.config, self.directory
        if spec.role == "journal":
            role = await start_journal(spec, config, directory, executor=False)
        elif spec.role == "adjudicator":
            try:
                role = await start_adjudicator(spec, config, directory, clock=self._clock(),
                                               txn_ids=self._txn_ids(), recover_attempts=200,
                                               recover_delay_s=0.25)
            except Unavailable:
                raise Unavailable(f"adjudicator {spec.index} could not recover") from None
        else:
            role = await start_storage(spec, config, directory, checkpoint_every_s=2.0,
                                       executor=False)
        if self.witness is not None and spec.role == "adjudicator":
            self.witness.watch_adjudicator(role)
        elif self.witness is not None and spec.role == "storage":
            self.witness.watch_storage(name, role)
        self.instances[name] = role

    async def start(self) -> None:
        for role in SIMULATED_ROLES:
            await asyncio.gather(*(self._start(name) for name in self.roles()
                                   if self.specs[name].role == role))

    def compute(self) -> ComputeNode:
        spec = ActorSpec("compute-0", "compute", self.config.region.name, self.zones[0])
        return compute_node(spec, self.config, self.directory, clock=self._clock())

    # -- the instances up now, by role (None while down) --------------------------------
    def _up(self, role: str) -> dict[ActorSpec, Any]:
        return {self.specs[n]: self.instances.get(n) for n in self.roles()
                if self.specs[n].role == role}

    @property
    def journals(self) -> dict[str, Any]:
        """zone → JournalNode"""
        return {spec.zone: j for spec, j in self._up("journal").items()}

    @property
    def adjudicators(self) -> list[Any]:
        """by key range"""
        return list(self._up("adjudicator").values())

    @property
    def storage(self) -> dict[tuple[int, str], Any]:
        """(shard, zone) → StorageShard"""
        return {(spec.index, spec.zone): s for spec, s in self._up("storage").items()}

    # -- crashes ------------------------------------------------------------------------
    def crash(self, name: str) -> None:
        self.instances.pop(name).stop()
        if self.specs[name].role == "journal":
            self._tear_tail(self.specs[name].zone)

    def _tear_tail(self, zone: str) -> None:
        """Sometimes a crash leaves a torn, unsynced write at the end of a segment."""
        if self.rng.random() < 0.5:
            segments = sorted(journal_dir(self.config, zone).glob("stream-*/segments/*.seg"))
            if segments:
                victim = self.rng.choice(segments)
                with open(victim, "ab") as f:
                    f.write(bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 40))))

    async def restart(self, name: str) -> None:
        await self._start(name)

    def roles(self) -> list[str]:
        """The names of the roles that may crash, journals first, then adjudicators, then
        storage replicas."""
        return [name for role in SIMULATED_ROLES for name, spec in self.specs.items()
                if spec.role == role]

    def stop(self) -> None:
        for role in reversed(SIMULATED_ROLES):
            for name in self.roles():
                if self.specs[name].role == role and name in self.instances:
                    self.instances.pop(name).stop()


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
