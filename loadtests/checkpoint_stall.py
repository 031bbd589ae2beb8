"""How long a storage replica's checkpoint stalls its event loop.

Builds a StorageShard in this process holding ROWS rows (one stream's commits of
BATCH rows each), then checkpoints it twice while a ticker task on the same loop
sleeps 1 ms at a time and records the longest gap between its ticks:

* ``on the loop``: ``write_checkpoint`` called on the loop, as ``StorageShard.checkpoint``
  did before it moved off the loop;
* ``off the loop``: ``await shard.checkpoint()``: the snapshot on the loop, encoding,
  compression, writing and fsync in a worker thread.

Prints the longest tick gap and the checkpoint's duration of each. A measurement, not
a test: it asserts nothing.

    python loadtests/checkpoint_stall.py [--rows 200000]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from dsql_ray.journal.records import CommitRecord
from dsql_ray.storage.checkpoint import CheckpointMeta, write_checkpoint
from dsql_ray.storage.shard import StorageShard

BATCH = 1000
TICK_S = 0.001


async def ticker(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def stalled(checkpoint) -> tuple[float, float]:
    """(longest tick gap, checkpoint seconds) while ``checkpoint()`` runs."""
    stop, gaps = asyncio.Event(), []
    tick = asyncio.ensure_future(ticker(stop, gaps))
    await asyncio.sleep(0.05)
    gaps.clear()
    t0 = time.perf_counter()
    await checkpoint()
    took = time.perf_counter() - t0
    await asyncio.sleep(0.01)
    stop.set()
    await tick
    return max(gaps), took


async def measure(rows: int, directory: Path) -> None:
    shard = StorageShard(1, b"", None, journals=[], adjudicators=[None],
                         checkpoint_dir=directory)
    for seq, low in enumerate(range(0, rows, BATCH), start=1):
        writes = tuple((b"k%09d" % k, (k, "name-%d" % k, k * 1.5))
                       for k in range(low, min(low + BATCH, rows)))
        shard.receive(0, [CommitRecord(seq, 1000 + seq, writes)])

    async def on_the_loop() -> None:
        meta = CheckpointMeta(positions={0: shard.streams[0].applied_seq},
                              complete_ts=shard.complete_ts, last_ts=shard.store.last_ts,
                              shard_id=1, low=b"", high=None)
        write_checkpoint(directory, shard.store, meta)

    for name, checkpoint in (("on the loop", on_the_loop), ("off the loop", shard.checkpoint)):
        gap, took = await stalled(checkpoint)
        print(f"{name:>13}: longest loop stall {gap * 1e3:8.1f} ms "
              f"(checkpoint of {rows:,} rows took {took:.2f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args.rows, Path(tmp)))


if __name__ == "__main__":
    main()
