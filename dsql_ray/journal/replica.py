"""One journal stream's replica in one availability zone: an ordered, fsynced log.

Each adjudicator writes its own stream; a zone's journal process hosts one replica of
every stream. The stream's adjudicator pipelines its appends (several batches in flight,
``adjudicator/links.py``); the replica queues them in sequence order and groups what is
queued into one write and one fsync (group commit). On one data-plane connection they
arrive in the order sent (``rpc_append`` queues before it returns); one that arrives
ahead of a gap (a reconnection, the simulation's reordering network) waits, at most
``journal_pipeline_depth`` of them, until the records before it arrive, and fails with
``SequenceGap`` if the writer resyncs first (fence, truncate) or the log fails.

Safety against a replaced adjudicator (the rules of Raft's log, with the adjudicator as
the only leader): the writer holds an *epoch*, and every record carries the epoch that
appended it. A new adjudicator recovers the stream from the replica of a quorum with
the newest (last record's epoch, last seq), then *fences* each replica with a higher
epoch: records past the recovered end are cut, and so is any suffix that differs from
the recovered log (records never acknowledged). Appends and durability marks from an
older epoch are refused. Readers are served only records the current writer has marked
durable on a quorum, so storage never applies a record that a fence could later cut.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import DsqlError
from .records import CommitRecord
from .segment import SegmentLog

log = logging.getLogger(__name__)


class SequenceGap(DsqlError):
    sqlstate = "XX000"


class StaleEpoch(DsqlError):
    sqlstate = "XX000"


class JournalReplica:
    def __init__(self, segment_log: SegmentLog, directory: str | os.PathLike | None = None,
                 *, executor: Any = None):
        self._log = segment_log
        self._epoch_file = Path(directory) / "epoch.json" if directory is not None else None
        self._executor = executor   # None: the loop's default thread pool for fsync
        self.epoch = self._load_epoch()
        self.durable_seq = 0
        self._queue: list[tuple[list[tuple[int, bytes]], asyncio.Future]] = []
        self._queued_last = segment_log.last_seq
        # appends that arrived ahead of a gap, by first seq: (records, their future)
        self._ahead: dict[int, tuple[list[tuple[int, int, bytes]], asyncio.Future]] = {}
        self.arrived_ahead = 0      # appends that arrived ahead of a gap and waited
        self._flushing = False
        self._changed = asyncio.Event()
        self.last_ts, self.last_epoch = self._stamp_at(segment_log.last_seq)

    @property
    def last_seq(self) -> int:
        return self._log.last_seq

    def _load_epoch(self) -> int:
        if self._epoch_file is None or not self._epoch_file.exists():
            return 0
        return json.loads(self._epoch_file.read_text())["epoch"]

    def _store_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self._epoch_file is None:
            return
        tmp = self._epoch_file.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"epoch": epoch}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._epoch_file)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- writer side ---------------------------------------------------------------
    async def rpc_fence(self, epoch: int, base_seq: int) -> tuple[int, int]:
        """Adopt a new writer epoch; cut any record past ``base_seq`` it never acknowledged."""
        if epoch < self.epoch:
            raise StaleEpoch(f"fence from epoch {epoch}, replica is at {self.epoch}")
        self._drop_ahead("the writer fenced the replica")
        while self._flushing:      # let an in-flight group commit land first
            await asyncio.sleep(0.001)
        if epoch > self.epoch:
            if self._log.last_seq > base_seq:
                self._cut_after(base_seq, f"fence at epoch {epoch}")
            self._store_epoch(epoch)
        return self._log.last_seq, self.epoch

    async def rpc_truncate(self, epoch: int, seq: int) -> int:
        """The current writer found a divergent suffix: cut every record after ``seq``."""
        if epoch != self.epoch:
            raise StaleEpoch(f"truncate from epoch {epoch}, replica is at {self.epoch}")
        self._drop_ahead("the writer truncated the replica")
        while self._flushing:
            await asyncio.sleep(0.001)
        if self._log.last_seq > seq:
            self._cut_after(seq, f"divergent suffix at epoch {epoch}")
        return self._log.last_seq

    def _cut_after(self, seq: int, why: str) -> None:
        log.warning("%s: cutting seqs %d..%d", why, seq + 1, self._log.last_seq)
        self._log.truncate_after(seq)
        self._queued_last = seq
        self.durable_seq = min(self.durable_seq, seq)
        self.last_ts, self.last_epoch = self._stamp_at(seq)

    def _stamp_at(self, seq: int) -> tuple[int, int]:
        """(τ, writer epoch) of the record at ``seq``; (0, 0) before the first."""
        if seq == 0:
            return 0, 0
        (_, payload), = self._log.read_from(seq, 1)
        rec = CommitRecord.decode(payload)
        return rec.ts, rec.epoch

    def rpc_record_epoch(self, seq: int) -> int | None:
        """The writer epoch of the record at ``seq``, None if the log is shorter."""
        if seq > self._log.last_seq or seq < self._log.first_seq:
            return None
        return self._stamp_at(seq)[1]

    def rpc_append(self, epoch: int, records: list[tuple[int, int, bytes]],
                   durable_seq: int = 0) -> "asyncio.Future[int]":
        """Queue (seq, ts, payload) records; the future resolves once they are fsynced.

        Runs synchronously up to the queueing, so appends are ordered as they arrive;
        one ahead of a gap waits for the records before it (bounded).
        """
        if epoch != self.epoch:
            raise StaleEpoch(f"append from epoch {epoch}, replica is at {self.epoch}")
        if not records:
            raise ValueError("empty append")
        first = records[0][0]
        if first <= self._queued_last:
            raise SequenceGap(f"append at seq {first}, replica expects "
                              f"{self._queued_last + 1}")
        self.rpc_durable(epoch, durable_seq)
        fut = asyncio.get_running_loop().create_future()
        if first > self._queued_last + 1:
            self._hold_ahead(first, records, fut)
            return fut
        self._enqueue(records, fut)
        if self._ahead:
            self._reach_ahead()
        return fut

    def _reach_ahead(self) -> None:
        """Queue the appends held ahead that now follow on; fail those overtaken."""
        while self._queued_last + 1 in self._ahead:
            self._enqueue(*self._ahead.pop(self._queued_last + 1))
        for first in [f for f in self._ahead if f <= self._queued_last]:
            _, fut = self._ahead.pop(first)
            if not fut.done():
                fut.set_exception(SequenceGap(f"append at seq {first} overtaken"))

    def _hold_ahead(self, first: int, records, fut: asyncio.Future) -> None:
        if len(self._ahead) >= limits.journal_pipeline_depth and first not in self._ahead:
            raise SequenceGap(f"append at seq {first}: {len(self._ahead)} appends already "
                              f"wait for seq {self._queued_last + 1}")
        replaced = self._ahead.pop(first, None)
        if replaced is not None and not replaced[1].done():
            replaced[1].set_exception(SequenceGap(f"append at seq {first} sent again"))
        self._ahead[first] = (records, fut)
        self.arrived_ahead += 1

    def _drop_ahead(self, why: str) -> None:
        for _, fut in self._ahead.values():
            if not fut.done():
                fut.set_exception(SequenceGap(f"{why} before the records ahead were reached"))
        self._ahead.clear()

    def _enqueue(self, records: list[tuple[int, int, bytes]], fut: asyncio.Future) -> None:
        self._queued_last = records[-1][0]
        self._queue.append(([(seq, payload) for seq, _ts, payload in records], fut))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())

    def rpc_durable(self, epoch: int, durable_seq: int) -> None:
        """The current writer says every record up to ``durable_seq`` is on a quorum."""
        if epoch != self.epoch:
            raise StaleEpoch(f"durability mark from epoch {epoch}, replica is at {self.epoch}")
        if durable_seq > self.durable_seq:
            self.durable_seq = durable_seq
            self._notify()

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                records = [r for recs, _ in batch for r in recs]
                last = CommitRecord.decode(records[-1][1])
                try:
                    if self._executor is False:
                        self._log.append(records)
                    else:
                        await loop.run_in_executor(self._executor, self._log.append, records)
                except Exception as exc:  # disk failure: fail the waiters
                    log.exception("journal append failed")
                    self._queued_last = self._log.last_seq
                    self._drop_ahead("the log failed")
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                assert last.ts >= self.last_ts, "journal timestamps go backwards"
                self.last_ts, self.last_epoch = last.ts, last.epoch
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(self._log.last_seq)
                self._notify()
        finally:
            self._flushing = False

    # -- reader side -------------------------------------------------------------------
    async def rpc_read(self, from_seq: int, max_records: int = 1000,
                       wait_s: float = 1.0) -> list[tuple[int, bytes]]:
        """Durable records from ``from_seq`` on; waits up to ``wait_s`` for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while from_seq > min(self.durable_seq, self._log.last_seq):
            remaining = deadline - loop.time()
            if remaining <= 1e-6:   # (not 0: a sub-resolution wait would spin)
                return []
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return []
        upto = min(self.durable_seq, self._log.last_seq)
        return self._log.read_from(from_seq, min(max_records, upto - from_seq + 1))

    def rpc_read_log(self, from_seq: int, max_records: int = 1000) -> list[tuple[int, bytes]]:
        """Records as stored, durable or not: for the writer's recovery and catch-up only."""
        return self._log.read_from(from_seq, max_records)

    def rpc_last(self) -> tuple[int, int, int, int]:
        """(last seq, its τ, the replica's epoch, the writer epoch of the last record)."""
        return self._log.last_seq, self.last_ts, self.epoch, self.last_epoch

    def close(self) -> None:
        self._log.close()

    def status(self) -> dict[str, Any]:
        return {"last_seq": self._log.last_seq, "durable_seq": self.durable_seq,
                "epoch": self.epoch, "arrived_ahead": self.arrived_ahead}


