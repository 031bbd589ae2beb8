"""Finding a cluster's compute actors through Ray, and the data-plane link to one.

Every role actor of cluster ``NAME`` is a named detached actor in the Ray namespace
``dsql-NAME`` and registers its data-plane address with the control actor. A client
lists the ``compute-*`` actors, prefers those in its own zone (its node's ``zone``
label), and talks to the chosen one over a pipelined data-plane connection
(:class:`~dsql_ray.transport.rpc.RpcClient`), re-resolved through control if the
compute restarts. Ray is used to find, never per statement.
"""
from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from ..control.directory import RayDirectory
from ..transport.loop import LoopThread
from ..transport.rpc import RpcClient
from .errors import OperationalError

_lock = threading.Lock()
_loop: LoopThread | None = None
_clusters: dict[tuple, tuple[float, "Cluster"]] = {}


def namespace(cluster: str) -> str:
    return f"dsql-{cluster}"


def ensure_ray(cluster: str, address: str | None) -> None:
    """Join the cluster's Ray if this process is not in Ray yet: ``address``, else the
    address a local cluster (``dsql-ray up --name CLUSTER``) wrote to its state file."""
    import ray
    if ray.is_initialized():
        return
    if address is None:
        from ..config import default_data_dir
        state = Path(default_data_dir(cluster)) / "state.json"
        if state.exists():
            address = json.loads(state.read_text()).get("ray_address")
    if address is None:
        raise OperationalError(f"not in Ray and no local cluster {cluster!r} found: pass "
                               "address= (the Ray head, e.g. 10.0.0.1:6379) or call "
                               "ray.init(address=...) first")
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")


def loop_thread() -> LoopThread:
    """The process's client event loop (a daemon thread) for synchronous connections."""
    global _loop
    with _lock:
        if _loop is None:
            _loop = LoopThread("dsql-ray-client")
        return _loop


class Cluster:
    """A cluster as this process sees it: control's handle and its compute actors."""

    def __init__(self, name: str):
        import ray
        self.name = name
        ns = namespace(name)
        try:
            self.control = ray.get_actor("control", namespace=ns)
        except ValueError:
            raise OperationalError(f"no dsql-ray cluster named {name!r} in this Ray "
                                   f"cluster (no control actor in namespace {ns!r})") from None
        self.directory = RayDirectory(self.control)
        names = sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                       if a["namespace"] == ns and a["name"].startswith("compute-"))
        if not names:
            raise OperationalError(f"cluster {name!r} has no compute actor")
        entries = ray.get([self.control.lookup.remote(n) for n in names], timeout=30)
        self.computes = {n: (e or {}) for n, e in zip(names, entries)}
        self._clients: dict[tuple[int, str], RpcClient] = {}

    def pick_compute(self) -> str:
        """A compute in this process's zone if there is one, else any; at random, so
        many clients spread over the pool."""
        zone = my_zone()
        near = [n for n, e in self.computes.items() if zone and e.get("zone") == zone]
        return random.choice(near or list(self.computes))

    def client(self, name: str) -> RpcClient:
        """The data-plane link to ``name`` for the running event loop (one per loop)."""
        key = (id(asyncio.get_running_loop()), name)
        rpc = self._clients.get(key)
        if rpc is None:
            rpc = self._clients[key] = self.directory.client(name)
        return rpc

    def storage_address(self, name: str) -> dict[str, Any]:
        import ray
        entry = ray.get(self.control.lookup.remote(name), timeout=30)
        if not entry or not entry.get("address"):
            raise OperationalError(f"{name} is not registered")
        return entry


def cluster(name: str, address: str | None = None) -> Cluster:
    import ray
    ensure_ray(name, address)
    now = time.monotonic()
    key = (name, ray.get_runtime_context().get_job_id())   # a new ray.init: ask again
    with _lock:
        cached = _clusters.get(key)
        if cached is not None:
            return cached[1]
    found = Cluster(name)
    with _lock:
        return _clusters.setdefault(key, (now, found))[1]


_zone: list[str | None] = []


def my_zone() -> str | None:
    """The ``zone`` label of the node this process runs on."""
    if not _zone:
        import ray
        try:
            _zone.append(ray.get_runtime_context().get_node_labels().get("zone"))
        except Exception:  # noqa: BLE001 - no labels: no preference
            _zone.append(None)
    return _zone[0]
