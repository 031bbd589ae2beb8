"""An adjudicator's link to one replica of its journal stream: ordered, batched,
pipelined appends.

Records go out in sequence order in batches of up to ``journal_batch_max``; up to
``journal_pipeline_depth`` batches are in flight at once, so a batch formed while the
replica still fsyncs the previous one leaves at once instead of waiting a round trip.
The replica queues them in sequence order and group-commits what has arrived
(``journal/replica.py``); its acknowledgement is its last fsynced seq, so acks are
cumulative (``acked_seq`` only grows until a reset).

Any failure resets the link: every batch in flight is abandoned (awaited until it has
ended, so no late acknowledgement counts), the queue is cleared and the link is
unhealthy until ``_sync`` has fenced the replica with the adjudicator's epoch, cut any
suffix that differs from the adjudicator's log and copied what it lacks (from the
adjudicator's recent records or a peer replica). It queues new appends again from the
moment it takes its last copy (which reaches the end of the log), so a replica rejoins a
stream that never pauses.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from .. import limits
from ..errors import Unavailable
from ..journal.interface import Append, Durable, Fence, RecordEpoch, Truncate
from ..transport.interface import ask

if TYPE_CHECKING:
    from .adjudicator import Adjudicator

log = logging.getLogger(__name__)

APPEND_TIMEOUT_S = 5.0          # one batch's (or durability mark's) acknowledgement
RESET_PAUSE_S = 0.2             # after a failure, before fencing the replica again


class JournalLink:
    def __init__(self, adjudicator: "Adjudicator", client, index: int,
                 depth: int | None = None):
        self.adj = adjudicator
        self.client = client
        self.index = index
        self.depth = depth or limits.journal_pipeline_depth   # batches in flight, at most
        self.acked_seq = 0
        self.healthy = False
        self.resets = 0                 # failures that made the link resync
        self.most_in_flight = 0         # the deepest the pipeline has been
        self._queue: list[tuple[int, int, bytes]] = []
        self._in_flight: deque[tuple[asyncio.Future, int]] = deque()  # (append, durable it carried)
        self._wake = asyncio.Event()
        self._sent_durable = 0
        self._task = asyncio.ensure_future(self._run())

    def send(self, seq: int, ts: int, payload: bytes) -> None:
        if self.healthy:
            self._queue.append((seq, ts, payload))
        self._wake.set()

    def poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                if not self.healthy:
                    self._queue.clear()
                    await self._sync()
                    self.healthy = True
                    # the replica may have missed the last durability mark (a lost
                    # message on an idle stream would leave it unreadable forever)
                    self._sent_durable = 0
                    self._wake.set()
                    continue
                await self._wake.wait()
                self._wake.clear()
                await self._pump()
            except asyncio.CancelledError:
                await self._abandon()
                raise
            except Exception as exc:  # noqa: BLE001 - lagging, restarted or down replica
                if self.healthy:
                    log.warning("journal replica %s of stream %d: %r", self.client.name,
                                self.adj.stream, exc)
                    self.resets += 1
                self.healthy = False
                self._queue.clear()
                await self._abandon()
                await asyncio.sleep(RESET_PAUSE_S)

    async def _pump(self) -> None:
        """Send what is queued while the pipeline has room; take the acknowledgements
        that arrived, in order; mark durability once nothing is in flight. Returns when
        the link is idle; raises the first failure."""
        while True:
            self._take_acks()
            while self._queue and len(self._in_flight) < self.depth:
                self._launch()
            if self._in_flight:
                await self._wake.wait()
                self._wake.clear()
                continue
            durable = self.adj.durable_seq
            if durable <= self._sent_durable:
                return
            await ask(self.client, Durable(self.adj.stream, self.adj.epoch, durable),
                      timeout=APPEND_TIMEOUT_S)
            self._sent_durable = max(self._sent_durable, durable)  # once the replica has it

    def _launch(self) -> None:
        batch = self._queue[:limits.journal_batch_max]
        del self._queue[:len(batch)]
        durable = self.adj.durable_seq
        append = asyncio.ensure_future(ask(self.client, Append(
            self.adj.stream, self.adj.epoch, batch, durable), timeout=APPEND_TIMEOUT_S))
        append.add_done_callback(lambda _: self._wake.set())
        self._in_flight.append((append, durable))
        self.most_in_flight = max(self.most_in_flight, len(self._in_flight))

    def _take_acks(self) -> None:
        """Count the finished appends, oldest first; a failed one (wherever it is in the
        pipeline) fails the link."""
        for append, _ in self._in_flight:
            if append.done() and append.cancelled():
                raise Unavailable(f"{self.client.name}: append cancelled")
            if append.done() and append.exception() is not None:
                raise append.exception()
        acked = False
        while self._in_flight and self._in_flight[0][0].done():
            append, durable = self._in_flight.popleft()
            self.acked_seq = max(self.acked_seq, append.result())
            self._sent_durable = max(self._sent_durable, durable)   # it carried the mark
            acked = True
        if acked:
            self.adj.on_ack()

    async def _abandon(self) -> None:
        """Cancel every append in flight and wait until each has ended."""
        in_flight = [append for append, _ in self._in_flight]
        self._in_flight.clear()
        for append in in_flight:
            append.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _sync(self) -> None:
        """Fence the replica, cut any suffix that differs from our log, copy what it lacks."""
        adj, stream = self.adj, self.adj.stream
        last, _ = await ask(self.client, Fence(stream, adj.epoch, adj.base_seq), timeout=10.0)
        for _ in range(limits.journal_batch_max * 8):
            ours = adj.record_epoch(last)
            if last == 0 or ours is None or \
                    ours == await ask(self.client, RecordEpoch(stream, last), timeout=5.0):
                break
            last = await ask(self.client, Truncate(stream, adj.epoch, last - 1), timeout=10.0)
        else:
            raise Unavailable(f"{self.client.name}: divergent suffix too long to repair")
        while last < adj.last_seq:
            records = await adj.records_from(last + 1, exclude=self.index)
            if not records:
                raise Unavailable("no source for catch-up yet")
            last_copy = records[-1][0] >= adj.last_seq
            if last_copy:
                # records appended from now on go through the queue, behind this copy
                # (else a stream that commits once per round trip or more would keep
                # this loop chasing its end, and the replica out, until it paused)
                self._queue.clear()
                self.healthy = True
            last = await ask(self.client, Append(stream, adj.epoch, records, adj.durable_seq),
                             timeout=30.0)
            if last_copy:
                break
        self.acked_seq = last
        adj.on_ack()

    def stop(self) -> None:
        self._task.cancel()
