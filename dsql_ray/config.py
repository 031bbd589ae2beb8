"""Cluster configuration: pydantic models for the cluster, its regions and zones."""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from . import limits
from .keys import table_prefix


class ZoneConfig(BaseModel):
    name: str


class RegionConfig(BaseModel):
    name: str = "us-east-1"
    zones: list[str] = Field(default_factory=lambda: ["us-east-1a", "us-east-1b", "us-east-1c"])

    @field_validator("zones")
    @classmethod
    def _three_zones(cls, zones: list[str]) -> list[str]:
        if len(zones) != 3 or len(set(zones)) != 3:
            raise ValueError("a region has exactly three distinct availability zones")
        return zones


def region_zones(region: str) -> list[str]:
    """A region's three availability zones, named as AWS names them."""
    return [f"{region}{letter}" for letter in "abc"]


class LinkedConfig(BaseModel):
    """A multi-region (linked) cluster: two active peer regions and a witness.

    Each region runs its own Ray cluster and its own ``ClusterConfig`` whose ``region``
    is that region; this part is the same in all three. Every adjudicator's journal
    stream has a replica in each zone of every region, and a commit is durable on 2 of 3
    regions, each on 2 of its 3 zones. The adjudicators live in one region at a time
    (``home``); both peers serve clients and apply the whole log in their own storage.
    """
    #: the two peer regions: each a full stack (relays, compute, storage) with its own
    #: endpoint and cluster id
    peers: list[str] = Field(default_factory=lambda: ["us-east-1", "us-east-2"])
    #: the witness region: journal replicas only, no endpoint
    witness: str = "us-west-2"
    #: the region whose adjudicators serve at start (default: the first peer)
    home: str | None = None
    #: every message between two regions is delayed by half this each way (ms), in the
    #: transport (there is no netem here)
    inter_region_rtt_ms: float = Field(default=0.0, ge=0)
    #: the data-plane address ("host:port") of each region's control endpoint, for
    #: regions started separately; the embedded linked cluster fills it in
    controls: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_regions(self) -> LinkedConfig:
        names = [*self.peers, self.witness]
        if len(self.peers) != 2 or len(set(names)) != 3:
            raise ValueError("a linked cluster has two distinct peer regions and a "
                             "witness region different from both")
        if self.home is not None and self.home not in self.peers:
            raise ValueError(f"home region {self.home} is not a peer region")
        return self

    @property
    def regions(self) -> list[str]:
        """Every region, the peers first: the order of journal replica groups."""
        return [*self.peers, self.witness]

    @property
    def home_region(self) -> str:
        return self.home or self.peers[0]


