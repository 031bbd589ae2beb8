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
from ..errors import DsqlError, Unavailable
from .catalog import (FIRST_USER_TABLE_ID, NEXT_TABLE_ID_KEY, TableDef, row_to_table,
                      table_key, table_to_row, tables_range)
from .result import QueryResult

log = logging.getLogger(__name__)

#: a storage replica that does not answer in this long is skipped for the next one
READ_TIMEOUT_S = limits.read_wait_max_s + 1.0


class ShardRoute:
    """One shard's key range and its replicas, nearest first."""

    def __init__(self, low: bytes, high: bytes | None, replicas: Sequence[Any]):
        self.low, self.high = low, high
        self.replicas = list(replicas)

    async def call(self, method: str, *args: Any) -> Any:
        last: Exception | None = None
        for replica in self.replicas:
            try:
                return await replica.call(method, *args, timeout=READ_TIMEOUT_S)
            except Unavailable as exc:
                last = exc
        raise last or Unavailable("no storage replica")


class Catalog:
    """Table definitions as of the latest refresh; DDL writes go through a transaction."""

    def __init__(self, node: "ComputeNode"):
        self._node = node
        self.tables: dict[tuple[str, str], TableDef] = {}
        self.version = 0

    def resolve(self, rangevar) -> TableDef:
        from .planner import UnknownTable
        schema = rangevar.schemaname or "public"
        t = self.tables.get((schema, rangevar.relname))
        if t is None:
            raise UnknownTable(rangevar.relname)
        return t

    async def refresh(self, ts: int) -> None:
        low, high = tables_range()
        rows = await self._node.scan(low, high, ts)
        self.tables = {(t.schema, t.name): t for t in map(row_to_table, (r for _, r in rows))}
        self.version += 1

    async def create_table(self, txn, plan, session) -> QueryResult:
        key = table_key(plan.schema, plan.name)
        if await txn.get(key) is not None:
            if plan.if_not_exists:
                session.notice(f'relation "{plan.name}" already exists, skipping')
                return QueryResult("CREATE TABLE")
            raise DsqlError(f'relation "{plan.name}" already exists', sqlstate="42P07")
        table_id = await txn.get(NEXT_TABLE_ID_KEY) or FIRST_USER_TABLE_ID
        names = [c.name for c in plan.columns]
        pk = tuple(names.index(n) for n in plan.pk_names)
        table = TableDef(table_id, plan.schema, plan.name, plan.columns, pk, hidden_pk=not pk)
        txn.put(key, table_to_row(table))
        txn.put(NEXT_TABLE_ID_KEY, table_id + 1)
        txn.touched_catalog = True
        return QueryResult("CREATE TABLE")

    async def drop_tables(self, txn, plan) -> QueryResult:
        for schema, name in plan.names:
            key = table_key(schema, name)
            if await txn.get(key) is None:
                if plan.if_exists:
                    continue
                raise DsqlError(f'table "{name}" does not exist', sqlstate="42P01")
            txn.delete(key)
        txn.touched_catalog = True
        return QueryResult("DROP TABLE")


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
        self.plans: OrderedDict[Any, Any] = OrderedDict()
        self.plan_cache_max = plan_cache_max
        self.sessions = 0

    # -- storage ----------------------------------------------------------------
    def shard_for(self, key: bytes) -> ShardRoute:
        return self.shards[bisect.bisect_right(self._lows, key) - 1]

    async def get(self, key: bytes, ts: int) -> Any:
        return await self.shard_for(key).call("get", key, ts)

    async def get_many(self, keys: list[bytes], ts: int) -> list[Any]:
        by_shard: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            by_shard.setdefault(bisect.bisect_right(self._lows, key) - 1, []).append(i)
        out: list[Any] = [None] * len(keys)
        for shard, idxs in by_shard.items():
            rows = await self.shards[shard].call("get_many", [keys[i] for i in idxs], ts)
            for i, row in zip(idxs, rows):
                out[i] = row
        return out

    async def scan(self, low: bytes, high: bytes | None, ts: int) -> list[tuple[bytes, Any]]:
        out: list[tuple[bytes, Any]] = []
        for shard in self.shards:
            if (shard.high is not None and shard.high <= low) or \
                    (high is not None and shard.low >= high):
                continue
            out.extend(await shard.call("scan", low, high, ts))
        return out

    # -- commit -----------------------------------------------------------------
    async def commit(self, txn) -> int:
        """Send the write set to the owner of its smallest key, which coordinates."""
        first = min([*txn.writes, *txn.lock_keys])
        coordinator = self.adjudicators[bisect.bisect_right(self._lows, first) - 1]
        commit_ts = await coordinator.call(
            "commit", txn.start_ts, list(txn.writes.items()), sorted(txn.lock_keys))
        self.clock.update(commit_ts)
        return commit_ts

    async def sync_clock(self, attempts: int = 120) -> None:
        """Start no snapshot below a timestamp an adjudicator already used."""
        for adj in self.adjudicators:
            for attempt in range(attempts):
                try:
                    self.clock.update(await adj.call("now", timeout=2.0))
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
