"""Hosting one role in a process: its data plane on a private loop, its registration.

Ray actor wrappers create a RoleHost and delegate to it; the same class hosts a role in
a plain process for tests, so nothing here imports Ray.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any, Awaitable, Callable

from .loop import LoopThread
from .rpc import RpcServer, sent_counts

log = logging.getLogger(__name__)

Starter = Callable[..., Awaitable[Any]]


DATAPLANE_HOST_ENV = "DSQL_RAY_DATAPLANE_HOST"


def node_ip() -> str:
    """The address this process's data plane binds and registers, so peers on other
    hosts reach it: the node's address, which the Ray actor wrapper sets (Ray's node IP)
    unless the cluster is configured for loopback."""
    return os.environ.get(DATAPLANE_HOST_ENV, "127.0.0.1")


class RoleHost:
    def __init__(self, spec, config, directory, starter: Starter, *,
                 register: Callable[[dict[str, Any]], None] | None = None,
                 heartbeat_s: float = 2.0, extra_info: dict[str, Any] | None = None):
        self.spec = spec
        self.loop = LoopThread(spec.name)
        self.service = self.loop.run(starter(spec, config, directory), timeout=300)
        self.server = RpcServer(self.service, host=node_ip())
        address = self.loop.run(self.server.start())
        self.info: dict[str, Any] = {
            "name": spec.name, "role": spec.role, "region": spec.region, "zone": spec.zone,
            "address": list(address), "pid": os.getpid(), "host": socket.gethostname(),
            **(extra_info or {}), **getattr(self.service, "info", {}),
        }
        self._register = register
        self._stop = threading.Event()
        if register is not None:
            register(self.info)
            threading.Thread(target=self._heartbeat, args=(heartbeat_s,), daemon=True,
                             name=f"{spec.name}-heartbeat").start()

    def _heartbeat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self._register(self.info)
            except Exception as exc:  # noqa: BLE001 - control may be restarting
                log.debug("heartbeat failed: %r", exc)

    def status(self) -> dict[str, Any]:
        status = getattr(self.service, "rpc_status", None)
        detail = self.loop.run(_maybe_async(status)) if status else {}
        # requests this process sent, by kind (the round trips, loadtests/round_trips.py)
        return {**self.info, **detail, "rpc_sent": sent_counts()}

    def shutdown(self) -> None:
        self._stop.set()
        stop = getattr(self.service, "stop", None)
        if stop is not None:
            self.loop.run(_maybe_async(stop), timeout=30)
        self.loop.run(self.server.stop())


async def _maybe_async(fn: Callable[[], Any]) -> Any:
    result = fn()
    if hasattr(result, "__await__"):
        result = await result
    return result
