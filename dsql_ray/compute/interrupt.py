"""Stopping a session's running statement when a CancelRequest arrives (57014).

A cancel may arrive on any thread (compute reads plain CancelRequests off its event
loop). The statement it targets is either computing (the synchronous query engine, on
the loop or in a worker thread; the key-aware path's row loops), which calls :meth:`Interrupter.check` at checkpoints, or
awaiting storage (a read waits up to ``limits.read_wait_max_s`` for completeness), which
:func:`interruptible` abandons at once. Either way the statement fails with 57014 and the
session stays usable.

The running statement's :class:`Interrupter` travels in a context variable, so the read
paths (``txn.py``) and the row loops (``plan/``) find it without being handed it.
Only reads are interruptible: a COMMIT in flight always runs to its outcome.
"""
from __future__ import annotations

import asyncio
import contextlib
from contextvars import ContextVar
from typing import Awaitable, Iterable, Iterator, TypeVar

from .. import limits
from ..errors import DsqlError

T = TypeVar("T")

#: rows between two checkpoints in a row loop
CHECK_EVERY = 1024

_current: ContextVar["Interrupter | None"] = ContextVar("dsql_ray_interrupter",
                                                        default=None)


class QueryCanceled(DsqlError):
    sqlstate = limits.query_canceled.sqlstate

    def __init__(self, message: str = limits.query_canceled.message, **kw):
        super().__init__(message, **kw)


class Interrupter:
    """One session's cancel point. ``request_cancel`` may be called from any thread, and
    ``check`` also runs in the engine's worker thread computing the session's statement
    (query/threads.py); everything else runs on the session's event loop. A cancel applies to the statement
    running when it arrives (statements are numbered), never to a later one."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self._loop = loop or asyncio.get_running_loop()
        self.running = 0        # number of the statement running now, 0 when idle
        self.cancel = 0         # number of the statement a cancel was asked for
        self.seq = 0
        self._waiting: set[asyncio.Task] = set()    # tasks awaiting a read
        self._woken: set[asyncio.Task] = set()      # ... that a cancel interrupted

    @contextlib.contextmanager
    def statement(self) -> Iterator[None]:
        """Bracket one statement (on the loop, in the session's task)."""
        self.seq += 1
        self.running = self.seq
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)
            self.running = 0
            self.cancel = 0

    def request_cancel(self) -> bool:
        """Any thread. Mark the running statement canceled; wake it if it waits on a
        read. False when idle (nothing to cancel: PostgreSQL ignores it too)."""
        running = self.running
        if not running:
            return False
        self.cancel = running
        try:
            self._loop.call_soon_threadsafe(self._wake, running)
        except RuntimeError:    # the loop is closed: nothing is waiting any more
            pass
        return True

    def _wake(self, seq: int) -> None:
        if self.running != seq or self.cancel != seq:
            return
        for task in self._waiting - self._woken:
            self._woken.add(task)
            task.cancel()

    def check(self) -> None:
        """Raise 57014 if a cancel arrived for the running statement."""
        if self.running and self.cancel == self.running:
            self.cancel = 0
            raise QueryCanceled()

    async def wait(self, aw: Awaitable[T]) -> T:
        """Await ``aw`` (a read); a cancel abandons it and raises 57014."""
        self.check()
        task = asyncio.current_task()
        self._waiting.add(task)
        try:
            result = await aw
        except asyncio.CancelledError:
            if task not in self._woken or task.uncancel() > 0:
                raise               # not (only) ours: the session itself is ending
            self.cancel = 0
            raise QueryCanceled() from None
        finally:
            self._waiting.discard(task)
            woken = task in self._woken
            self._woken.discard(task)
        if woken:                   # the read ignored the wake-up: the cancel still holds
            task.uncancel()
            self.cancel = 0
            raise QueryCanceled()
        return result


def current() -> Interrupter | None:
    return _current.get()


def check_interrupt() -> None:
    """A checkpoint: raise 57014 if the running statement was canceled."""
    interrupter = _current.get()
    if interrupter is not None:
        interrupter.check()


async def interruptible(aw: Awaitable[T]) -> T:
    """Await a read so that a cancel of the running statement abandons it (57014)."""
    interrupter = _current.get()
    if interrupter is None:
        return await aw
    return await interrupter.wait(aw)


def checkpoints(rows: Iterable[T], every: int = CHECK_EVERY) -> Iterator[T]:
    """``rows``, with a checkpoint before each batch of ``every`` rows."""
    interrupter = _current.get()
    if interrupter is None:
        yield from rows
        return
    for i, row in enumerate(rows):
        if i % every == 0:
            interrupter.check()
        yield row