class ClusterConfig(BaseModel):
    name: str = "local"
    #: the client endpoint's listen address; None: the address of the node each relay
    #: runs on (deployments onto a Ray cluster)
    host: str | None = "127.0.0.1"
    #: the client endpoint's port; with a loopback host (every relay on one machine) the
    #: relay of the zone numbered k listens on port + k
    port: int = 5432
    #: root of every node's data: journal segments and checkpoints live under it on the
    #: disk of the node that runs the actor (the same path on every node)
    data_dir: Path = Field(default_factory=lambda: default_data_dir("local"))
    region: RegionConfig = Field(default_factory=RegionConfig)
    #: a linked multi-region cluster (``region`` is then one of its regions); None: a
    #: single-region cluster
    linked: LinkedConfig | None = None
    #: compute actors beside each serving zone's relay
    compute_per_zone: int = Field(default=2, ge=1, le=64)
    #: which zones run a relay and compute: "first" (the embedded default: one endpoint)
    #: or "all" (every zone serves; the default on a Ray cluster)
    serving_zones: Literal["first", "all"] = "first"
    #: where the adjudicators live: "spread" (adjudicator i in zone i mod 3: a zone's
    #: loss moves at most one) or "serving" (all in the first serving zone, beside its
    #: compute; for measuring the commit path's cross-zone hop)
    adjudicator_zones: Literal["spread", "serving"] = "spread"
    #: the address data-plane servers bind and register; None: Ray's node IP
    dataplane_host: str | None = "127.0.0.1"
    #: the Ray cluster deployed onto (``up --address``); None: the embedded local cluster
    ray_address: str | None = None
    #: upper bounds (exclusive) of every shard's key range but the last, as hex
    shard_splits: list[str] = Field(default_factory=lambda: [_default_split()])
    journal_quorum: int = 2
    #: a completeness promise is a lease this far (ms) past the adjudicator's clock, so
    #: storage is complete before reads arrive; 0: a promise covers only the present
    closed_lead_ms: float = Field(default=limits.closed_lead_ms, ge=0)
    #: how far (ms) past its clock an adjudicator journals the cap of the leases it may
    #: grant (one record per cap period); a restarted adjudicator commits above it
    lease_cap_ms: float = Field(default=limits.lease_cap_ms, gt=0)
    #: the most (ms) two hosts' clocks may differ: a commit is acknowledged only once
    #: the adjudicator's clock is this far past τ_commit, so a transaction that begins
    #: afterwards on any host starts above it (0: every role reads one clock)
    clock_error_ms: float = Field(default=0.0, ge=0)
    #: the server certificate (PEM) and its key; default: one generated at the first up
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: accept clients without TLS (local clusters only); by default TLS is required
    allow_plaintext: bool = False
    #: more names the cluster answers to (auth tokens, certificate) besides its own
    #: ``<id>.dsql.<region>.on.aws``, localhost and 127.0.0.1
    host_names: list[str] = Field(default_factory=list)
    #: connection limits, DSQL's by default: open connections (53300, the relay),
    #: new connections a second and the burst saved up for (53400, the relay), and a
    #: connection's lifetime in seconds (57P01, compute)
    max_connections: int = Field(default=int(limits.connections_max.value), ge=1)
    connection_rate: float = Field(default=float(limits.connection_rate_max.value), gt=0)
    connection_burst: int = Field(default=int(limits.connection_burst_max.value), ge=1)
    max_connection_age: float = Field(default=float(limits.connection_age_max.value), gt=0)

    @model_validator(mode="after")
    def _check_tls(self) -> ClusterConfig:
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("a TLS key needs its certificate (tls_cert)")
        if self.allow_plaintext and not (self.host and _is_loopback(self.host)):
            raise ValueError("plaintext clients are allowed only on a loopback address")
        return self

    @model_validator(mode="after")
    def _check_linked(self) -> ClusterConfig:
        if self.linked is not None and self.region.name not in self.linked.regions:
            raise ValueError(f"region {self.region.name} is not one of the linked "
                             f"regions {', '.join(self.linked.regions)}")
        return self

    @property
    def is_witness(self) -> bool:
        """This region only keeps journal replicas (no endpoint, storage or compute)."""
        return self.linked is not None and self.region.name == self.linked.witness

    def journal_zones(self) -> list[list[str]]:
        """The zones holding a replica of every journal stream, grouped by region."""
        if self.linked is None:
            return [list(self.region.zones)]
        return [list(self.region.zones) if r == self.region.name else region_zones(r)
                for r in self.linked.regions]

    @property
    def namespace(self) -> str:
        return f"dsql-{self.name}"

    @property
    def loopback(self) -> bool:
        """Every relay listens on one loopback address (so each zone takes its own port)."""
        return self.host is not None and _is_loopback(self.host)

    @property
    def shard_count(self) -> int:
        return len(self.shard_splits) + 1

    def shard_ranges(self) -> list[tuple[bytes, bytes | None]]:
        bounds = [bytes.fromhex(s) for s in self.shard_splits]
        lows = [b""] + bounds
        highs: list[bytes | None] = list(bounds) + [None]
        return list(zip(lows, highs))


def default_data_dir(name: str) -> Path:
    base = os.environ.get("DSQL_RAY_HOME") or os.path.join(Path.home(), ".dsql-ray")
    return Path(base) / name


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_split() -> str:
    # Shard 0 holds the catalog (table 0); shard 1 holds user tables. Control splits
    # further by range as data grows.
    return table_prefix(1).hex()
