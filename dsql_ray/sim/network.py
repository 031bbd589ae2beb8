"""A simulated network between roles: seeded delays (hence reordering across calls),
lost requests, lost replies (the callee acted, the caller never hears; either way the
connection breaks and the caller learns it after ``reset_after_s``), and nodes that are
down (connection refused). Calls reach the *current* instance of a role, so a restarted role is found.
A test can also lose one chosen request (:meth:`SimNetwork.lose_next`) to replay a fault
a seed found, without the seed."""
from __future__ import annotations

import asyncio
import random
from typing import Any, Callable

from ..errors import Unavailable


class SimNetwork:
    def __init__(self, rng: random.Random, *, mean_delay_s: float = 0.0005,
                 drop: float = 0.0, reset_after_s: float = 0.05):
        self.rng = rng
        self.reset_after_s = reset_after_s   # a broken connection is noticed this fast
        self.mean_delay_s = mean_delay_s
        self.drop = drop
        self.calls = 0
        self.dropped = 0
        self._scripted: set[tuple[str, str]] = set()   # (client name, method) to lose once

    def client(self, target: Callable[[], Any], name: str, *,
               timeout_s: float = 10.0) -> "SimClient":
        return SimClient(self, target, name, timeout_s)

    def delay(self) -> float:
        return self.rng.expovariate(1.0 / self.mean_delay_s) if self.mean_delay_s else 0.0

    def lose_next(self, name: str, method: str) -> None:
        """Lose the next request of ``method`` sent through the client named ``name``."""
        self._scripted.add((name, method))

    def lose_scripted(self, name: str, method: str) -> bool:
        if (name, method) not in self._scripted:
            return False
        self._scripted.discard((name, method))
        self.dropped += 1
        return True

    def lose(self) -> bool:
        if self.drop and self.rng.random() < self.drop:
            self.dropped += 1
            return True
        return False


class SimClient:
    """The RpcClient interface over the simulated network."""

    def __init__(self, net: SimNetwork, target: Callable[[], Any], name: str,
                 timeout_s: float = 10.0):
        self._net = net
        self._target = target
        self.name = name
        self.timeout_s = timeout_s

    async def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        net = self._net
        net.calls += 1
        timeout = self.timeout_s if timeout is None else timeout
        await asyncio.sleep(net.delay())
        handler = self._target()
        if handler is None:                           # down: the connection is refused
            raise Unavailable(f"{self.name} unreachable (simulated)")
        # the request was lost: the connection breaks (scripted first: it draws no number)
        if net.lose_scripted(self.name, method) or net.lose():
            await asyncio.sleep(min(timeout, net.reset_after_s))
            raise Unavailable(f"{self.name}: request lost (simulated)")
        result = getattr(handler, "rpc_" + method)(*args)
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            try:
                result = await asyncio.wait_for(result, timeout)
            except asyncio.TimeoutError:
                raise Unavailable(f"{self.name}.{method} timed out (simulated)") from None
        await asyncio.sleep(net.delay())
        if net.lose():            # the reply was lost: the callee acted, the caller never hears
            await asyncio.sleep(min(timeout, net.reset_after_s))
            raise Unavailable(f"{self.name}: reply lost (simulated)")
        return result
