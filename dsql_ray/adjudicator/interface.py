"""What an adjudicator serves on the data plane: commits (compute → the owner of the
smallest key, the coordinator), the prepare round among owners of a spanning commit,
completeness promises (storage → adjudicator) and its clock."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from ..transport.interface import request


@request("adjudicator", "commit", reply=int)
class Commit(NamedTuple):
    """compute → coordinator: check, order and journal a transaction; τ_commit. A
    commit after ``start_ts`` to a written, locked, read or shared key fails it with
    40001; so does a commit after ``start_ts`` that held a key it writes or locks shared.
    """
    start_ts: int
    writes: list[tuple[bytes, Any]]
    lock_keys: Sequence[bytes] = ()
    read_keys: Sequence[bytes] = ()     # schema markers: checked, not written
    #: held shared (FOR KEY SHARE, foreign-key parents): checked like read keys, and
    #: recorded at τ_commit so a writer of one that started before fails
    shared_keys: Sequence[bytes] = ()


@request("adjudicator", "prepare", reply=int)
class Prepare(NamedTuple):
    """coordinator → participant: check and hold ``keys`` (journaled before the reply);
    the participant's clock."""
    txn_id: str
    start_ts: int
    keys: list[bytes]
    coordinator: int
    read_keys: Sequence[bytes] = ()
    shared_keys: Sequence[bytes] = ()


@request("adjudicator", "resolve")
class Resolve(NamedTuple):
    """coordinator → participant: the held transaction committed at ``commit_ts``."""
    txn_id: str
    commit_ts: int


@request("adjudicator", "abort")
class Abort(NamedTuple):
    """coordinator → participant: release the held transaction."""
    txn_id: str


@request("adjudicator", "outcome", reply=int)
class Outcome(NamedTuple):
    """participant → coordinator: τ_commit of a transaction it coordinated, None if it
    never will commit (Unavailable while not known yet)."""
    txn_id: str


class PromiseReply(NamedTuple):
    promise_ts: int     # no commit at or below this timestamp ...
    seq: int            # ... follows this sequence number of the stream


@request("adjudicator", "promise", reply=PromiseReply)
class Promise(NamedTuple):
    """storage → adjudicator: a completeness promise covering ``ts`` (answered once
    ``seq`` is durable)."""
    ts: int


@request("adjudicator", "now", reply=int)
class Now(NamedTuple):
    """compute → adjudicator: its clock, so no snapshot starts below a used timestamp."""
