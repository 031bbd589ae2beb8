"""The one record type the journal carries: a committed transaction."""
from __future__ import annotations

import pickle
from typing import Any, NamedTuple


class CommitRecord(NamedTuple):
    seq: int                              # position in its stream, contiguous from 1
    ts: int                               # τ_commit, strictly increasing within a stream
    writes: tuple[tuple[bytes, Any], ...]  # (key, row) pairs; row None deletes the key
    txn_id: str | None = None             # set when the commit spanned adjudicators
    #: notes carry no writes: a participant's ("prepare", coordinator, keys) or
    #: ("resolve", τ | None), and ("epoch",), the first record of a new writer epoch
    note: tuple | None = None
    epoch: int = 0                        # the writer epoch that appended the record
    #: keys the transaction held shared (foreign-key parents): a recovered adjudicator
    #: still fails older writers of them (adjudicator.py, ``_last_shared``)
    shared: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return pickle.dumps(tuple(self), protocol=5)

    @classmethod
    def decode(cls, payload: bytes) -> "CommitRecord":
        return cls(*pickle.loads(payload))
