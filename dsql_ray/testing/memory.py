"""An in-memory TableSource for the query engine (tests and tools)."""
from __future__ import annotations

from typing import Iterable

from pglast import parse_sql

from ..compute.catalog import ColumnDef, TableDef
from ..compute.query import EngineConfig, prepare_select, run_select
from ..compute.result import QueryResult
from ..errors import DsqlError


class MemorySource:
    """Tables by name with their rows; ``resolve`` + ``scan`` as the engine wants."""

    def __init__(self):
        self.tables: dict[str, TableDef] = {}
        self.rows: dict[int, list[tuple]] = {}
        self._next_id = 1

    def add_table(self, name: str, columns: Iterable[tuple[str, int]],
                  rows: Iterable[tuple] = (), pk: Iterable[str] = (),
                  schema: str = "public") -> TableDef:
        cols = tuple(ColumnDef(n, oid, n in set(pk)) for n, oid in columns)
        names = [c.name for c in cols]
        pk_pos = tuple(names.index(k) for k in pk)
        t = TableDef(self._next_id, schema, name, cols, pk_pos, hidden_pk=not pk_pos)
        self._next_id += 1
        self.tables[name] = t
        self.rows[t.table_id] = [tuple(r) for r in rows]
        return t

    def resolve(self, rangevar) -> TableDef:
        schema = rangevar.schemaname or "public"
        t = self.tables.get(rangevar.relname)
        if t is None or t.schema != schema:
            name = f"{rangevar.schemaname}.{rangevar.relname}" if rangevar.schemaname \
                else rangevar.relname
            raise DsqlError(f'relation "{name}" does not exist', sqlstate="42P01")
        return t

    async def scan(self, table: TableDef) -> list[tuple]:
        return self.rows[table.table_id]

    async def query(self, sql: str, params: list | None = None,
                    config: EngineConfig | None = None) -> QueryResult:
        stmt = parse_sql(sql)[0].stmt
        return await run_select(stmt, self, params or [], config)

    def describe(self, sql: str):
        return prepare_select(parse_sql(sql)[0].stmt, self).columns
