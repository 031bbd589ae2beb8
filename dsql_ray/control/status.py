"""Asking a running cluster's control actor for every actor's row (``dsql-ray status``):
a Ray client, so it lives in control, not in the CLI."""
from __future__ import annotations

import os


def cluster_status(state: dict) -> list[dict] | None:
    """Every actor's row from the control actor; None if the cluster is not running."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray      # here, not at the top: every other CLI command starts without Ray

    from .deploy import ray_init
    try:
        ray_init(state["ray_address"], state["namespace"])
    except Exception:  # noqa: BLE001 - the Ray cluster is gone
        return None
    try:
        try:
            control = ray.get_actor("control", namespace=state["namespace"])
        except ValueError:
            return None
        return ray.get(control.status.remote(), timeout=60)
    finally:
        ray.shutdown()
