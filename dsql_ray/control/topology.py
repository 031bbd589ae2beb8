"""Which role actors a cluster has, and where each one lives (plain data, no Ray)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import ClusterConfig


@dataclass(frozen=True)
class ActorSpec:
    name: str          # unique within the cluster namespace, e.g. "storage-1-us-east-1b"
    role: str          # relay | compute | adjudicator | journal | storage
    region: str
    zone: str
    index: int = 0     # compute index, or shard id for storage


def plan_topology(config: ClusterConfig) -> list[ActorSpec]:
    """Every role actor of a single-region cluster.

    The relay and the compute pool share the first zone's node, so the relay can hand a
    client's socket to a compute process (file-descriptor passing needs one host).
    """
    region = config.region.name
    zones = config.region.zones
    front = zones[0]
    specs = [ActorSpec("relay", "relay", region, front)]
    specs += [ActorSpec(f"compute-{i}", "compute", region, front, i)
              for i in range(config.compute_actors)]
    specs += [ActorSpec(f"adjudicator-{i}", "adjudicator", region, zones[i % len(zones)], i)
              for i in range(config.shard_count)]
    specs += [ActorSpec(f"journal-{z}", "journal", region, z) for z in zones]
    specs += [ActorSpec(f"storage-{s}-{z}", "storage", region, z, s)
              for s in range(config.shard_count) for z in zones]
    return specs


def journal_names(config: ClusterConfig) -> list[str]:
    return [f"journal-{z}" for z in config.region.zones]


def adjudicator_names(config: ClusterConfig) -> list[str]:
    """One adjudicator per key range; they share the shards' range boundaries."""
    return [f"adjudicator-{i}" for i in range(config.shard_count)]


def storage_name(shard: int, zone: str) -> str:
    return f"storage-{shard}-{zone}"
