"""A direct completeness check for the simulation: no storage read at τ is served before
every acknowledged commit at or below τ is applied on that replica.

It watches the real roles' data-plane handlers (the adjudicators' commit and the storage
replicas' reads, wrapped in place, the roles unchanged): each acknowledged commit is
noted with its stream and sequence number, each served read with its timestamp and the
replica's applied position in every stream at the moment it read. :meth:`check`, after
the run, compares the two: a read at τ that had not applied a commit ≤ τ acknowledged
(before or after the read) broke completeness. The bank audit catches such a read only
when the missed commit makes a snapshot's balances disagree; this catches every one.
"""
from __future__ import annotations

import bisect
from typing import Any

#: storage read handlers → the index of their timestamp argument (None: the reply's
#: second item is the timestamp read at, as ``rpc_get_complete`` answers)
READS = {"rpc_get": 1, "rpc_get_many": 1, "rpc_scan": 2, "rpc_get_complete": None}
READS_KEPT_MAX = 500_000     # reads remembered for the check; later ones are counted only


class CompletenessWitness:
    def __init__(self) -> None:
        self.acked: dict[int, list[tuple[int, int]]] = {}   # stream → [(τ_commit, seq)]
        self.reads: list[tuple[str, int, tuple[int, ...]]] = []
        self.unkept = 0

    def watch_adjudicator(self, adj: Any) -> None:
        commit = adj.rpc_commit

        async def watched(*args: Any) -> int:
            ts = await commit(*args)
            seq = adj.seq_at(ts)
            assert seq is not None, f"adjudicator {adj.index}: τ {ts} not in its recent log"
            self.acked.setdefault(adj.stream, []).append((ts, seq))
            return ts
        adj.rpc_commit = watched

    def watch_storage(self, name: str, shard: Any) -> None:
        for method, ts_arg in READS.items():
            inner = getattr(shard, method, None)
            if inner is not None:
                setattr(shard, method, self._watched_read(name, shard, inner, ts_arg))

    def _watched_read(self, name: str, shard: Any, inner, ts_arg: int | None):
        async def watched(*args: Any) -> Any:
            result = await inner(*args)
            # no await since the replica read its store: its positions are the read's
            ts = result[1] if ts_arg is None else args[ts_arg]
            if len(self.reads) < READS_KEPT_MAX:
                self.reads.append((name, ts, tuple(s.applied_seq for s in shard.streams)))
            else:
                self.unkept += 1
            return result
        return watched

    def violations(self) -> list[str]:
        """Reads that missed an acknowledged commit at or below their timestamp."""
        by_stream = {i: sorted(commits) for i, commits in self.acked.items()}
        found = []
        for name, ts, applied in self.reads:
            for stream, commits in by_stream.items():
                below = bisect.bisect_right(commits, (ts, float("inf")))
                if below and commits[below - 1][1] > applied[stream]:
                    missed_ts, missed_seq = commits[below - 1]
                    found.append(f"{name} served a read at τ {ts} with stream {stream} "
                                 f"applied to seq {applied[stream]}, missing the commit at "
                                 f"seq {missed_seq}, τ {missed_ts}")
        return found
