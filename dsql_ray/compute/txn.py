"""A transaction's state in compute: snapshot time, buffered writes, read-your-writes.

Reads go to storage as of τ_start and are overlaid with the transaction's own buffered
writes. Nothing leaves compute until COMMIT, which sends the write set (and keys read
FOR UPDATE) to the adjudicator. Limits on rows and bytes are enforced as writes are
buffered, the age limit at every statement and at COMMIT.
"""
from __future__ import annotations

import pickle
import time
from typing import Any, Iterable

from .. import limits

_MISSING = object()


class Transaction:
    def __init__(self, node, start_ts: int, explicit: bool):
        self.node = node
        self.start_ts = start_ts
        self.explicit = explicit
        self.started = time.monotonic()
        self.writes: dict[bytes, Any] = {}
        self.lock_keys: set[bytes] = set()
        self.bytes = 0
        self.failed = False
        self.has_ddl = False
        self.has_dml = False
        self.touched_catalog = False

    @property
    def read_only(self) -> bool:
        return not self.writes and not self.lock_keys

    def check_age(self) -> None:
        if time.monotonic() - self.started > limits.txn_age_max.value:
            raise limits.txn_age_max.error()

    # -- reads ----------------------------------------------------------------
    async def get(self, key: bytes) -> Any:
        row = self.writes.get(key, _MISSING)
        if row is not _MISSING:
            return row
        return await self.node.get(key, self.start_ts)

    async def get_many(self, keys: list[bytes]) -> list[Any]:
        missing = [k for k in keys if k not in self.writes]
        fetched = dict(zip(missing, await self.node.get_many(missing, self.start_ts))) \
            if missing else {}
        return [self.writes[k] if k in self.writes else fetched[k] for k in keys]

    async def scan(self, low: bytes, high: bytes | None) -> list[tuple[bytes, Any]]:
        rows = await self.node.scan(low, high, self.start_ts)
        mine = {k: v for k, v in self.writes.items()
                if k >= low and (high is None or k < high)}
        if not mine:
            return rows
        merged = dict(rows)
        merged.update(mine)
        return [(k, v) for k, v in sorted(merged.items()) if v is not None]

    # -- writes ---------------------------------------------------------------
    def put(self, key: bytes, row: Any) -> None:
        limits.key_size_max.check(len(key))
        size = len(key) + (len(pickle.dumps(row, protocol=5)) if row is not None else 0)
        limits.row_size_max.check(size)
        if key not in self.writes:
            limits.rows_per_txn_max.check(len(self.writes) + 1)
        self.bytes += size
        limits.bytes_per_txn_max.check(self.bytes)
        self.writes[key] = row

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def lock(self, keys: Iterable[bytes]) -> None:
        self.lock_keys.update(keys)
