"""The compute role's process-wide state: routes to storage, the adjudicator, the catalog.

One ComputeNode serves many sessions. It reads from the storage replicas in its own
zone (falling back to other zones when one does not answer), sends commits to the
adjudicator, and caches the catalog and plans.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
from collections import OrderedDict
from typing import Any, Sequence

from .. import limits
from ..clock import HybridLogicalClock
from ..errors import Unavailable
from ..adjudicator.interface import Commit, Now
from ..storage.interface import Get, GetComplete, GetMany, Scan
from ..transport.interface import ask
from .catalog import (BUILTIN_SCHEMAS, CATALOG_VERSION_KEY, TableDef, UnknownTable,
                      row_to_table, schemas_range, tables_range)
from .fkeys import flush
from .indexes import IndexRegistry
from .interrupt import interruptible
from .userdefs import (DomainDef, FunctionDef, domains_range, functions_range, row_to_domain,
                       row_to_function)

log = logging.getLogger(__name__)

#: a storage replica that does not answer in this long is skipped for the next one
READ_TIMEOUT_S = limits.read_wait_max_s + 1.0


class ShardRoute:
    """One shard's key range and its replicas, nearest first."""

    def __init__(self, low: bytes, high: bytes | None, replicas: Sequence[Any]):
        self.low, self.high = low, high
        self.replicas = list(replicas)

    async def ask(self, req: Any) -> Any:
        """A storage request (``storage.interface``) to the nearest replica that answers."""
        last: Exception | None = None
        for replica in self.replicas:
            try:
                return await ask(replica, req, timeout=READ_TIMEOUT_S)
            except Unavailable as exc:
                last = exc
        raise last or Unavailable("no storage replica")


class Catalog:
    """Relation definitions cached per compute, kept current at each transaction's snapshot.

    Every DDL bumps the catalog version row; a transaction whose snapshot is newer than
    the cache reads that row once (:meth:`ensure`) and reloads the catalog when it moved.
    The row is read as of the storage replica's completeness C (``GetComplete``), which
    a lease puts a little past the present: the cache is then current up to C, and
    transactions that begin before C pass (a DDL after the read commits above C).
    DDL itself lives in :mod:`.ddl` and writes through the transaction.
    """

    def __init__(self, node: "ComputeNode"):
        self._node = node
        self.tables: dict[tuple[str, str], TableDef] = {}
        self.domains: dict[tuple[str, str], DomainDef] = {}     # CREATE DOMAIN (userdefs)
        self.functions: dict[tuple[str, str], FunctionDef] = {}   # CREATE FUNCTION (sql)
        self.schemas: set[str] = set(BUILTIN_SCHEMAS)
        self.version = 0              # local: bumped at every reload (plan cache key)
        self.stored_version = -1      # the catalog version row the cache reflects
        self.as_of = 0                # the cache is current at every snapshot ≤ as_of
        self._check: tuple[int, asyncio.Future] | None = None   # version read in flight
        self.version_reads = 0        # catalog version rows read (GetComplete)

    def resolve(self, rangevar, search_path: Sequence[str] = ("public",)) -> TableDef:
        if rangevar.schemaname:
            t = self.tables.get((rangevar.schemaname, rangevar.relname))
            if t is None:
                raise UnknownTable(f"{rangevar.schemaname}.{rangevar.relname}")
            return t
        for schema in search_path:
            t = self.tables.get((schema, rangevar.relname))
            if t is not None:
                return t
        raise UnknownTable(rangevar.relname)

    async def refresh(self, ts: int) -> None:
        low, high = tables_range()
        rows = await self._node.scan(low, high, ts)
        slow, shigh = schemas_range()
        schemas = await self._node.scan(slow, shigh, ts)
        version = await self._node.get(CATALOG_VERSION_KEY, ts) or 0
        dlow, dhigh = domains_range()
        domains = [row_to_domain(r) for _, r in await self._node.scan(dlow, dhigh, ts)]
        flow, fhigh = functions_range()
        functions = [row_to_function(r) for _, r in await self._node.scan(flow, fhigh, ts)]
        if ts < self.as_of:           # a newer reload finished first: keep it
            return
        self.tables = {(t.schema, t.name): t for t in map(row_to_table, (r for _, r in rows))}
        self.domains = {(d.schema, d.name): d for d in domains}
        self.functions = {(f.schema, f.name): f for f in functions}
        self.schemas = set(BUILTIN_SCHEMAS) | {r[0] for _, r in schemas}
        self.stored_version = version
        self.as_of = ts
        self.version += 1

    def current_at(self, txn) -> bool:
        """Whether the cache is already known current at the transaction's snapshot."""
        return txn.catalog_checked or txn.start_ts <= self.as_of

    async def ensure(self, txn) -> None:
        """Make the cache current at the transaction's snapshot (once per transaction).

        One version read at a time per compute, at the current time: every transaction
        that started before it shares its answer."""
        if txn.catalog_checked or txn.start_ts <= self.as_of:
            return
        txn.catalog_checked = True
        check = self._check
        if check is None or check[0] < txn.start_ts:
            ts = self._node.clock.now()
            check = self._check = (ts, asyncio.ensure_future(self._check_at(ts)))
            check[1].add_done_callback(lambda f: f.cancelled() or f.exception())  # seen
        await interruptible(asyncio.shield(check[1]))    # a cancel abandons the wait

    async def _check_at(self, ts: int) -> None:
        try:
            self.version_reads += 1
            row, complete = await self._node.shard_for(CATALOG_VERSION_KEY).ask(
                GetComplete(CATALOG_VERSION_KEY, ts))
            if (row or 0) == self.stored_version:
                self.as_of = max(self.as_of, complete)
            else:
                await self.refresh(complete)
        finally:
            if self._check is not None and self._check[0] == ts:
                self._check = None


