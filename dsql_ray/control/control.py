"""The control role's state: the topology it deployed, the registry of live actors, and
where the adjudicators of a lost zone go."""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..config import ClusterConfig
from .topology import ActorSpec, plan_topology

log = logging.getLogger(__name__)

#: every role actor registers its address this often (its heartbeat)
HEARTBEAT_S = 1.0
#: a zone whose actors all missed this long of heartbeats counts as lost, without waiting
#: for Ray's node health check (about a minute with Ray's defaults)
ZONE_SILENT_S = 5.0


class Control:
    def __init__(self, config: ClusterConfig):
        self.config = config
        self.specs: list[ActorSpec] = plan_topology(config)
        self.registry: dict[str, dict[str, Any]] = {}
        self.retired: set[tuple[str, Any, Any]] = set()   # (name, node_id, pid) replaced
        self.lost: set[str] = set()                        # zones counted lost, last pass

    def register(self, name: str, info: dict[str, Any]) -> None:
        if (name, info.get("node_id"), info.get("pid")) in self.retired:
            return        # a late heartbeat of an instance that was replaced
        self.registry[name] = {**info, "seen": time.time()}

    def retire(self, name: str) -> None:
        """Forget the address of an actor that is being replaced: until its successor
        registers, a lookup says "not registered yet" at once instead of handing out an
        address on a dead host, and the old instance's late heartbeats are ignored."""
        entry = self.registry.pop(name, None)
        if entry and entry.get("pid") is not None:
            self.retired.add((name, entry.get("node_id"), entry.get("pid")))

    def lookup(self, name: str) -> dict[str, Any] | None:
        return self.registry.get(name)

    def address_of(self, name: str) -> dict[str, Any] | None:
        """A peer's entry, unless its zone is counted lost: an address on a dead or
        cut-off host is not handed out (a connection to it would only time out)."""
        entry = self.registry.get(name)
        return None if entry is None or entry.get("zone") in self.lost else entry

    def missing(self) -> list[str]:
        return [s.name for s in self.specs if s.name not in self.registry]

    def silent_zones(self, after_s: float, now: float | None = None) -> set[str]:
        """Zones none of whose registered actors has sent a heartbeat for ``after_s``:
        their host is dead or cut off, whatever Ray's node health check says yet."""
        now = time.time() if now is None else now
        last: dict[str, float] = {}
        for entry in self.registry.values():
            zone = entry.get("zone")
            last[zone] = max(last.get(zone, 0.0), entry.get("seen", 0.0))
        return {z for z, seen in last.items() if now - seen > after_s}

    def lost_zones(self, ray_alive: set[str], silent_after_s: float = ZONE_SILENT_S,
                   now: float | None = None) -> set[str]:
        """The zones to count lost: those with no live Ray node, and the one zone whose
        actors all went silent. Two silent zones at once are not counted: a region
        survives losing one zone only, and the likelier cause is this process stalling
        (heartbeats queued behind it) on a loaded machine."""
        silent = self.silent_zones(silent_after_s, now)
        if len(silent) > 1:
            log.warning("zones %s all silent at once: not counted lost", sorted(silent))
            silent = set()
        self.lost = {z for z in self.config.region.zones if z not in ray_alive} | silent
        return self.lost

    def specs_by_zone(self) -> dict[str, list[ActorSpec]]:
        zones: dict[str, list[ActorSpec]] = {}
        for spec in self.specs:
            zones.setdefault(spec.zone, []).append(spec)
        return zones


class Healer:
    """Decides which adjudicators move when zones die: an adjudicator holds no durable
    state (it rebuilds from a journal quorum), so it must not wait for its zone's node to
    come back. It moves to the surviving zone that holds the fewest adjudicators (ties:
    the zones' order) and stays there when its old zone returns."""

    def __init__(self, control: Control):
        self.control = control
        self.zone_of = {s.name: s.zone for s in control.specs if s.role == "adjudicator"}
        self.moved_at: dict[str, float] = {}

    def to_move(self, alive_zones: set[str]) -> list[ActorSpec]:
        # where each adjudicator registered from is the truth (a restarted control
        # starts from the plan; the heartbeats tell it where the actors really are)
        # (only a heartbeat newer than this control's own move of the actor: until the
        # moved actor has recovered and registered, the registry still shows the old zone)
        for name in self.zone_of:
            entry = self.control.lookup(name)
            if entry and entry.get("zone") and \
                    entry.get("seen", 0.0) > self.moved_at.get(name, 0.0):
                self.zone_of[name] = entry["zone"]
        zones = [z for z in self.control.config.region.zones if z in alive_zones]
        if not zones:
            return []
        out = []
        load = {z: 0 for z in zones}
        for zone in self.zone_of.values():
            if zone in load:
                load[zone] += 1
        for spec in self.control.specs:
            if spec.role != "adjudicator" or self.zone_of[spec.name] in alive_zones:
                continue
            target = min(zones, key=lambda z: (load[z], zones.index(z)))
            load[target] += 1
            out.append(dataclasses.replace(spec, zone=target))
        return out

    def moved(self, spec: ActorSpec, at: float | None = None) -> None:
        self.zone_of[spec.name] = spec.zone
        self.moved_at[spec.name] = time.time() if at is None else at
