"""Running a transaction with retries on 40001, as AWS's DSQL connectors do."""
from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Callable, TypeVar

from .errors import SerializationFailure

T = TypeVar("T")

RETRIES = 10
BASE_DELAY_S = 0.01
MAX_DELAY_S = 1.0


def backoff(attempt: int, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)]."""
    return random.uniform(0, min(cap, base * (2 ** attempt)))


def run_transaction(conn, fn: Callable[[Any], T], *, retries: int = RETRIES,
                    base_delay_s: float = BASE_DELAY_S,
                    max_delay_s: float = MAX_DELAY_S) -> T:
    """Run ``fn(cursor)`` in a transaction and commit it; on 40001 (OC000 data conflict,
    OC001 schema change) roll back, wait (exponential backoff with jitter) and run it
    again, at most ``retries`` more times, then raise the last error. Any other error
    rolls back and propagates. Returns what ``fn`` returned in the attempt that
    committed. ``conn`` must not be in autocommit mode (each statement would commit
    on its own)."""
    if conn.autocommit:
        raise ValueError("run_transaction needs a connection with autocommit off")
    for attempt in range(retries + 1):
        try:
            with conn.cursor() as cur:
                result = fn(cur)
            conn.commit()
            return result
        except SerializationFailure:
            _quiet(conn.rollback)
            if attempt == retries:
                raise
            time.sleep(backoff(attempt, base_delay_s, max_delay_s))
        except BaseException:
            _quiet(conn.rollback)
            raise
    raise AssertionError("unreachable")


async def run_transaction_async(conn, fn, *, retries: int = RETRIES,
                                base_delay_s: float = BASE_DELAY_S,
                                max_delay_s: float = MAX_DELAY_S):
    """:func:`run_transaction` for an AsyncConnection; ``fn`` is ``async def fn(cur)``."""
    if conn.autocommit:
        raise ValueError("run_transaction needs a connection with autocommit off")
    for attempt in range(retries + 1):
        try:
            result = await fn(conn.cursor())
            await conn.commit()
            return result
        except SerializationFailure:
            await _aquiet(conn.rollback)
            if attempt == retries:
                raise
            await asyncio.sleep(backoff(attempt, base_delay_s, max_delay_s))
        except BaseException:
            await _aquiet(conn.rollback)
            raise
    raise AssertionError("unreachable")


def _quiet(fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the original error matters more
        pass


async def _aquiet(fn) -> None:
    try:
        await fn()
    except Exception:  # noqa: BLE001
        pass
