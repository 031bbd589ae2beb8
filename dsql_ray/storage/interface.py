"""What a storage replica serves on the data plane: reads as of a timestamp (each waits
until the replica is complete up to it). Rows are tuples of column values, None if the
key has no visible version."""
from __future__ import annotations

from typing import Any, NamedTuple

from .. import limits
from ..transport.interface import request


@request("storage", "get", reply=Any)
class Get(NamedTuple):
    """compute → storage: the row at ``key`` as of ``ts`` (None: none visible)."""
    key: bytes
    ts: int


class CompleteRow(NamedTuple):
    row: Any            # the row at the key as of complete_ts (None: none visible)
    complete_ts: int    # the replica's completeness, at or above the requested ts


@request("storage", "get_complete", reply=CompleteRow)
class GetComplete(NamedTuple):
    """compute → storage: the row at ``key`` as of the replica's completeness C ≥ ``ts``,
    and C. Every commit at or below C is applied and every later one is above C (a
    lease, adjudicator.py), so the row is the same at every τ in [ts, C]."""
    key: bytes
    ts: int


@request("storage", "get_many", reply=list)
class GetMany(NamedTuple):
    """compute → storage: the rows at ``keys`` as of ``ts``, in order."""
    keys: list[bytes]
    ts: int


@request("storage", "scan", reply=list)
class Scan(NamedTuple):
    """compute → storage: ``[(key, row)]`` of ``[low, high)`` as of ``ts``, at most
    ``limit``; ``pred`` and ``columns`` pushed down (only matching rows, only those
    columns, the others None; see ``storage.mvcc.row_filter``)."""
    low: bytes
    high: bytes | None
    ts: int
    limit: int = limits.scan_rows_max
    pred: tuple = ()
    columns: tuple[int, ...] | None = None
