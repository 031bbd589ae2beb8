"""A storage replica of one key-range shard in one availability zone.

It tails every adjudicator's journal stream from the journal process of its own zone,
and applies the writes that fall in its range to an MVCC store, in commit-timestamp
order across streams. It serves reads as of τ once it is *complete* up to τ: every
commit with τ_commit ≤ τ, in every stream, is applied.

Per stream, completeness advances with each record received (timestamps grow with a
stream's order) and, when the stream is idle, with its adjudicator's promise "no
commit at or below P after seq N". The shard is complete up to the minimum over
streams; buffered records at or below it are applied, merged by timestamp.

A promise is a lease a little (``lead_us``) into the future (adjudicator.py), and a
read inside it that comes within lead/2 of a stream's horizon renews that stream's
lease in the background: under steady reads the replica is complete before reads
arrive, and a read costs no round trip to an adjudicator. A read above the horizon
(renewals failing, a compute clock ahead) asks for a promise and waits, bounded.

Checkpoints (Arrow IPC, lz4) record the store and the per-stream positions, so a
restarted replica replays only the journal tail. Versions no snapshot can still see
(older than the 300 s transaction age limit) are garbage-collected.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import DsqlError, Unavailable
from ..adjudicator.interface import Promise
from ..journal.interface import Read
from ..journal.records import CommitRecord
from ..transport.interface import ask
from .checkpoint import CheckpointMeta, load_latest_checkpoint, snapshot_store, write_snapshot
from .mvcc import MvccStore

log = logging.getLogger(__name__)

GC_HORIZON_US = int(limits.txn_age_max.value * 1_000_000) + 5_000_000


class ReadTimeout(Unavailable):
    pass


class _Stream:
    """What the shard knows of one adjudicator's journal stream."""

    def __init__(self, index: int, adjudicator, applied_seq: int = 0):
        self.index = index
        self.adjudicator = adjudicator
        self.received_seq = applied_seq     # records up to here are buffered or applied
        self.applied_seq = applied_seq
        self.complete_ts = 0
        self.buffer: deque[CommitRecord] = deque()
        self.promises: list[tuple[int, int]] = []   # (seq to receive, ts then complete)
        self.asking: asyncio.Future | None = None

    def horizon(self) -> int:
        """How far the stream is or will be complete with the leases granted so far."""
        return max([self.complete_ts, *(ts for _, ts in self.promises)])

    def idle(self) -> bool:
        """No promise request in flight."""
        return self.asking is None or self.asking.done()

    def receive(self, rec: CommitRecord) -> None:
        assert rec.seq == self.received_seq + 1, \
            f"stream {self.index}: journal gap {self.received_seq} → {rec.seq}"
        self.received_seq = rec.seq
        self.buffer.append(rec)
        self.complete_ts = max(self.complete_ts, rec.ts)
        self.settle()

    def settle(self) -> None:
        while self.promises and self.promises[0][0] <= self.received_seq:
            _, ts = self.promises.pop(0)
            self.complete_ts = max(self.complete_ts, ts)


