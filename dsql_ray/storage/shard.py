"""A storage replica of one key-range shard in one availability zone.

It tails the journal replica of its zone, applies every commit's writes that fall in
its range to an MVCC store, and serves reads as of a timestamp τ once it is *complete*
up to τ: every commit with τ_commit ≤ τ is applied. Completeness advances with each
applied record (timestamps grow with journal order) and, when the range is idle, with
a promise from the adjudicator: "no commit at or below P will come after seq N".
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import limits
from ..errors import DsqlError, Unavailable
from ..journal.records import CommitRecord
from .mvcc import MvccStore

log = logging.getLogger(__name__)


class ReadTimeout(Unavailable):
    pass


class StorageShard:
    def __init__(self, shard_id: int, low: bytes, high: bytes | None, *, journal, adjudicator,
                 zone: str = "", poll_batch: int = 2000):
        self.shard_id = shard_id
        self.low, self.high = low, high
        self.zone = zone
        self._journal = journal          # RpcClient to the journal replica of this zone
        self._adjudicator = adjudicator  # RpcClient, asked for completeness promises
        self._poll_batch = poll_batch
        self.store = MvccStore()
        self.applied_seq = 0
        self.complete_ts = 0
        self._promises: list[tuple[int, int]] = []   # (seq to reach, ts then complete)
        self._progress = asyncio.Event()
        self._promise_call: asyncio.Future | None = None
        self._tail_task: asyncio.Task | None = None

    # -- applying the journal -------------------------------------------------
    def start(self) -> None:
        self._tail_task = asyncio.ensure_future(self._tail())

    async def _tail(self) -> None:
        while True:
            try:
                batch = await self._journal.call("read", self.applied_seq + 1,
                                                 self._poll_batch, 1.0, timeout=5.0)
            except DsqlError as exc:
                log.warning("shard %d: journal read failed: %s", self.shard_id, exc)
                await asyncio.sleep(0.2)
                continue
            if batch:
                self.apply([CommitRecord.decode(p) for _, p in batch])

    def apply(self, records: list[CommitRecord]) -> None:
        low, high = self.low, self.high
        for rec in records:
            assert rec.seq == self.applied_seq + 1, \
                f"shard {self.shard_id}: journal gap {self.applied_seq} → {rec.seq}"
            mine = [(k, v) for k, v in rec.writes if k >= low and (high is None or k < high)]
            if mine:
                self.store.apply(rec.ts, mine)
            self.applied_seq = rec.seq
            self._advance(rec.ts)
        self._settle_promises()

    def _advance(self, ts: int) -> None:
        if ts > self.complete_ts:
            self.complete_ts = ts
            self._progress.set()
            self._progress = asyncio.Event()

    def _settle_promises(self) -> None:
        while self._promises and self._promises[0][0] <= self.applied_seq:
            _, ts = self._promises.pop(0)
            self._advance(ts)

    # -- completeness ---------------------------------------------------------
    async def wait_complete(self, ts: int) -> None:
        """Return once every commit at or below ``ts`` is applied; bounded wait."""
        if ts <= self.complete_ts:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.read_wait_max_s
        while ts > self.complete_ts:
            if self._promise_call is None or self._promise_call.done():
                self._promise_call = asyncio.ensure_future(self._ask_promise(ts))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ReadTimeout(f"storage shard {self.shard_id} in {self.zone} is not "
                                  f"complete up to the read timestamp")
            progress = self._progress
            try:
                await asyncio.wait_for(progress.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    async def _ask_promise(self, ts: int) -> None:
        try:
            promise_ts, seq = await self._adjudicator.call("promise", ts, timeout=2.0)
        except DsqlError as exc:
            log.warning("shard %d: promise failed: %s", self.shard_id, exc)
            await asyncio.sleep(0.05)
            return
        if seq <= self.applied_seq:
            self._advance(promise_ts)
        else:
            self._promises.append((seq, promise_ts))
            self._promises.sort()

    # -- reads ----------------------------------------------------------------
    async def rpc_get(self, key: bytes, ts: int) -> Any:
        await self.wait_complete(ts)
        return self.store.get(key, ts)

    async def rpc_get_many(self, keys: list[bytes], ts: int) -> list[Any]:
        await self.wait_complete(ts)
        get = self.store.get
        return [get(k, ts) for k in keys]

    async def rpc_scan(self, low: bytes, high: bytes | None, ts: int,
                       limit: int = limits.scan_rows_max) -> list[tuple[bytes, Any]]:
        await self.wait_complete(ts)
        out = []
        for item in self.store.scan(max(low, self.low), _min_high(high, self.high), ts):
            out.append(item)
            if len(out) >= limit:
                break
        return out

    def rpc_status(self) -> dict[str, Any]:
        return {"shard": self.shard_id, "zone": self.zone, "applied_seq": self.applied_seq,
                "complete_ts": self.complete_ts, "keys": len(self.store)}

    def stop(self) -> None:
        if self._tail_task is not None:
            self._tail_task.cancel()


def _min_high(a: bytes | None, b: bytes | None) -> bytes | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
