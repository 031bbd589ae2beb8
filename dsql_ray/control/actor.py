"""The control actor: deploys every role actor through placement groups, keeps the registry.

Placement: one placement group per availability zone, its bundles selected by the
zone's node labels (``bundle_label_selector``), one bundle per role actor of the zone.
Actors are named and detached in the cluster's namespace, and restarted by Ray.
"""
from __future__ import annotations

import logging
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
from .control import Control

log = logging.getLogger(__name__)

ROLE_ACTORS = {"relay": RelayActor, "compute": ComputeActor, "adjudicator": AdjudicatorActor,
               "journal": JournalActor, "storage": StorageActor}
BUNDLE = {"CPU": 0.01}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=64)
class ControlActor:
    """Threaded (max_concurrency): lookups and heartbeats are served while deploy waits."""

    def __init__(self, config_json: str):
        self.config_json = config_json
        self.control = Control(ClusterConfig.model_validate_json(config_json))

    # -- registry (called by every role actor's heartbeat) -------------------------
    def register(self, name: str, info: dict[str, Any]) -> None:
        self.control.register(name, info)

    def lookup(self, name: str) -> dict[str, Any] | None:
        return self.control.lookup(name)

    # -- lifecycle ---------------------------------------------------------------------
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
                handles[spec.name] = ROLE_ACTORS[spec.role].options(
                    name=spec.name, namespace=cfg.namespace, lifetime="detached",
                    scheduling_strategy=PlacementGroupSchedulingStrategy(
                        pg, placement_group_bundle_index=index),
                ).remote(spec, self.config_json)
        infos = ray.get([h.ready.remote() for h in handles.values()], timeout=timeout_s)
        for info in infos:
            self.control.register(info["name"], info)
        return infos

    def status(self) -> list[dict[str, Any]]:
        labels = {n["NodeID"]: n.get("Labels", {}) for n in ray.nodes() if n["Alive"]}
        out = []
        for spec in self.control.specs:
            entry = dict(self.control.lookup(spec.name) or {"name": spec.name,
                                                            "role": spec.role})
            try:
                handle = ray.get_actor(spec.name, namespace=self.control.config.namespace)
                entry.update(ray.get(handle.status.remote(), timeout=10))
                entry["state"] = "ALIVE"
            except Exception as exc:  # noqa: BLE001 - report, don't fail the listing
                entry["state"] = f"UNREACHABLE ({type(exc).__name__})"
            node_labels = labels.get(entry.get("node_id"), {})
            entry["node_zone"] = node_labels.get("zone")
            entry["node_region"] = node_labels.get("region")
            out.append(entry)
        out.append({"name": "control", "role": "control", "state": "ALIVE",
                    "node_id": ray.get_runtime_context().get_node_id(),
                    "zone": self.control.config.region.zones[0],
                    "region": self.control.config.region.name})
        return out

    def shutdown(self) -> None:
        """Stop every role actor cleanly (journals close their files), then remove them."""
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