class StorageShard:
    def __init__(self, shard_id: int, low: bytes, high: bytes | None, *, journals,
                 adjudicators, zone: str = "", checkpoint_dir: str | Path | None = None,
                 checkpoint_every_s: float = 30.0, poll_batch: int = 2000,
                 lead_us: int = int(limits.closed_lead_ms * 1000)):
        self.shard_id = shard_id
        self.low, self.high = low, high
        self.zone = zone
        # journal processes, this zone's first: another zone's serves while it is down
        self._journals = list(journals)
        self._poll_batch = poll_batch
        self._checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self._checkpoint_every_s = checkpoint_every_s
        self._renew_within_us = lead_us // 2    # 0: no renewal ahead of reads
        self.reads_waited = 0                   # reads that found the replica incomplete
        self.store = MvccStore()
        self.complete_ts = 0
        self.streams = [_Stream(i, adj) for i, adj in enumerate(adjudicators)]
        self._progress = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._load_checkpoint()

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._tail(s)) for s in self.streams]
        self._tasks.append(asyncio.ensure_future(self._housekeeping()))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    # -- applying the journal ---------------------------------------------------------
    async def _tail(self, stream: _Stream) -> None:
        source = 0
        while True:
            journal = self._journals[source]
            try:
                batch = await ask(journal, Read(stream.index, stream.received_seq + 1,
                                                self._poll_batch, 1.0), timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a tail must outlive any one failure
                # (not only DsqlError: a journal restarting under a read answers e.g. a
                # RuntimeError from its closed log; a tail that ended there left its
                # stream stuck for good and the replica never caught up)
                log.warning("shard %d: stream %d from %s failed: %r", self.shard_id,
                            stream.index, journal.name, exc)
                source = (source + 1) % len(self._journals)
                await asyncio.sleep(0.1)
                continue
            if not batch:
                # a promise names records this journal has not answered with: it lags
                # (its zone is back and still catching up), so ask the next zone's;
                # otherwise (caught up) read this zone's journal again
                behind = bool(stream.promises) and stream.promises[-1][0] > stream.received_seq
                source = (source + 1) % len(self._journals) if behind else 0
            if batch:
                for _, payload in batch:
                    stream.receive(CommitRecord.decode(payload))
                self._apply_ready()

    def receive(self, stream: int, records: list[CommitRecord]) -> None:
        """Feed records directly (simulation and tests)."""
        for rec in records:
            self.streams[stream].receive(rec)
        self._apply_ready()

    def _apply_ready(self) -> None:
        """Apply every buffered record at or below the shard's completeness, by τ."""
        complete = min(s.complete_ts for s in self.streams)
        if complete <= self.complete_ts:
            return
        heads = [(s.buffer[0].ts, s.index) for s in self.streams if s.buffer]
        heapq.heapify(heads)
        low, high = self.low, self.high
        while heads and heads[0][0] <= complete:
            _, i = heapq.heappop(heads)
            stream = self.streams[i]
            rec = stream.buffer.popleft()
            mine = [(k, v) for k, v in rec.writes if k >= low and (high is None or k < high)]
            if mine:
                self.store.apply(rec.ts, mine)
            stream.applied_seq = rec.seq
            if stream.buffer:
                heapq.heappush(heads, (stream.buffer[0].ts, i))
        assert complete >= self.complete_ts, "storage completeness went backwards"
        self.complete_ts = complete
        self._progress.set()
        self._progress = asyncio.Event()

    # -- completeness ---------------------------------------------------------------------
    async def wait_complete(self, ts: int) -> None:
        """Return once every commit at or below ``ts`` is applied; bounded wait."""
        if ts <= self.complete_ts:
            self._renew(ts)
            return
        self.reads_waited += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.read_wait_max_s
        while ts > self.complete_ts:
            for stream in self.streams:
                if stream.complete_ts < ts and stream.idle():
                    stream.asking = asyncio.ensure_future(self._ask_promise(stream, ts))
            remaining = deadline - loop.time()
            if remaining <= 1e-6:   # (not 0: a sub-resolution wait would spin)
                raise ReadTimeout(f"storage shard {self.shard_id} in {self.zone} is not "
                                  "complete up to the read timestamp; retry")
            progress = self._progress
            try:
                await asyncio.wait_for(progress.wait(), min(remaining, 0.25))
            except asyncio.TimeoutError:
                pass

    def _renew(self, ts: int) -> None:
        """Renew, without waiting, the lease of each stream whose horizon a read at
        ``ts`` came within lead/2 of (one request in flight per stream)."""
        within = self._renew_within_us
        if not within:
            return
        for stream in self.streams:
            if stream.horizon() - ts < within and stream.idle():
                stream.asking = asyncio.ensure_future(self._ask_promise(stream, ts))

    async def _ask_promise(self, stream: _Stream, ts: int) -> None:
        try:
            promise_ts, seq = await ask(stream.adjudicator, Promise(ts), timeout=2.0)
        except DsqlError as exc:
            log.warning("shard %d: promise from adjudicator %d failed: %s", self.shard_id,
                        stream.index, exc)
            await asyncio.sleep(0.05)
            return
        stream.promises.append((seq, promise_ts))
        stream.promises.sort()
        stream.settle()
        self._apply_ready()

    # -- reads ------------------------------------------------------------------------------
    async def rpc_get(self, key: bytes, ts: int) -> Any:
        await self.wait_complete(ts)
        return self.store.get(key, ts)

    async def rpc_get_complete(self, key: bytes, ts: int) -> tuple[Any, int]:
        """The row at ``key`` as of this replica's completeness C ≥ ``ts``, and C."""
        await self.wait_complete(ts)
        complete = self.complete_ts
        return self.store.get(key, complete), complete

    async def rpc_get_many(self, keys: list[bytes], ts: int) -> list[Any]:
        await self.wait_complete(ts)
        get = self.store.get
        return [get(k, ts) for k in keys]

    async def rpc_scan(self, low: bytes, high: bytes | None, ts: int,
                       limit: int = limits.scan_rows_max, pred: tuple = (),
                       columns: tuple[int, ...] | None = None) -> list[tuple[bytes, Any]]:
        """Visible rows of [low, high) as of ``ts``; ``pred`` and ``columns`` are pushed
        down from compute (see ``mvcc.row_filter``): only matching rows, only the
        needed columns (the others None) cross the network."""
        await self.wait_complete(ts)
        return self.store.scan_where(max(low, self.low), _min_high(high, self.high), ts,
                                     pred, columns, limit)

    def rpc_status(self) -> dict[str, Any]:
        return {"shard": self.shard_id, "zone": self.zone, "complete_ts": self.complete_ts,
                "applied": [s.applied_seq for s in self.streams],
                "received": [s.received_seq for s in self.streams], "keys": len(self.store),
                "reads_waited": self.reads_waited,
                # per stream: complete up to, and the promises not yet settled (seq, ts)
                "streams": [(s.complete_ts, s.promises[:2]) for s in self.streams]}

    # -- checkpoints and garbage collection ------------------------------------------------
    def _load_checkpoint(self) -> None:
        if self._checkpoint_dir is None:
            return
        loaded = load_latest_checkpoint(self._checkpoint_dir)
        if loaded is None:
            return
        self.store, meta = loaded
        for stream in self.streams:
            seq = meta.positions.get(stream.index, 0)
            stream.received_seq = stream.applied_seq = seq
            stream.complete_ts = meta.complete_ts
        self.complete_ts = meta.complete_ts
        log.info("shard %d in %s: checkpoint loaded at %s", self.shard_id, self.zone,
                 meta.positions)

    #: where a checkpoint is encoded, compressed, written and fsynced: None, a thread of
    #: the loop's default executor (one checkpoint at a time: ``_housekeeping`` awaits
    #: it); False, inline on the loop (the simulation, whose virtual time must not
    #: depend on a thread)
    checkpoint_executor: Any = None

    async def checkpoint(self) -> None:
        """Checkpoint the store as it is now without stalling the loop: the positions and
        a snapshot of the store (keys, version lists and counts: milliseconds per
        100,000 keys, ``checkpoint.snapshot_store``) are taken here, together, so the
        checkpoint holds exactly the records applied up to its positions; the rest runs
        in a thread while commits go on being applied. Versions must not be removed
        (gc) until it returns."""
        if self._checkpoint_dir is None:
            return
        meta = CheckpointMeta(positions={s.index: s.applied_seq for s in self.streams},
                              complete_ts=self.complete_ts, last_ts=self.store.last_ts,
                              shard_id=self.shard_id, low=self.low, high=self.high)
        snapshot = snapshot_store(self.store)
        if self.checkpoint_executor is False:
            write_snapshot(self._checkpoint_dir, snapshot, meta)
            return
        await asyncio.get_running_loop().run_in_executor(
            self.checkpoint_executor, write_snapshot, self._checkpoint_dir, snapshot, meta)

    async def _housekeeping(self) -> None:
        """Garbage collection, and a checkpoint every ``checkpoint_every_s`` when the
        positions moved; one after the other, so gc never runs under a checkpoint."""
        loop = asyncio.get_running_loop()
        last_checkpoint = loop.time()
        last_positions = None
        while True:
            await asyncio.sleep(min(5.0, self._checkpoint_every_s))
            if self.complete_ts:
                self.store.gc(self.complete_ts - GC_HORIZON_US)
            positions = [s.applied_seq for s in self.streams]
            if loop.time() - last_checkpoint >= self._checkpoint_every_s and \
                    positions != last_positions:
                try:
                    await self.checkpoint()
                except Exception:  # noqa: BLE001 - the journal still holds everything
                    log.exception("shard %d: checkpoint failed", self.shard_id)
                last_checkpoint, last_positions = loop.time(), positions


def _min_high(a: bytes | None, b: bytes | None) -> bytes | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
