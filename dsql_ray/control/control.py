"""The control role's state: the topology it deployed and the registry of live actors."""
from __future__ import annotations

import time
from typing import Any

from ..config import ClusterConfig
from .topology import ActorSpec, plan_topology


class Control:
    def __init__(self, config: ClusterConfig):
        self.config = config
        self.specs: list[ActorSpec] = plan_topology(config)
        self.registry: dict[str, dict[str, Any]] = {}

    def register(self, name: str, info: dict[str, Any]) -> None:
        self.registry[name] = {**info, "seen": time.time()}

    def lookup(self, name: str) -> dict[str, Any] | None:
        return self.registry.get(name)

    def missing(self) -> list[str]:
        return [s.name for s in self.specs if s.name not in self.registry]

    def specs_by_zone(self) -> dict[str, list[ActorSpec]]:
        zones: dict[str, list[ActorSpec]] = {}
        for spec in self.specs:
            zones.setdefault(spec.zone, []).append(spec)
        return zones
