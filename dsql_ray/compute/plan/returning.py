"""RETURNING, and the result every DML plan gives: its tag, columns and parameter types.

The key-aware projection when it can; else the query engine over the written rows (a
statement-local relation), joined with the FROM rows each was matched with for
UPDATE ... FROM / DELETE ... USING.
"""
from __future__ import annotations

from typing import Any

from pglast import ast

from ...errors import FeatureNotSupported
from .. import types as T
from ..catalog import ColumnDef, TableDef
from ..query.rowexpr import RowScope, needs_engine
from ..result import Column, QueryResult
from . import trees
from .base import Plan
from .engine import IDX_COL, LOCAL_IDS, NEW, engine_rows, local_table, prepare_local
from .projection import projection


def returning_targets(stmt) -> Any:
    clause = getattr(stmt, "returningClause", None)
    return clause.exprs if clause is not None else getattr(stmt, "returningList", None)


class Returning:
    """RETURNING of one DML statement.

    With ``leaves`` (UPDATE ... FROM / DELETE ... USING: each FROM item's alias and
    columns), RETURNING also sees the FROM row each target row was matched with: every
    written row and its FROM rows share an index column the engine joins on.
    """

    def __init__(self, stmt, table: TableDef, alias: str, scope: RowScope, catalog,
                 param_oids: list[int], force_engine: bool = False,
                 leaves: list[tuple[str, list[Column]]] | None = None):
        targets = returning_targets(stmt)
        self.projection = self.prepared = None
        self.leaves = leaves or []
        if not targets:
            return
        if not (force_engine or needs_engine(targets)):
            self.projection = projection(targets, scope, table, "RETURNING")
            return
        local, tree = self._engine_select(targets, table, alias)
        self.prepared = prepare_local(tree, catalog, local, param_oids)
        self.local_ids = [t.table_id for t in local]
        param_oids[:] = self.prepared.param_oids

    def _engine_select(self, targets, table: TableDef, alias: str
                       ) -> tuple[list[TableDef], ast.SelectStmt]:
        if not self.leaves:
            return [local_table(NEW, table)], trees.select(targets,
                                                           [trees.relation(NEW, alias)])
        local = [local_table(NEW, table, IDX_COL, T.INT8)]
        groups = [(alias, table.column_names)]
        items, joins = [trees.relation(NEW, alias)], []
        for j, (leaf, cols) in enumerate(self.leaves):
            name = f"__dsql_from{j}"
            local.append(TableDef(LOCAL_IDS[NEW] - 100 - j, "pg_temp", name, tuple(
                ColumnDef(c.name, c.type_oid) for c in cols) + (
                ColumnDef(IDX_COL, T.INT8),), ()))
            items.append(trees.relation(name, leaf))
            joins.append(trees.equals(trees.column(alias, IDX_COL),
                                      trees.column(leaf, IDX_COL)))
            groups.append((leaf, [c.name for c in cols]))
        return local, trees.select(expand_stars(targets, groups), items,
                                   trees.conjunction(joins))

    @property
    def wanted(self) -> bool:
        return self.projection is not None or self.prepared is not None

    def columns(self) -> list[Column] | None:
        if self.projection is not None:
            return self.projection.columns()
        return list(self.prepared.columns) if self.prepared is not None else None

    async def rows(self, rows: list[tuple], txn, session, params: list,
                   from_rows: list[tuple] | None = None) -> list[tuple]:
        """RETURNING of the written ``rows``; ``from_rows[i]``: row i's FROM rows."""
        if self.projection is not None:
            return self.projection.apply(rows, params)
        if not self.leaves:
            local = {LOCAL_IDS[NEW]: rows}
        else:
            local = {self.local_ids[0]: [r + (i,) for i, r in enumerate(rows)]}
            for j, table_id in enumerate(self.local_ids[1:]):
                local[table_id] = [f[j] + (i,) for i, f in enumerate(from_rows)]
        return await engine_rows(self.prepared, txn, session, params, local)


def expand_stars(targets, groups: list[tuple[str, list[str]]]) -> list[ast.ResTarget]:
    """RETURNING targets, ``*`` and ``alias.*`` spelled out column by column."""
    out = []
    for t in targets:
        v = t.val
        if isinstance(v, ast.ColumnRef) and isinstance(v.fields[-1], ast.A_Star):
            chosen = groups if len(v.fields) == 1 else \
                [g for g in groups if g[0] == v.fields[-2].sval]
            if chosen:
                out.extend(trees.target(trees.column(a, n)) for a, names in chosen
                           for n in names)
                continue
        out.append(t)
    return out


def from_leaves(items) -> list[str]:
    """The range names FROM items bring into scope (JoinExprs without alias unpacked)."""
    out: list[str] = []
    for it in items or ():
        if isinstance(it, ast.JoinExpr) and it.alias is None:
            out.extend(from_leaves([it.larg, it.rarg]))
        elif isinstance(it, ast.RangeVar):
            out.append(it.alias.aliasname if it.alias else it.relname)
        elif getattr(it, "alias", None) is not None:
            out.append(it.alias.aliasname)
        else:
            raise FeatureNotSupported("RETURNING with this FROM item is not supported")
    return out


async def dml_result(tag: str, rows: list[tuple], returning: Returning | None, txn,
                     session, params: list, from_rows: list[tuple] | None = None
                     ) -> QueryResult:
    if returning is None or not returning.wanted:
        return QueryResult(tag)
    return QueryResult(tag, returning.columns(), await returning.rows(rows, txn, session,
                                                                     params, from_rows))


def finish_dml(plan: Plan, stmt, table: TableDef, alias: str, scope: RowScope, catalog,
               param_oids: list[int], force_engine: bool = False,
               leaves: list[tuple[str, list[Column]]] | None = None) -> Plan:
    """RETURNING, the result shape and the parameter types every DML plan carries."""
    plan.is_dml = True
    plan.returning = Returning(stmt, table, alias, scope, catalog, param_oids,
                               force_engine, leaves)
    plan.columns = plan.returning.columns()
    n = max(len(param_oids), len(scope.param_oids))
    merged = [(param_oids[i] if i < len(param_oids) else 0) or
              (scope.param_oids[i] if i < len(scope.param_oids) else 0) for i in range(n)]
    plan.param_oids = [o or T.TEXT for o in merged]
    return plan
