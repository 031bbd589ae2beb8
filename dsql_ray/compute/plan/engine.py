"""The query engine (compute/query) over a transaction, and over statement-local rows.

``QueryPlan`` runs any SELECT the key-aware plan does not answer. DML the key-aware path
cannot evaluate (INSERT ... SELECT, UPDATE ... FROM, DELETE ... USING, sub-queries, ON
CONFLICT DO UPDATE, rich RETURNING) becomes SELECTs over statement-local relations
(``local_table``): the target table's rows carry their storage key in a hidden last
column, so the engine's answer says which rows to write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ... import limits
from ...errors import LimitExceeded
from ..catalog import ColumnDef, TableDef
from ..query import EngineConfig, prepare_select
from ..result import QueryResult
from ..sequences import sequence_row
from ..system import CURRENT_SETTINGS, SystemCatalog, resolve, scan_system
from ..views import view_rows
from .base import Plan

KEY_COL = "__dsql_key"
IDX_COL = "__dsql_i"
TARGET, NEW, EXISTING, EXCLUDED = ("__dsql_target", "__dsql_new", "__dsql_existing",
                                   "__dsql_excluded")
LOCAL_IDS = {TARGET: -(1 << 40), NEW: -(1 << 40) - 1, EXISTING: -(1 << 40) - 2,
             EXCLUDED: -(1 << 40) - 3}


class TxnSource:
    """What the general query engine reads: whole tables at the transaction's snapshot."""

    def __init__(self, txn, catalog, for_update: bool, session=None, key_share: bool = False):
        self.txn, self.catalog, self.for_update = txn, catalog, for_update
        self.key_share = key_share       # FOR KEY SHARE: rows held shared, not locked
        self.accesses: dict = {}         # table id → index path (QueryPlan.index_access)
        self.params: list = []
        self._system_cache: dict = {}    # system catalogs (dsql_ray/compute/system)
        self._settings = getattr(session, "settings", None)
        if self._settings is not None:
            CURRENT_SETTINGS.set(self._settings)

    def resolve(self, rangevar) -> TableDef:
        return resolve(self.catalog, rangevar)

    async def scan(self, table: TableDef) -> list[tuple]:
        if table.table_id < 0:           # system catalogs: a virtual relation
            return await scan_system(table, self.txn, self._system_cache, None)
        if table.kind != "r":            # views expand to their query
            if table.kind == "S":
                return [await sequence_row(self.txn, table)]
            return await view_rows(table, self, EngineConfig(max_rows=limits.scan_rows_max))
        if table.altered:                # rows stored by slot (ALTER TABLE)
            self.txn.uses([table])
        access = self.accesses.get(table.table_id)
        if access is not None:           # rows a secondary index finds (WHERE re-tested)
            found = await access.rows(self.txn, self.params)
        else:
            low, high = table.key_range()
            found = await self.txn.scan(low, high)
        if len(found) > limits.scan_rows_max:
            raise LimitExceeded("statement returns too many rows")
        if self.for_update:
            self.txn.lock((k for k, _ in found), shared=self.key_share)
        return [r for _, r in found]


def engine_config(session) -> EngineConfig:
    txn = getattr(session, "txn", None)
    return EngineConfig(max_rows=limits.scan_rows_max,
                        now=txn.now if txn is not None else None,
                        interrupt=getattr(session, "interrupt", None),
                        max_bytes=limits.statement_memory_max.value)


@dataclass
class QueryPlan(Plan):
    """Any SELECT, run by the general engine (joins, aggregates, subqueries, windows …)."""
    prepared: Any = None
    #: table id → an index path for the table's rows (access.index_scan.engine_index_access)
    index_access: dict = field(default_factory=dict)
    key_share: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        source = TxnSource(txn, session.node.catalog, self.prepared.for_update,
                           session=session, key_share=self.key_share)
        source.accesses, source.params = self.index_access, params
        return await self.prepared.run(source, params, engine_config(session))

    def explain(self) -> list[str]:
        return ["query engine: " + ", ".join(t.name for t in self.prepared.tables)]


def local_table(name: str, table: TableDef, extra: str | None = None, extra_oid: int = 0,
                table_id: int | None = None) -> TableDef:
    """A statement-local relation with ``table``'s columns (and one extra column)."""
    cols = tuple(table.columns) + ((ColumnDef(extra, extra_oid),) if extra else ())
    return TableDef(LOCAL_IDS[name] if table_id is None else table_id, "pg_temp", name,
                    cols, ())


class _LocalCatalog:
    """The engine's catalog for one DML statement: its local relations, then the real ones."""

    def __init__(self, catalog, local: list[TableDef]):
        self._inner = SystemCatalog(catalog)
        self._local = {t.name: t for t in local}

    def resolve(self, rangevar) -> TableDef:
        if not rangevar.schemaname and rangevar.relname in self._local:
            return self._local[rangevar.relname]
        return self._inner.resolve(rangevar)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _LocalSource:
    """What the engine reads for one DML statement: local relations' rows, else the txn's."""

    def __init__(self, inner: TxnSource, rows: dict[int, list[tuple]]):
        self._inner, self._rows = inner, rows

    def resolve(self, rangevar) -> TableDef:
        return self._inner.resolve(rangevar)

    async def scan(self, table: TableDef) -> list[tuple]:
        rows = self._rows.get(table.table_id)
        return rows if rows is not None else await self._inner.scan(table)


def prepare_local(stmt, catalog, local: list[TableDef], param_oids: list[int]):
    """Plan a SELECT tree over the real relations and the statement-local ones."""
    return prepare_select(stmt, _LocalCatalog(catalog, local), param_oids)


async def engine_rows(prepared, txn, session, params: list,
                      local_rows: dict[int, list[tuple]]) -> list[tuple]:
    source = _LocalSource(TxnSource(txn, session.node.catalog, False, session=session),
                          local_rows)
    return (await prepared.run(source, params, engine_config(session))).rows
