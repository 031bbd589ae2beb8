"""A transaction's state in compute: snapshot time, buffered writes, read-your-writes.

Reads go to storage as of τ_start and are overlaid with the transaction's own buffered
writes; a cancel of the running statement abandons a read still waiting on storage
(:func:`~dsql_ray.compute.interrupt.interruptible`). Nothing leaves compute until
COMMIT, which sends the write set (and keys read FOR UPDATE) to the adjudicator. Limits
on rows and bytes are enforced as writes are buffered, the age limit at every statement
and at COMMIT.
"""
from __future__ import annotations

import datetime as dt

import pickle
import time
from typing import Any, Iterable

from .. import limits
from .indexes import maintain, row_table_id
from .interrupt import interruptible
from .catalog import schema_key
from ..storage.mvcc import row_filter, row_projection

_MISSING = object()


class Transaction:
    def __init__(self, node, start_ts: int, explicit: bool):
        self.node = node
        self.start_ts = start_ts
        #: the transaction timestamp now() and CURRENT_TIMESTAMP return (wall clock at start)
        self.now = dt.datetime.now(dt.timezone.utc)
        self.explicit = explicit
        self.started = time.monotonic()
        self.writes: dict[bytes, Any] = {}
        self.lock_keys: set[bytes] = set()
        #: keys held shared (FOR KEY SHARE; the parents of rows written, compute/fkeys.py):
        #: a commit to one since τ_start fails us, our commit fails older writers of it
        self.shared_keys: set[bytes] = set()
        self.bytes = 0
        self.failed = False
        self.has_ddl = False
        self.has_dml = False
        self.touched_catalog = False
        #: schema markers of the relations this transaction used (read-checked at COMMIT)
        self.schema_reads: set[bytes] = set()
        self.catalog_checked = False
        #: key prefix → definition, for tables whose rows are stored by slot (ALTER TABLE)
        self.layouts: dict[bytes, Any] = {}
        # -- secondary indexes (compute/indexes.py) --------------------------------------
        #: user-table row keys written since their index entries were last derived
        self.changed_rows: set[bytes] = set()
        #: row key → the row its index entries reflect now (first: the row at the snapshot)
        self.index_base: dict[bytes, Any] = {}
        #: index entry keys written: they count toward the size limit, not the row limit
        self.entry_keys: set[bytes] = set()
        # -- foreign keys (compute/fkeys.py) -------------------------------------------
        #: row key → the row (in column order) as of the last flush
        self.fk_base: dict[bytes, Any] = {}
        #: row key → the key its row moved to (an UPDATE of the primary key)
        self.fk_moves: dict[bytes, bytes] = {}
        #: (child row, constraint) and parent keys whose deferred checks wait for COMMIT
        self.fk_deferred_rows: set[tuple[bytes, str]] = set()
        self.fk_deferred_parents: list[tuple[int, int, str, tuple]] = []
        #: SET CONSTRAINTS: constraint name (None: ALL) → deferred
        self.fk_modes: dict[str | None, bool] = {}

    def uses(self, tables: Iterable[Any]) -> None:
        """Note relations a statement resolved: their schema marker, their row layout."""
        for t in tables:
            if t.table_id > 0:
                self.schema_reads.add(schema_key(t.table_id))
                if t.altered:
                    self.layouts[t.key_prefix()] = t

    def _decode(self, key: bytes, row: Any) -> Any:
        t = self.layouts.get(key[:8]) if self.layouts else None
        return row if t is None else t.decode(row)

    @property
    def read_only(self) -> bool:
        return not self.writes and not self.lock_keys and not self.shared_keys

    def check_age(self) -> None:
        if time.monotonic() - self.started > limits.txn_age_max.value:
            raise limits.txn_age_max.error()

    # -- reads ----------------------------------------------------------------
    async def get(self, key: bytes) -> Any:
        row = self.writes.get(key, _MISSING)
        if row is _MISSING:
            row = await interruptible(self.node.get(key, self.start_ts))
            self._remember(key, row)
        return self._decode(key, row)

    async def get_many(self, keys: list[bytes]) -> list[Any]:
        missing = [k for k in keys if k not in self.writes]
        fetched = dict(zip(missing, await interruptible(
            self.node.get_many(missing, self.start_ts)))) if missing else {}
        for key, row in fetched.items():
            self._remember(key, row)
        return [self._decode(k, self.writes[k] if k in self.writes else fetched[k])
                for k in keys]

    async def scan(self, low: bytes, high: bytes | None, pred: tuple = (),
                   columns: tuple[int, ...] | None = None) -> list[tuple[bytes, Any]]:
        """Rows of [low, high); ``pred``/``columns`` (storage.mvcc.row_filter) are pushed
        to storage and applied to this transaction's own writes alike."""
        t = self.layouts.get(low[:8]) if self.layouts else None
        if t is not None and (pred or columns is not None):
            # rows stored by slot (ALTER TABLE): filter here, on rows in column order
            test, project = row_filter(pred), row_projection(columns)
            return [(k, v if project is None else project(v))
                    for k, v in await self.scan(low, high) if test is None or test(v)]
        rows = await interruptible(self.node.scan(low, high, self.start_ts, pred, columns))
        mine = {k: v for k, v in self.writes.items()
                if k >= low and (high is None or k < high)}
        if mine:
            if pred or columns is not None:
                test, project = row_filter(pred), row_projection(columns)
                mine = {k: None if v is None or (test is not None and not test(v))
                        else (v if project is None else project(v))
                        for k, v in mine.items()}
            merged = dict(rows)
            merged.update(mine)
            rows = [(k, v) for k, v in sorted(merged.items()) if v is not None]
        return rows if t is None else [(k, t.decode(v)) for k, v in rows]

    # -- writes ---------------------------------------------------------------
    def put(self, key: bytes, row: Any) -> None:
        if self.layouts and row is not None:
            t = self.layouts.get(key[:8])
            if t is not None:
                row = t.encode(row)
        limits.key_size_max.check(len(key))
        size = len(key) + (len(pickle.dumps(row, protocol=5)) if row is not None else 0)
        limits.row_size_max.check(size)
        if key not in self.writes:
            limits.rows_per_txn_max.check(len(self.writes) - len(self.entry_keys) + 1)
        self.bytes += size
        limits.bytes_per_txn_max.check(self.bytes)
        self.writes[key] = row
        if row_table_id(key) is not None:
            self.changed_rows.add(key)

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def lock(self, keys: Iterable[bytes], shared: bool = False) -> None:
        """FOR UPDATE (written at COMMIT as far as conflicts go) or, ``shared``, FOR KEY
        SHARE (held shared: conflicts with writers, never with other sharers)."""
        (self.shared_keys if shared else self.lock_keys).update(keys)

    # -- commit path: secondary-index entries -----------------------------------------
    def put_entry(self, key: bytes, value: Any) -> None:
        """An index entry (None deletes it): DSQL's row limit counts rows, not entries."""
        limits.key_size_max.check(len(key))
        size = len(key) + (len(pickle.dumps(value, protocol=5)) if value is not None else 0)
        self.bytes += size
        limits.bytes_per_txn_max.check(self.bytes)
        self.entry_keys.add(key)
        self.writes[key] = value

    def _remember(self, key: bytes, row: Any) -> None:
        """A row read by key at the snapshot: what its index entries are, if it is written
        later (spares the read at flush time; DML reads rows before writing them)."""
        if key not in self.index_base and row_table_id(key) is not None:
            self.index_base[key] = row

    async def flush_indexes(self) -> None:
        """Derive the index entries of the rows changed so far (each DML statement's end,
        and before COMMIT): unique violations surface here as 23505."""
        if self.changed_rows:
            keys, self.changed_rows = self.changed_rows, set()
            await maintain(self, keys)
