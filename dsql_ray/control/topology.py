"""Which role actors a cluster has, and where each one lives (plain data, no Ray)."""
from __future__ import annotations

from dataclasses import dataclass

from ..adjudicator.quorum import Quorum
from ..config import ClusterConfig


@dataclass(frozen=True)
class ActorSpec:
    name: str          # unique within the cluster namespace, e.g. "storage-1-us-east-1b"
    role: str          # relay | compute | adjudicator | journal | storage
    region: str
    zone: str
    index: int = 0     # compute index within its zone, or shard id for storage


def serving_zones(config: ClusterConfig) -> list[str]:
    """The zones that run a relay and compute actors."""
    zones = config.region.zones
    return list(zones) if config.serving_zones == "all" else [zones[0]]


def relay_name(config: ClusterConfig, zone: str) -> str:
    # the first zone's front end keeps the names of a one-endpoint cluster
    return "relay" if zone == config.region.zones[0] else f"relay-{zone}"


def compute_names(config: ClusterConfig, zone: str) -> list[str]:
    first = zone == config.region.zones[0]
    return [f"compute-{i}" if first else f"compute-{zone}-{i}"
            for i in range(config.compute_per_zone)]


def relay_port(config: ClusterConfig, zone: str) -> int:
    """One port per zone when every relay shares one (loopback) address, else the same
    port on every zone's own address. Not SO_REUSEPORT: a client's CancelRequest goes to
    the host:port it connected to and must reach the relay that owns its session."""
    if config.loopback:
        return config.port + config.region.zones.index(zone)
    return config.port


def plan_topology(config: ClusterConfig) -> list[ActorSpec]:
    """Every role actor of a single-region cluster.

    Each serving zone's relay and compute actors share that zone's node, so the relay
    can hand a client's socket to a compute process (file-descriptor passing needs one
    host); compute reads from its own zone's storage replicas.
    """
    region = config.region.name
    zones = config.region.zones
    specs = []
    for zone in serving_zones(config):
        specs.append(ActorSpec(relay_name(config, zone), "relay", region, zone))
        specs += [ActorSpec(name, "compute", region, zone, i)
                  for i, name in enumerate(compute_names(config, zone))]
    homes = [serving_zones(config)[0]] if config.adjudicator_zones == "serving" else zones
    specs += [ActorSpec(f"adjudicator-{i}", "adjudicator", region, homes[i % len(homes)], i)
              for i in range(config.shard_count)]
    specs += [ActorSpec(f"journal-{z}", "journal", region, z) for z in zones]
    specs += [ActorSpec(f"storage-{s}-{z}", "storage", region, z, s)
              for s in range(config.shard_count) for z in zones]
    return specs


def journal_names(config: ClusterConfig) -> list[str]:
    """Every replica of a journal stream: one per zone, of every linked region."""
    return [f"journal-{z}" for zones in config.journal_zones() for z in zones]


def journal_quorum(config: ClusterConfig) -> Quorum:
    """Single region: ``journal_quorum`` of its zones. Linked: 2 of 3 regions, each on
    ``journal_quorum`` of its zones."""
    groups, start = [], 0
    for zones in config.journal_zones():
        groups.append(list(range(start, start + len(zones))))
        start += len(zones)
    return Quorum(groups, 1 if len(groups) == 1 else len(groups) // 2 + 1,
                  config.journal_quorum)


def adjudicator_names(config: ClusterConfig) -> list[str]:
    """One adjudicator per key range; they share the shards' range boundaries."""
    return [f"adjudicator-{i}" for i in range(config.shard_count)]


def storage_name(shard: int, zone: str) -> str:
    return f"storage-{shard}-{zone}"