class ComputeNode:
    def __init__(self, shards: Sequence[ShardRoute], adjudicators: Sequence[Any], *,
                 zone: str = "",
                 clock: HybridLogicalClock | None = None, plan_cache_max: int = 10_000):
        self.shards = list(shards)
        self._lows = [s.low for s in self.shards]
        self.adjudicators = list(adjudicators)   # by key range, aligned with the shards
        self.zone = zone
        self.clock = clock or HybridLogicalClock()
        self.catalog = Catalog(self)
        self.indexes = IndexRegistry(self)       # secondary-index definitions
        self.jobs = None                         # the background job runner, once started
        self.plans: OrderedDict[Any, Any] = OrderedDict()
        self.plan_cache_max = plan_cache_max
        self.sessions = 0

    # -- storage ----------------------------------------------------------------
    def shard_for(self, key: bytes) -> ShardRoute:
        return self.shards[bisect.bisect_right(self._lows, key) - 1]

    async def get(self, key: bytes, ts: int) -> Any:
        return await self.shard_for(key).ask(Get(key, ts))

    async def get_many(self, keys: list[bytes], ts: int) -> list[Any]:
        by_shard: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            by_shard.setdefault(bisect.bisect_right(self._lows, key) - 1, []).append(i)
        out: list[Any] = [None] * len(keys)
        for shard, idxs in by_shard.items():
            rows = await self.shards[shard].ask(GetMany([keys[i] for i in idxs], ts))
            for i, row in zip(idxs, rows):
                out[i] = row
        return out

    async def scan(self, low: bytes, high: bytes | None, ts: int, pred: tuple = (),
                   columns: tuple[int, ...] | None = None) -> list[tuple[bytes, Any]]:
        """Rows of [low, high) as of ts; ``pred``/``columns`` are evaluated in storage."""
        out: list[tuple[bytes, Any]] = []
        for shard in self.shards:
            if (shard.high is not None and shard.high <= low) or \
                    (high is not None and shard.low >= high):
                continue
            out.extend(await shard.ask(Scan(low, high, ts, pred=pred, columns=columns)))
        return out

    # -- commit -----------------------------------------------------------------
    async def commit(self, txn) -> int:
        """Send the write set to the owner of its smallest key, which coordinates."""
        await flush(txn, final=True)     # index entries, foreign keys (deferred ones too)
        first = min([*txn.writes, *txn.lock_keys, *txn.shared_keys])
        coordinator = self.adjudicators[bisect.bisect_right(self._lows, first) - 1]
        commit_ts = await ask(coordinator, Commit(
            txn.start_ts, list(txn.writes.items()), sorted(txn.lock_keys),
            sorted(txn.schema_reads - txn.writes.keys()),
            sorted(txn.shared_keys - txn.writes.keys() - txn.lock_keys)))
        self.clock.update(commit_ts)
        return commit_ts

    async def sync_clock(self, attempts: int = 120) -> None:
        """Start no snapshot below a timestamp an adjudicator already used."""
        for adj in self.adjudicators:
            for attempt in range(attempts):
                try:
                    self.clock.update(await ask(adj, Now(), timeout=2.0))
                    break
                except Unavailable:
                    if attempt == attempts - 1:
                        raise
                    await asyncio.sleep(0.5)

    # -- plan cache -------------------------------------------------------------
    def cached_plan(self, key: Any) -> Any:
        plan = self.plans.get(key)
        if plan is not None:
            self.plans.move_to_end(key)
        return plan

    def cache_plan(self, key: Any, plan: Any) -> None:
        self.plans[key] = plan
        if len(self.plans) > self.plan_cache_max:
            self.plans.popitem(last=False)
