"""Starting an adjudicator: connect to its stream's replicas and its peers, recover, serve."""
from __future__ import annotations

import asyncio
import logging

from ..control.topology import adjudicator_names, journal_names
from ..errors import Unavailable
from .adjudicator import Adjudicator

log = logging.getLogger(__name__)


async def recover_with_retry(adj: Adjudicator, attempts: int = 240, delay_s: float = 0.5) -> None:
    for attempt in range(attempts):
        try:
            await adj.recover()
            return
        except Unavailable as exc:
            if attempt == attempts - 1:
                raise
            log.info("adjudicator %d waiting for a journal quorum: %s", adj.index, exc)
            await asyncio.sleep(delay_s)


async def start_adjudicator(spec, config, directory) -> Adjudicator:
    adj = Adjudicator(spec.index, config.shard_ranges(),
                      [directory.client(name, timeout_s=5.0) for name in journal_names(config)],
                      peers=[directory.client(name) for name in adjudicator_names(config)],
                      quorum=config.journal_quorum)
    await recover_with_retry(adj)
    return adj