class JournalNode:
    """A zone's journal process: one replica of every adjudicator's stream."""

    def __init__(self, directory: str | os.PathLike, streams: int, *, executor: Any = None):
        self.replicas: list[JournalReplica] = []
        for stream in range(streams):
            path = Path(directory) / f"stream-{stream}"
            path.mkdir(parents=True, exist_ok=True)
            self.replicas.append(JournalReplica(SegmentLog(path / "segments"), path,
                                                executor=executor))

    def rpc_fence(self, stream: int, epoch: int, base_seq: int):
        return self.replicas[stream].rpc_fence(epoch, base_seq)

    def rpc_append(self, stream: int, epoch: int, records, durable_seq: int = 0):
        return self.replicas[stream].rpc_append(epoch, records, durable_seq)

    def rpc_durable(self, stream: int, epoch: int, durable_seq: int) -> None:
        self.replicas[stream].rpc_durable(epoch, durable_seq)

    def rpc_truncate(self, stream: int, epoch: int, seq: int):
        return self.replicas[stream].rpc_truncate(epoch, seq)

    def rpc_record_epoch(self, stream: int, seq: int) -> int | None:
        return self.replicas[stream].rpc_record_epoch(seq)

    def rpc_read(self, stream: int, from_seq: int, max_records: int = 1000,
                 wait_s: float = 1.0):
        return self.replicas[stream].rpc_read(from_seq, max_records, wait_s)

    def rpc_read_log(self, stream: int, from_seq: int, max_records: int = 1000):
        return self.replicas[stream].rpc_read_log(from_seq, max_records)

    def rpc_last(self, stream: int) -> tuple[int, int, int, int]:
        return self.replicas[stream].rpc_last()

    def rpc_status(self) -> dict[str, Any]:
        return {"streams": [r.status() for r in self.replicas]}

    def stop(self) -> None:
        for r in self.replicas:
            r.close()
