"""Starting a storage replica: its range from the config, tailing its zone's journal."""
from __future__ import annotations

from .shard import StorageShard


async def start_storage(spec, config, directory) -> StorageShard:
    low, high = config.shard_ranges()[spec.index]
    shard = StorageShard(spec.index, low, high, zone=spec.zone,
                         journal=directory.client(f"journal-{spec.zone}"),
                         adjudicator=directory.client("adjudicator-0"))
    shard.start()
    return shard
