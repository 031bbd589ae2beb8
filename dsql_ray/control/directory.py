"""Finding a role's data-plane address by actor name.

Role logic receives a directory and never imports Ray: in a cluster the directory asks
the control actor (a Ray call, off the per-statement path, cached until a connection
breaks); in tests and the simulation it is a dict.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ..errors import Unavailable
from ..transport.rpc import RpcClient


class Directory:
    """Resolves names to addresses; subclasses say how."""

    async def lookup(self, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def resolver(self, name: str, key: str = "address") -> Callable[[], Awaitable[tuple]]:
        async def resolve() -> tuple:
            entry = await self.lookup(name)
            if not entry or not entry.get(key):
                raise Unavailable(f"{name} is not registered yet")
            return tuple(entry[key])
        return resolve

    def client(self, name: str, **kw: Any) -> RpcClient:
        return RpcClient(self.resolver(name), name=name, **kw)


class StaticDirectory(Directory):
    def __init__(self, entries: dict[str, dict[str, Any]] | None = None):
        self.entries = entries if entries is not None else {}

    async def lookup(self, name: str) -> dict[str, Any] | None:
        return self.entries.get(name)


class RayDirectory(Directory):
    """Asks the control actor; the blocking Ray call runs in a worker thread."""

    def __init__(self, control_handle: Any):
        self._control = control_handle

    async def lookup(self, name: str) -> dict[str, Any] | None:
        import ray
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: ray.get(self._control.lookup.remote(name), timeout=10))
