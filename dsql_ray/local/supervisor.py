"""The local cluster: a Ray cluster of one node per availability zone on this machine.

``dsql-ray up`` runs this in a background process. It starts a Ray head node labelled
with the first zone and one more node per other zone (real raylets, so placement by
label is real), deploys the control actor on the head, lets control deploy every role,
writes ``state.json`` in the data directory, and waits. SIGTERM (``dsql-ray down``)
stops the roles cleanly, then the Ray nodes.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..config import ClusterConfig
from . import registry

log = logging.getLogger("dsql_ray.supervisor")


def state_path(config: ClusterConfig) -> Path:
    return Path(config.data_dir) / "state.json"


def read_state(config: ClusterConfig) -> dict | None:
    """The live embedded cluster of this config's data directory, if any."""
    try:
        state = json.loads(state_path(config).read_text())
    except (OSError, ValueError):
        return None
    return state if registry.process_alive(state.get("pid")) else None


def _ray_env() -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def start_ray_nodes(config: ClusterConfig):
    """One labelled Ray node per zone; returns the ray.cluster_utils.Cluster."""
    _ray_env()
    from ray.cluster_utils import Cluster
    region = config.region.name
    zones = config.region.zones
    common = dict(num_cpus=4,
                  object_store_memory=80 * 1024 * 1024)
    cluster = Cluster(initialize_head=True, head_node_args=dict(
        common, include_dashboard=False, labels={"region": region, "zone": zones[0]}))
    for zone in zones[1:]:
        cluster.add_node(**common, labels={"region": region, "zone": zone})
    return cluster


def endpoints(infos: list[dict]) -> dict[str, list]:
    """Every serving zone's client endpoint, from the relays' registrations."""
    return {i["zone"]: i["endpoint"] for i in infos if i.get("role") == "relay"}


def run(config: ClusterConfig) -> int:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from ..control.actor import ControlActor

    t0 = time.monotonic()
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    cluster = start_ray_nodes(config)
    ray.init(address=cluster.address, namespace=config.namespace, log_to_driver=False)
    head = ray.get_runtime_context().get_node_id()
    control = ControlActor.options(
        name="control", lifetime="detached",
        scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False),
    ).remote(config.model_dump_json())
    infos = ray.get(control.deploy.remote())
    state = {"mode": "embedded", "pid": os.getpid(), "ray_address": cluster.address,
             "name": config.name, "namespace": config.namespace, "host": config.host,
             "port": config.port, "data_dir": str(config.data_dir),
             "endpoints": endpoints(infos), "started_s": round(time.monotonic() - t0, 2)}
    state_path(config).write_text(json.dumps(state))
    registry.write(config.name, state)
    log.info("cluster %s up in %.1fs", config.name, time.monotonic() - t0)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    log.info("stopping cluster %s", config.name)
    try:
        ray.get(control.shutdown.remote(), timeout=120)
        ray.kill(control, no_restart=True)
    except Exception:  # noqa: BLE001 - stop the nodes regardless
        log.exception("clean shutdown failed")
    ray.shutdown()
    cluster.shutdown()
    state_path(config).unlink(missing_ok=True)
    registry.remove(config.name, pid=os.getpid())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dsql-ray-supervisor")
    parser.add_argument("--config-json", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return run(ClusterConfig.model_validate_json(args.config_json))


if __name__ == "__main__":
    sys.exit(main())
