"""One journal replica: an ordered, fsynced log in one availability zone.

Appends arrive in sequence order from the adjudicator; concurrent appends are grouped
into one write and one fsync (group commit). Storage replicas tail the log with a
bounded long poll.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..errors import DsqlError
from .records import CommitRecord
from .segment import SegmentLog

log = logging.getLogger(__name__)


class SequenceGap(DsqlError):
    sqlstate = "XX000"


class JournalReplica:
    def __init__(self, segment_log: SegmentLog, *, batch_max: int = 512):
        self._log = segment_log
        self._batch_max = batch_max
        self._queue: list[tuple[list[tuple[int, bytes]], asyncio.Future]] = []
        self._queued_last = segment_log.last_seq
        self._flushing = False
        self._appended = asyncio.Event()
        self.last_ts = 0
        if segment_log.last_seq:
            (_, payload), = segment_log.read_from(segment_log.last_seq, 1)
            self.last_ts = CommitRecord.decode(payload).ts

    @property
    def last_seq(self) -> int:
        return self._log.last_seq

    # -- data plane -----------------------------------------------------------
    def rpc_append(self, records: list[tuple[int, int, bytes]]) -> "asyncio.Future[int]":
        """Queue (seq, ts, payload) records; the future resolves once they are fsynced.

        Runs synchronously up to the queueing, so appends are ordered as they arrive.
        """
        if not records:
            raise ValueError("empty append")
        if records[0][0] != self._queued_last + 1:
            raise SequenceGap(f"append at seq {records[0][0]}, replica expects "
                              f"{self._queued_last + 1}")
        self._queued_last = records[-1][0]
        fut = asyncio.get_running_loop().create_future()
        self._queue.append(([(seq, payload) for seq, _ts, payload in records], fut))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        return fut

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                records = [r for recs, _ in batch for r in recs]
                last_ts = CommitRecord.decode(records[-1][1]).ts
                try:
                    await loop.run_in_executor(None, self._log.append, records)
                except Exception as exc:  # disk failure: fail the waiters, stop accepting
                    log.exception("journal append failed")
                    self._queued_last = self._log.last_seq
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                assert last_ts >= self.last_ts, "journal timestamps go backwards"
                self.last_ts = last_ts
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(self._log.last_seq)
                self._appended.set()
                self._appended = asyncio.Event()
        finally:
            self._flushing = False

    async def rpc_read(self, from_seq: int, max_records: int = 1000,
                       wait_s: float = 1.0) -> list[tuple[int, bytes]]:
        """Records from ``from_seq`` on; waits up to ``wait_s`` for one to arrive."""
        if from_seq > self._log.last_seq and wait_s > 0:
            try:
                await asyncio.wait_for(self._appended.wait(), wait_s)
            except asyncio.TimeoutError:
                return []
        return self._log.read_from(from_seq, max_records)

    def rpc_last(self) -> tuple[int, int]:
        return self._log.last_seq, self.last_ts

    def close(self) -> None:
        self._log.close()

    def status(self) -> dict[str, Any]:
        return {"last_seq": self._log.last_seq, "last_ts": self.last_ts}
