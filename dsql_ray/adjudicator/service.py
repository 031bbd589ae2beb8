"""Starting an adjudicator: connect to its stream's replicas and its peers, recover, serve."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from ..clock import HybridLogicalClock
from ..control.topology import adjudicator_names, journal_names, journal_quorum
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


async def start_adjudicator(spec, config, directory, *,
                            clock: HybridLogicalClock | None = None,
                            txn_ids: Callable[[], str] | None = None,
                            recover_attempts: int = 240,
                            recover_delay_s: float = 0.5) -> Adjudicator:
    """``clock`` and ``txn_ids`` (transaction ids of spanning commits): the simulation's
    virtual clock and seeded ids; real ones by default."""
    adj = Adjudicator(spec.index, config.shard_ranges(),
                      [directory.client(name, timeout_s=5.0) for name in journal_names(config)],
                      peers=[directory.client(name) for name in adjudicator_names(config)],
                      quorum=journal_quorum(config), clock=clock, txn_ids=txn_ids,
                      lead_us=int(config.closed_lead_ms * 1000),
                      cap_ahead_us=int(config.lease_cap_ms * 1000),
                      clock_error_us=int(config.clock_error_ms * 1000))
    await recover_with_retry(adj, recover_attempts, recover_delay_s)
    return adj
