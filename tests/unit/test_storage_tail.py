"""A storage replica's tail of a journal stream outlives any one failed read: a journal
restarting under a long-poll read answers with whatever its closed log raised (not only
the data plane's own errors), and the tail must go on, from another zone's journal if
need be, until the replica has every record."""
from __future__ import annotations

import asyncio

from dsql_ray.journal.records import CommitRecord
from dsql_ray.storage.shard import StorageShard


class Journal:
    """A zone's journal as the shard's client sees it: Read answers records from ``log``
    (after the failures queued in ``fail``)."""

    def __init__(self, name: str, log: list[CommitRecord], fail: list[BaseException]):
        self.name, self.log, self.fail, self.reads = name, log, fail, 0

    async def call(self, method: str, *args, timeout=None):
        assert method == "read"
        self.reads += 1
        if self.fail:
            raise self.fail.pop(0)
        _, from_seq, max_records, _ = args
        await asyncio.sleep(0.01)
        return [(r.seq, r.encode()) for r in self.log[from_seq - 1:from_seq - 1 + max_records]]


async def received(shard: StorageShard, seq: int, tries: int = 200) -> None:
    """Until stream 0 has received ``seq`` (bounded: the caller asserts it)."""
    for _ in range(tries):
        if shard.streams[0].received_seq == seq:
            return
        await asyncio.sleep(0.02)


def test_a_tail_goes_on_after_a_read_fails_with_any_error():
    records = [CommitRecord(seq, 1000 + seq, ((b"k%d" % seq, (seq,)),)) for seq in (1, 2, 3)]

    async def scenario():
        own = Journal("journal-us-east-1c", records,
                      [RuntimeError("segment log '.../stream-0/segments' is closed"),
                       ConnectionResetError("reset by peer")])
        peer = Journal("journal-us-east-1a", records, [])
        shard = StorageShard(1, b"", None, journals=[own, peer], adjudicators=[None])
        shard.start()
        try:
            await received(shard, 3)
        finally:
            shard.stop()
        assert shard.streams[0].received_seq == 3
        assert own.reads >= 1 and peer.reads >= 1     # failed, went on from the peer
    asyncio.run(scenario())


def test_a_tail_reads_another_zone_when_its_own_journal_lags_a_promise():
    """A zone back from a loss: its journal answers (no error) but has not caught up on
    a quiet stream. Once a promise says records up to 3 exist, the tail reads them from
    another zone's journal instead of waiting on its own for ever."""
    records = [CommitRecord(seq, 1000 + seq, ((b"k%d" % seq, (seq,)),)) for seq in (1, 2, 3)]

    async def scenario():
        own = Journal("journal-us-east-1c", records[:1], [])        # stuck at 1
        peer = Journal("journal-us-east-1a", records, [])
        shard = StorageShard(1, b"", None, journals=[own, peer], adjudicators=[None])
        shard.start()
        try:
            for _ in range(50):
                await asyncio.sleep(0.02)
            assert shard.streams[0].received_seq == 1            # no promise: its own
            shard.streams[0].promises.append((3, 1003))           # as a read's promise
            await received(shard, 3)
        finally:
            shard.stop()
        assert shard.streams[0].received_seq == 3
        assert peer.reads >= 1
    asyncio.run(scenario())
