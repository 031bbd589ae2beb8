"""Starting the adjudicator: connect to every journal replica, recover, then serve."""
from __future__ import annotations

import asyncio
import logging

from ..control.topology import journal_names
from ..errors import Unavailable
from .adjudicator import Adjudicator

log = logging.getLogger(__name__)


class AdjudicatorService(Adjudicator):
    async def start(self, attempts: int = 120, delay_s: float = 0.5) -> None:
        for attempt in range(attempts):
            try:
                await self.recover()
                return
            except Unavailable as exc:
                if attempt == attempts - 1:
                    raise
                log.info("adjudicator waiting for a journal quorum: %s", exc)
                await asyncio.sleep(delay_s)


async def start_adjudicator(spec, config, directory) -> AdjudicatorService:
    journals = [directory.client(name, timeout_s=5.0) for name in journal_names(config)]
    service = AdjudicatorService(journals, quorum=config.journal_quorum)
    await service.start()
    return service
