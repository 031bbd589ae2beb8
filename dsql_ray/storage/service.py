"""Starting a storage replica: its range, its checkpoints, every stream of its zone's journal."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..control.topology import adjudicator_names
from .shard import StorageShard


async def start_storage(spec, config, directory, *, checkpoint_every_s: float = 30.0,
                        executor: Any = None) -> StorageShard:
    """``executor``: where checkpoints are written (None: a thread; False: inline, for
    the simulation)."""
    low, high = config.shard_ranges()[spec.index]
    shard = StorageShard(
        spec.index, low, high, zone=spec.zone,
        journals=[directory.client(f"journal-{z}") for z in
                  [spec.zone] + [z for z in config.region.zones if z != spec.zone]],
        adjudicators=[directory.client(n) for n in adjudicator_names(config)],
        checkpoint_dir=Path(config.data_dir) / "zones" / spec.zone / f"storage-{spec.index}",
        checkpoint_every_s=checkpoint_every_s,
        lead_us=int(config.closed_lead_ms * 1000))
    shard.checkpoint_executor = executor
    shard.start()
    return shard
