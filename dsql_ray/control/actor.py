"""The control actor: deploys every role actor through placement groups, keeps the registry,
and moves the adjudicators of a lost zone.

Placement: one placement group per availability zone, its bundles selected by the
zone's node labels (``bundle_label_selector``), one bundle per role actor of the zone.
Actors are named and detached in the cluster's namespace, and restarted by Ray. When a
zone's node dies, Ray keeps that zone's placement group waiting for a node with its
labels (its journal and storage replicas restart there when the zone comes back); the
adjudicators that lived there cannot wait, so control rebuilds them from the journal in
a surviving zone (:class:`~dsql_ray.control.control.Healer` decides, this file acts).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from ..adjudicator.actor import AdjudicatorActor
from ..compute.actor import ComputeActor
from ..config import ClusterConfig
from ..journal.actor import JournalActor
from ..relay.actor import RelayActor
from ..storage.actor import StorageActor
from .control import ZONE_SILENT_S, Control, Healer

log = logging.getLogger(__name__)

ROLE_ACTORS = {"relay": RelayActor, "compute": ComputeActor, "adjudicator": AdjudicatorActor,
               "journal": JournalActor, "storage": StorageActor}
BUNDLE = {"CPU": 0.01}
HEAL_EVERY_S = 1.0
#: a rebuilt adjudicator asks for this sliver of a CPU: Ray's GCS forwards the creation of
#: an actor that asks for nothing to a random live node, which can be the lost zone's
#: (not yet declared dead), where it waits until Ray's health check gives up on that
#: node (measured: 22 s); with a requirement it goes to the owner's node (control's),
#: whose raylet places it by its label selector
FORWARD_CPUS = 0.001


def alive_zones(region: str) -> set[str]:
    return {n.get("Labels", {}).get("zone") for n in ray.nodes()
            if n["Alive"] and n.get("Labels", {}).get("region") == region}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=64)
class ControlActor:
    """Threaded (max_concurrency): lookups and heartbeats are served while deploy waits."""

    def __init__(self, config_json: str, files: dict[str, str] | None = None):
        self.config_json = config_json
        self.files = files or {}
        self.control = Control(ClusterConfig.model_validate_json(config_json))
        self.healer = Healer(self.control)
        self._stop = threading.Event()
        self._healing: threading.Thread | None = None
        self.moves: list[dict[str, Any]] = []
        if ray.get_runtime_context().was_current_actor_reconstructed:
            # restarted by Ray: heal again, once heartbeats (every HEARTBEAT_S) have
            # told the empty registry where every actor lives now
            self.start_healing(after_s=ZONE_SILENT_S)

    # -- registry (called by every role actor's heartbeat) -------------------------
    def register(self, name: str, info: dict[str, Any]) -> None:
        self.control.register(name, info)

    def lookup(self, name: str) -> dict[str, Any] | None:
        return self.control.address_of(name)

    # -- lifecycle ---------------------------------------------------------------------
    def _start(self, spec, **placement) -> Any:
        cfg = self.control.config
        return ROLE_ACTORS[spec.role].options(
            name=spec.name, namespace=cfg.namespace, lifetime="detached", **placement,
        ).remote(spec, self.config_json, self.files)

    def deploy(self, timeout_s: float = 240.0) -> list[dict[str, Any]]:
        cfg = self.control.config
        handles = {}
        for zone, specs in self.control.specs_by_zone().items():
            labels = {"region": cfg.region.name, "zone": zone}
            pg = placement_group([BUNDLE] * len(specs), strategy="STRICT_PACK",
                                 name=f"{cfg.namespace}-{zone}", lifetime="detached",
                                 bundle_label_selector=[labels] * len(specs))
            ray.get(pg.ready(), timeout=timeout_s)
            for index, spec in enumerate(specs):
                handles[spec.name] = self._start(
                    spec, scheduling_strategy=PlacementGroupSchedulingStrategy(
                        pg, placement_group_bundle_index=index))
        infos = ray.get([h.ready.remote() for h in handles.values()], timeout=timeout_s)
        for info in infos:
            self.control.register(info["name"], info)
        self.start_healing()
        return infos

    def start_healing(self, after_s: float = 0.0) -> None:
        if self._healing is None:
            self._healing = threading.Thread(target=self._heal_loop, args=(after_s,),
                                             daemon=True, name="control-heal")
            self._healing.start()

    def _heal_loop(self, after_s: float) -> None:
        if self._stop.wait(after_s):
            return
        while not self._stop.wait(HEAL_EVERY_S):
            try:
                self.heal_once()
            except Exception:  # noqa: BLE001 - keep watching
                log.exception("healing pass failed")

    def heal_once(self) -> list[dict[str, Any]]:
        """Rebuild, in a surviving zone, every adjudicator whose zone has no live node."""
        cfg = self.control.config
        done = []
        before = set(self.control.lost)
        lost = self.control.lost_zones(alive_zones(cfg.region.name))
        if lost != before:
            log.warning("zones counted lost: %s (were %s) at %.1f", sorted(lost),
                        sorted(before), time.time())
        alive = set(cfg.region.zones) - lost
        for spec in self.healer.to_move(alive):
            t0 = time.monotonic()
            ns = cfg.namespace
            self.control.retire(spec.name)     # before its successor can register
            try:
                ray.kill(ray.get_actor(spec.name, namespace=ns), no_restart=True)
            except ValueError:
                pass
            deadline = time.monotonic() + 30
            while True:          # the name is free once GCS has the old actor dead
                try:
                    handle = self._start(spec, num_cpus=FORWARD_CPUS,
                                         label_selector={"region": cfg.region.name,
                                                         "zone": spec.zone})
                    break
                except ValueError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            self.healer.moved(spec)
            move = {"name": spec.name, "to_zone": spec.zone, "at": time.time(),
                    "started_s": round(time.monotonic() - t0, 2)}
            log.warning("moved %s to %s at %.1f", spec.name, spec.zone, time.time())
            self.moves.append(move)
            done.append(move)
            del handle
        return done

    def status(self) -> list[dict[str, Any]]:
        nodes = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}
        ns = self.control.config.namespace
        asked = {}
        for spec in self.control.specs:          # ask every actor at once: a dead host
            try:                                 # costs one timeout, not one per actor
                asked[spec.name] = ray.get_actor(spec.name, namespace=ns).status.remote()
            except Exception as exc:  # noqa: BLE001
                asked[spec.name] = exc
        refs = [r for r in asked.values() if isinstance(r, ray.ObjectRef)]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=10)
        ready = set(ready)
        out = []
        for spec in self.control.specs:
            entry = dict(self.control.lookup(spec.name) or {"name": spec.name,
                                                            "role": spec.role})
            ref = asked[spec.name]
            try:
                if not isinstance(ref, ray.ObjectRef):
                    raise ref
                if ref not in ready:
                    raise TimeoutError("no answer in 10 s")
                entry.update(ray.get(ref))
                entry["state"] = "ALIVE"
            except Exception as exc:  # noqa: BLE001 - report, don't fail the listing
                entry["state"] = f"UNREACHABLE ({type(exc).__name__})"
            node = nodes.get(entry.get("node_id"), {})
            entry["node_zone"] = node.get("Labels", {}).get("zone")
            entry["node_region"] = node.get("Labels", {}).get("region")
            entry["node_ip"] = node.get("NodeManagerAddress")
            out.append(entry)
        here = ray.get_runtime_context().get_node_id()
        out.append({"name": "control", "role": "control", "state": "ALIVE",
                    "node_id": here,
                    "node_ip": nodes.get(here, {}).get("NodeManagerAddress"),
                    "zone": nodes.get(here, {}).get("Labels", {}).get("zone"),
                    "region": self.control.config.region.name, "moves": self.moves})
        return out

    def shutdown(self) -> None:
        """Stop every role actor cleanly (journals close their files), then remove them."""
        self._stop.set()
        ns = self.control.config.namespace
        handles = []
        for spec in reversed(self.control.specs):   # front end first, journals last
            try:
                handles.append(ray.get_actor(spec.name, namespace=ns))
            except ValueError:
                continue
        for h in handles:
            try:
                ray.get(h.shutdown.remote(), timeout=30)
            except Exception as exc:  # noqa: BLE001
                log.warning("shutdown of an actor failed: %r", exc)
            ray.kill(h, no_restart=True)
        for zone in self.control.specs_by_zone():
            try:
                remove_placement_group(ray.util.get_placement_group(f"{ns}-{zone}"))
            except Exception:  # noqa: BLE001
                pass
        time.sleep(0.2)
