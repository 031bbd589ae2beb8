"""A storage replica writes its checkpoint in a thread while its loop keeps applying
commits (``StorageShard.checkpoint``): the checkpoint holds exactly the state at the
positions it records, and a restarted replica that loads it and replays the journal
after those positions ends with the same rows as the replica that never stopped."""
from __future__ import annotations

import asyncio
import random

from dsql_ray.journal.records import CommitRecord
from dsql_ray.storage.checkpoint import list_checkpoints
from dsql_ray.storage.mvcc import MvccStore
from dsql_ray.storage.shard import StorageShard

KEYS = 20_000


def journal(n: int, seed: int = 3) -> list[CommitRecord]:
    """``n`` commits of one stream: inserts, updates and deletes of KEYS keys."""
    rng = random.Random(seed)
    records = [CommitRecord(1, 1000, tuple((b"k%06d" % k, (k, "v0")) for k in range(KEYS)))]
    for seq in range(2, n + 1):
        writes = tuple((b"k%06d" % rng.randrange(KEYS),
                        None if rng.random() < 0.2 else (seq, "v%d" % seq)) for _ in range(5))
        records.append(CommitRecord(seq, 1000 + seq, writes))
    return records


def rows(store: MvccStore) -> dict:
    """Every version of every key."""
    return {k: (list(t), list(r)) for k, (t, r) in store._versions.items()}


def test_a_checkpoint_written_while_commits_apply_restores_its_positions(tmp_path):
    records = journal(4000)

    async def scenario():
        shard = StorageShard(1, b"", None, journals=[], adjudicators=[None],
                             checkpoint_dir=tmp_path)
        shard.receive(0, records[:1000])
        writing = asyncio.ensure_future(shard.checkpoint())
        await asyncio.sleep(0)               # it has taken its snapshot; now in a thread
        applied = 1000
        while not writing.done():
            shard.receive(0, records[applied:applied + 1])
            applied += 1
            await asyncio.sleep(0)
        await writing
        shard.receive(0, records[applied:])
        return shard, applied

    shard, applied = asyncio.run(scenario())
    assert applied > 1000                    # commits were applied while it was written
    assert len(list_checkpoints(tmp_path)) == 1

    restarted = StorageShard(1, b"", None, journals=[], adjudicators=[None],
                             checkpoint_dir=tmp_path)
    assert restarted.streams[0].applied_seq == 1000
    reference = MvccStore()
    for rec in records[:1000]:
        reference.apply(rec.ts, rec.writes)
    assert rows(restarted.store) == rows(reference)
    assert restarted.store.last_ts == reference.last_ts

    async def replay():
        restarted.receive(0, records[1000:])
    asyncio.run(replay())
    assert rows(restarted.store) == rows(shard.store)
    assert restarted.streams[0].applied_seq == shard.streams[0].applied_seq == 4000
