"""The general SELECT engine: pglast SelectStmt → rows, with PostgreSQL's semantics.

Plain Python, no I/O of its own: tables come from a :class:`TableSource`.

    result = await run_select(stmt, source, params)          # QueryResult
    columns = describe_select(stmt, catalog)                  # for Describe
    prepared = prepare_select(stmt, catalog, param_oids)      # plan once, run many times
    result = await prepared.run(source, params)
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Protocol

from pglast import ast

from ...errors import UndefinedParameter
from .. import types as T
from ..catalog import TableDef
from ..result import Column, QueryResult
from . import sqltypes as S
from .operators import Rel
from .planner import SelectPlanner
from .runtime import EngineConfig, Env, RunState, check_memory, rows_size
from .threads import compute, runs_inline

__all__ = ["TableSource", "EngineConfig", "PreparedSelect", "prepare_select", "run_select",
           "describe_select"]


class Catalog(Protocol):
    def resolve(self, rangevar) -> TableDef:
        """The table a RangeVar names; raises DsqlError 42P01 when unknown."""


class TableSource(Catalog, Protocol):
    async def scan(self, table: TableDef) -> list[tuple]:
        """All rows of ``table`` visible to the statement's snapshot."""


@dataclass
class PreparedSelect:
    """A planned SELECT: result shape, parameter types, and the plan to run."""
    rel: Rel
    columns: list[Column]
    param_oids: list[int]
    tables: list[TableDef]
    for_update: bool = False
    generates: bool = False        # set-returning functions or WITH RECURSIVE inside

    async def run(self, source: TableSource, params: list,
                  config: EngineConfig | None = None) -> QueryResult:
        config = config or EngineConfig()
        tables: dict[int, list[tuple]] = {}
        for t in self.tables:
            rows = await source.scan(t)
            if len(rows) > config.max_rows:
                RunState(config, {}).check_rows(len(rows))
            tables[t.table_id] = rows if isinstance(rows, list) else list(rows)
        if len(params) < len(self.param_oids):
            raise UndefinedParameter(f"there is no parameter ${len(params) + 1}")
        run = RunState(config, tables)
        if config.max_bytes is not None:     # the statement's memory bound (54000)
            run.base_bytes = sum(rows_size(rows) for rows in tables.values())
            check_memory(run.base_bytes, config.max_bytes)
        values = [S.cast(v, oid) if isinstance(v, str) and oid not in (T.TEXT, S.UNKNOWN, 0)
                  else v for v, oid in zip(params, self.param_oids + [0] * len(params))]
        inline = runs_inline(sum(map(len, tables.values())), self.generates)
        rows = await compute(lambda: self._compute(values, run), run, inline)
        return QueryResult(f"SELECT {len(rows)}", list(self.columns), rows)

    def _compute(self, values: list, run: RunState) -> list[tuple]:
        """The engine's work, on the loop or in a worker thread (query/threads.py): the
        decimal context is the running thread's own."""
        with decimal.localcontext(S.NUMERIC_CONTEXT):
            rows = self.rel.rows(Env(values, (), run))
        run.check_rows(len(rows), rows)
        return [tuple(r) for r in rows]


def _column(c) -> Column:
    oid = S.RECORD if S.composite_fields(c.oid) is not None else c.oid   # anonymous rows
    return Column(c.name, oid, T.TYPE_SIZE.get(oid, -1), getattr(c, "typmod", -1))


def prepare_select(stmt: ast.SelectStmt, catalog: Catalog,
                   param_oids: list[int] | None = None, user: str = "admin") -> PreparedSelect:
    """Bind and plan ``stmt``; raises DsqlError for unknown names, types, grouping errors."""
    planner = SelectPlanner(catalog, param_oids, user)
    rel = planner.plan(stmt)
    oids = [o if o not in (0, S.UNKNOWN) else T.TEXT for o in planner.param_oids]
    return PreparedSelect(rel, [_column(c) for c in rel.columns], oids,
                          list(planner.tables.values()), planner.for_update,
                          planner.generates)


def describe_select(stmt: ast.SelectStmt, catalog: Catalog,
                    param_oids: list[int] | None = None) -> list[Column]:
    """The result columns of ``stmt`` (names and types) without running it."""
    return prepare_select(stmt, catalog, param_oids).columns


async def run_select(stmt: ast.SelectStmt, source: TableSource, params: list | None = None,
                     config: EngineConfig | None = None) -> QueryResult:
    """Run one SELECT against ``source``'s snapshot and return its rows."""
    prepared = prepare_select(stmt, source)
    return await prepared.run(source, list(params or []), config)
