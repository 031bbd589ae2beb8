"""Deploying onto a Ray cluster that ``ray up`` or ``ray start`` created (``up --address``).

The cluster's nodes carry ``region`` and ``zone`` labels. ``up`` checks that the region
has a live node in each of its three zones (else it names the missing zones and starts
nothing), starts the control actor in the first zone, lets it deploy every role, and
returns the state that the registry of running clusters keeps.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..config import ClusterConfig

SHARED_FILES = ("cluster-id", "credentials.json", "tls/server.crt", "tls/server.key")


class DeployError(Exception):
    pass


def missing_zones(nodes: list[dict[str, Any]], config: ClusterConfig) -> list[str]:
    """The region's zones that have no live node labelled with them."""
    have = {(n.get("Labels") or {}).get("zone") for n in nodes
            if n.get("Alive") and (n.get("Labels") or {}).get("region") == config.region.name}
    return [z for z in config.region.zones if z not in have]


def shared_files(config: ClusterConfig) -> dict[str, str]:
    """The files every serving node needs (cluster id, trusted credentials, TLS)."""
    out = {}
    for rel in SHARED_FILES:
        path = Path(config.data_dir) / rel
        if path.exists():
            out[rel] = path.read_text()
    if config.tls_cert is not None:
        out["tls/server.crt"] = Path(config.tls_cert).read_text()
        if config.tls_key is not None:
            out["tls/server.key"] = Path(config.tls_key).read_text()
    return out


def ray_init(address: str, namespace: str) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    ray.init(address=address, namespace=namespace, log_to_driver=False,
             logging_level="ERROR")


def deploy_onto(config: ClusterConfig, timeout_s: float = 240.0,
                wait_zones_s: float = 0.0) -> dict[str, Any]:
    """Deploy every role onto the running Ray cluster at ``config.ray_address``, after
    waiting up to ``wait_zones_s`` for a node of every zone to join."""
    import ray

    from ..local.supervisor import endpoints
    from .actor import ControlActor

    t0 = time.monotonic()
    ray_init(config.ray_address, config.namespace)
    try:
        deadline = time.monotonic() + wait_zones_s
        while (missing := missing_zones(ray.nodes(), config)) and \
                time.monotonic() < deadline:
            time.sleep(2.0)
        if missing:
            raise DeployError(
                f"the Ray cluster at {config.ray_address} has no live node labelled "
                f"region={config.region.name} for zone(s) {', '.join(missing)}; start one "
                f"per zone with `ray start ... --labels=region={config.region.name},"
                f"zone=<zone>`; nothing was started")
        try:
            ray.get_actor("control", namespace=config.namespace)
            raise DeployError(f"cluster {config.name!r} is already deployed on this Ray "
                              "cluster")
        except ValueError:
            pass
        # control lives in the first zone, the head's (a soft preference let Ray place
        # it in another zone, whose loss then took control and the healing with it);
        # by label, not node id, so a replaced head node (GCS fault tolerance) takes it
        control = ControlActor.options(
            name="control", lifetime="detached",
            label_selector={"region": config.region.name, "zone": config.region.zones[0]},
        ).remote(config.model_dump_json(), shared_files(config))
        try:
            infos = ray.get(control.deploy.remote(timeout_s), timeout=timeout_s + 30)
        except Exception:
            _stop(control)
            raise
        address = ray.get_runtime_context().gcs_address
        return {"mode": "ray", "ray_address": address, "name": config.name,
                "namespace": config.namespace, "port": config.port,
                "data_dir": str(config.data_dir), "endpoints": endpoints(infos),
                "started_s": round(time.monotonic() - t0, 2)}
    finally:
        ray.shutdown()


def _stop(control) -> None:
    import ray
    try:
        ray.get(control.shutdown.remote(), timeout=180)
    finally:
        ray.kill(control, no_restart=True)


def undeploy(state: dict[str, Any]) -> bool:
    """Stop a deployed cluster's roles (data kept); False if it was not running."""
    import ray
    ray_init(state["ray_address"], state["namespace"])
    try:
        try:
            control = ray.get_actor("control", namespace=state["namespace"])
        except ValueError:
            return False
        _stop(control)
        return True
    finally:
        ray.shutdown()


def is_deployed(state: dict[str, Any]) -> bool:
    import ray
    try:
        ray_init(state["ray_address"], state["namespace"])
    except Exception:  # noqa: BLE001 - the Ray cluster itself is gone
        return False
    try:
        ray.get_actor("control", namespace=state["namespace"])
        return True
    except ValueError:
        return False
    finally:
        ray.shutdown()
