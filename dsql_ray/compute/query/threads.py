"""Long engine work off the event loop.

The engine is synchronous: a statement's operators run to completion once its tables are
scanned. Run on compute's event loop, one long statement (a big join, aggregate or sort,
generate_series) would hold up every other session of the process. So a statement whose
input is large, or that generates rows (set-returning functions, recursive CTEs: sizes
unknown before they run), computes in a worker thread while the loop keeps serving; the
GIL's switch interval (lowered to 1 ms in compute, ``SWITCH_INTERVAL_S``) lets the
loop in between. Small statements stay inline: a thread hop costs ~50–100 µs, more
than most of them take.

A worker cannot be cancelled from outside, so the engine stops itself: a cancel (57014)
is a flag its row checkpoints read (``EngineConfig.interrupt``), and a statement whose
session stopped waiting for it (the session ended) is marked abandoned and stops at its
next checkpoint.

The executor's queue holds at most one statement per session (a session awaits each
statement before the next; sessions are bounded by ``limits.connections_max``).
"""
from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from .runtime import RunState

T = TypeVar("T")

#: worker threads per compute process running long statements (the GIL runs one at a time;
#: two let a second long statement progress beside the first instead of waiting for it)
ENGINE_THREADS = 2
#: rows a statement's scanned tables may hold in all and still compute on the event loop
INLINE_MAX_ROWS = 2_000

#: the compute process's GIL switch interval (Python's default: 5 ms): how long the loop
#: may wait for the GIL while a worker computes, once per wake-up
SWITCH_INTERVAL_S = 0.001

_executor = ThreadPoolExecutor(max_workers=ENGINE_THREADS, thread_name_prefix="dsql-engine")


def runs_inline(input_rows: int, generates: bool) -> bool:
    """Whether a statement with ``input_rows`` scanned rows computes on the loop."""
    return input_rows <= INLINE_MAX_ROWS and not generates


async def compute(fn: Callable[[], T], run: RunState, inline: bool) -> T:
    """``fn()``: inline, or in a worker thread (with the caller's context variables)
    while the loop serves other sessions. A loop on virtual time (the simulation) keeps
    everything inline: a thread would finish in real time and break its replay."""
    loop = asyncio.get_running_loop()
    if inline or getattr(loop, "virtual_time", False):
        return fn()
    future = loop.run_in_executor(_executor, contextvars.copy_context().run, fn)
    try:
        return await future
    except asyncio.CancelledError:
        run.abandoned = True        # the worker stops at its next checkpoint
        raise
