"""Starting a zone's journal process: one replica of every adjudicator's stream."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .replica import JournalNode


def journal_dir(config, zone: str) -> Path:
    return Path(config.data_dir) / "zones" / zone / "journal"


async def start_journal(spec, config, directory, *, executor: Any = None) -> JournalNode:
    """``executor``: where fsyncs run (None: a thread; False: inline, for the simulation)."""
    return JournalNode(journal_dir(config, spec.zone), config.shard_count, executor=executor)
