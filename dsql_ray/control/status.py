"""Asking a running cluster's control actor for every actor's row (``dsql-ray status``):
a Ray client, so it lives in control, not in the CLI."""
from __future__ import annotations

import os


def cluster_status(state: dict) -> list[dict]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray      # here, not at the top: every other CLI command starts without Ray
    ray.init(address=state["ray_address"], namespace=state["namespace"],
             log_to_driver=False, logging_level="ERROR")
    try:
        control = ray.get_actor("control", namespace=state["namespace"])
        return ray.get(control.status.remote(), timeout=60)
    finally:
        ray.shutdown()
