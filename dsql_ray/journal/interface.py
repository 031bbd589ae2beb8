"""What a zone's journal process serves on the data plane, per stream: the writer's
calls (its adjudicator: fence, append, durable, truncate, record_epoch, and last and
read_log to recover) and the readers' (storage: read, durable records only)."""
from __future__ import annotations

from typing import NamedTuple

from ..transport.interface import request


class FenceReply(NamedTuple):
    last_seq: int
    epoch: int


@request("journal", "fence", reply=FenceReply)
class Fence(NamedTuple):
    """Adopt a new writer epoch; cut any record past ``base_seq`` never acknowledged."""
    stream: int
    epoch: int
    base_seq: int


@request("journal", "append", reply=int)
class Append(NamedTuple):
    """Append ``records`` ``[(seq, ts, payload)]``, group-committed; the last seq
    fsynced. ``durable_seq``: the writer's quorum-durable point, for readers."""
    stream: int
    epoch: int
    records: list[tuple[int, int, bytes]]
    durable_seq: int = 0


@request("journal", "durable")
class Durable(NamedTuple):
    """The writer's quorum-durable point moved (no append to carry it)."""
    stream: int
    epoch: int
    durable_seq: int


@request("journal", "truncate", reply=int)
class Truncate(NamedTuple):
    """Cut every record after ``seq`` (a divergent suffix); the new last seq."""
    stream: int
    epoch: int
    seq: int


@request("journal", "record_epoch", reply=int)
class RecordEpoch(NamedTuple):
    """The writer epoch of record ``seq`` (None: no such record)."""
    stream: int
    seq: int


@request("journal", "read", reply=list)
class Read(NamedTuple):
    """Durable records ``[(seq, payload)]`` from ``from_seq`` on; waits up to ``wait_s``."""
    stream: int
    from_seq: int
    max_records: int = 1000
    wait_s: float = 1.0


@request("journal", "read_log", reply=list)
class ReadLog(NamedTuple):
    """Records as stored, durable or not: for the writer's recovery and catch-up only."""
    stream: int
    from_seq: int
    max_records: int = 1000


class LastReply(NamedTuple):
    seq: int            # the last record's
    ts: int             # its τ
    epoch: int          # the replica's epoch
    last_epoch: int     # the writer epoch of the last record


@request("journal", "last", reply=LastReply)
class Last(NamedTuple):
    """Where the stream's replica ends."""
    stream: int
