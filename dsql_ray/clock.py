"""Hybrid logical clock: timestamps are integer microseconds that never go backwards.

``now()`` returns max(physical µs, last + 1), so it tracks wall-clock time, is strictly
increasing within a process, and absorbs timestamps seen from peers through ``update``.
A restart is safe when the owner seeds ``floor`` with the highest timestamp it made
durable (the adjudicator reads it back from the journal).
"""
from __future__ import annotations

import time
from typing import Callable


def wall_us() -> int:
    return time.time_ns() // 1000


class HybridLogicalClock:
    def __init__(self, physical: Callable[[], int] = wall_us, floor: int = 0):
        self._physical = physical
        self._last = floor

    def now(self) -> int:
        ts = self._physical()
        if ts <= self._last:
            ts = self._last + 1
        self._last = ts
        return ts

    def physical(self) -> int:
        """The physical clock alone (µs): what a peer reading wall time would see."""
        return self._physical()

    def update(self, seen: int) -> None:
        """Absorb a timestamp from elsewhere: later ``now()`` values exceed it."""
        if seen > self._last:
            self._last = seen

    @property
    def last(self) -> int:
        return self._last
