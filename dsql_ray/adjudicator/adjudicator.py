"""The adjudicator: conflict checks at COMMIT, commit timestamps, and the journal write.

Optimistic concurrency, first committer wins: a transaction that started at τ_start may
commit only if no key it writes (or locked with SELECT … FOR UPDATE) was committed by
someone else in (τ_start, now]. The adjudicator then picks τ_commit from its clock,
assigns the next journal sequence number, and sends the record to every journal
replica; the commit is acknowledged once a quorum of them has it fsynced.

Its state (last commit timestamp per recently written key, the journal position) is
soft: ``recover`` rebuilds it from the journal.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Sequence

from .. import limits
from ..clock import HybridLogicalClock
from ..errors import DsqlError, SerializationFailure, Unavailable
from ..journal.records import CommitRecord

log = logging.getLogger(__name__)

#: How far back conflicts are remembered: no transaction lives longer than this.
CONFLICT_WINDOW_US = int(limits.txn_age_max.value * 1_000_000) + 5_000_000


class JournalLink:
    """Ordered, batched appends to one journal replica; one batch in flight at a time."""

    def __init__(self, client, on_ack, batch_max: int = limits.journal_batch_max):
        self.client = client
        self.acked_seq = 0
        self.healthy = True
        self._on_ack = on_ack
        self._batch_max = batch_max
        self._queue: list[tuple[int, int, bytes]] = []
        self._wake = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    def send(self, seq: int, ts: int, payload: bytes) -> None:
        self._queue.append((seq, ts, payload))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[:self._batch_max]
                del self._queue[:len(batch)]
                try:
                    last = await self.client.call("append", batch, timeout=5.0)
                except (DsqlError, Exception) as exc:  # noqa: BLE001 - replica lagging or down
                    if self.healthy:
                        log.warning("journal %s rejected append: %r", self.client.name, exc)
                    self.healthy = False
                    continue
                self.healthy = True
                self.acked_seq = last
                self._on_ack()

    def stop(self) -> None:
        self._task.cancel()


class Adjudicator:
    def __init__(self, journals: Sequence[Any], *, quorum: int = 2,
                 clock: HybridLogicalClock | None = None):
        self.clock = clock or HybridLogicalClock()
        self.quorum = quorum
        self._journal_clients = list(journals)
        self._links: list[JournalLink] = []
        self.last_seq = 0
        self._last_write: OrderedDict[bytes, int] = OrderedDict()   # key → τ_commit
        self._waiting: dict[int, asyncio.Future] = {}
        self.commits = 0
        self.conflicts = 0

    async def recover(self) -> None:
        """Find the journal's end and rebuild recent conflict state from it."""
        lasts = await asyncio.gather(*(j.call("last", timeout=5.0)
                                       for j in self._journal_clients), return_exceptions=True)
        reachable = [(i, r) for i, r in enumerate(lasts) if not isinstance(r, BaseException)]
        if len(reachable) < self.quorum:
            raise Unavailable("adjudicator: journal quorum unreachable during recovery")
        best, (last_seq, last_ts) = max(reachable, key=lambda ir: ir[1][0])
        self.last_seq = last_seq
        self.clock.update(last_ts)
        await self._rebuild_conflicts(self._journal_clients[best], last_ts)
        self._links = [JournalLink(c, self._check_quorum) for c in self._journal_clients]
        for link in self._links:
            link.acked_seq = last_seq
        log.info("adjudicator recovered at seq %d ts %d", last_seq, last_ts)

    async def _rebuild_conflicts(self, journal, last_ts: int) -> None:
        horizon = last_ts - CONFLICT_WINDOW_US
        seq = 1
        while seq <= self.last_seq:
            batch = await journal.call("read", seq, 5000, 0.0, timeout=30.0)
            if not batch:
                break
            for s, payload in batch:
                rec = CommitRecord.decode(payload)
                if rec.ts >= horizon:
                    for key, _ in rec.writes:
                        self._last_write[key] = rec.ts
                        self._last_write.move_to_end(key)
                seq = s + 1

    # -- data plane -----------------------------------------------------------
    def rpc_commit(self, start_ts: int, writes: list[tuple[bytes, Any]],
                   lock_keys: Sequence[bytes] = ()) -> "asyncio.Future[int]":
        """Check, order and journal one transaction; resolves to τ_commit."""
        last_write = self._last_write
        for key, _ in writes:
            ts = last_write.get(key)
            if ts is not None and ts > start_ts:
                self.conflicts += 1
                raise SerializationFailure()
        for key in lock_keys:
            ts = last_write.get(key)
            if ts is not None and ts > start_ts:
                self.conflicts += 1
                raise SerializationFailure()
        self.clock.update(start_ts)
        commit_ts = self.clock.now()
        self.last_seq += 1
        seq = self.last_seq
        for key, _ in writes:
            last_write[key] = commit_ts
            last_write.move_to_end(key)
        for key in lock_keys:  # a locked row conflicts with later writers as if written
            last_write[key] = commit_ts
            last_write.move_to_end(key)
        self._forget_before(commit_ts - CONFLICT_WINDOW_US)
        payload = CommitRecord(seq, commit_ts, tuple(writes)).encode()
        fut = asyncio.get_running_loop().create_future()
        self._waiting[seq] = fut
        for link in self._links:
            link.send(seq, commit_ts, payload)
        self.commits += 1
        return asyncio.ensure_future(self._await_durable(seq, commit_ts, fut))

    async def _await_durable(self, seq: int, commit_ts: int, fut: asyncio.Future) -> int:
        try:
            await asyncio.wait_for(asyncio.shield(fut), limits.rpc_timeout_s)
        except asyncio.TimeoutError:
            self._waiting.pop(seq, None)
            raise Unavailable("commit outcome unknown: journal quorum did not answer in "
                              "time") from None
        return commit_ts

    def _check_quorum(self) -> None:
        acked = sorted((link.acked_seq for link in self._links), reverse=True)
        durable = acked[self.quorum - 1]
        for seq in [s for s in self._waiting if s <= durable]:
            fut = self._waiting.pop(seq)
            if not fut.done():
                fut.set_result(None)

    def _forget_before(self, horizon: int) -> None:
        last_write = self._last_write
        while last_write:
            key, ts = next(iter(last_write.items()))
            if ts >= horizon:
                break
            last_write.popitem(last=False)

    def rpc_promise(self, ts: int) -> tuple[int, int]:
        """Promise no commit at or below the returned timestamp after seq ``last_seq``."""
        self.clock.update(ts)
        return self.clock.now(), self.last_seq

    def rpc_status(self) -> dict[str, Any]:
        return {"last_seq": self.last_seq, "commits": self.commits,
                "conflicts": self.conflicts,
                "journals": [link.acked_seq for link in self._links]}

    def stop(self) -> None:
        for link in self._links:
            link.stop()
