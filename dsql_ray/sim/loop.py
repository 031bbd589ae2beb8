"""A deterministic event loop on virtual time.

Nothing in a simulation does real I/O (roles talk through simulated clients), so the
selector never waits: asked to wait for ``t`` seconds it advances the virtual clock by
``t`` and reports no events. Timers, ``asyncio.sleep`` and ``wait_for`` then run in
virtual time, as fast as the CPU allows, in an order fixed by the program alone.
"""
from __future__ import annotations

import asyncio
import selectors


class SimulationStuck(RuntimeError):
    """Nothing is ready and no timer is set: every task waits on something that never comes."""


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self, loop: "SimEventLoop"):
        self._loop = loop
        self._keys: dict[int, selectors.SelectorKey] = {}

    def register(self, fileobj, events, data=None):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self._keys.pop(fd)

    def modify(self, fileobj, events, data=None):
        self.unregister(fileobj)
        return self.register(fileobj, events, data)

    def select(self, timeout=None):
        if timeout is None:
            raise SimulationStuck("no task is ready and no timer is pending")
        self._loop.advance(max(timeout, 0.0))
        return []

    def get_map(self):
        return self._keys

    def close(self) -> None:
        self._keys.clear()


class SimEventLoop(asyncio.SelectorEventLoop):
    #: roles keep their work on the loop (compute/query/threads.py): a worker thread
    #: would finish in real time and break a seed's replay
    virtual_time = True

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def close_loop(loop: asyncio.AbstractEventLoop, timeout_s: float = 60.0) -> None:
    """Cancel every task still pending, let each finish cancelling, then close the loop."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=timeout_s))
    loop.close()
