"""Starting a zone's journal process: one replica of every adjudicator's stream."""
from __future__ import annotations

from pathlib import Path

from .replica import JournalNode


async def start_journal(spec, config, directory) -> JournalNode:
    return JournalNode(Path(config.data_dir) / "zones" / spec.zone / "journal",
                       config.shard_count)
