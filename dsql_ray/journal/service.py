"""Starting a journal replica in a process: open its segment log, serve appends and reads."""
from __future__ import annotations

from pathlib import Path

from .replica import JournalReplica
from .segment import SegmentLog


class JournalService(JournalReplica):
    async def stop(self) -> None:
        self.close()


async def start_journal(spec, config, directory) -> JournalService:
    path = Path(config.data_dir) / "zones" / spec.zone / "journal"
    path.mkdir(parents=True, exist_ok=True)
    return JournalService(SegmentLog(path))
