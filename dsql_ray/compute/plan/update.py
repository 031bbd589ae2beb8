"""UPDATE: assignments compiled over the row and an access path (key-aware), or one
engine SELECT giving each matched row's key and new values (``matches.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast

from ...errors import ParseError, UndefinedColumn
from ..access.index_scan import best_access
from ..access.path import Access
from ..access.pushdown import plan_pushdown
from ..catalog import TableDef
from ..query.rowexpr import RowExpr, RowScope, needs_engine
from ..result import Column, QueryResult
from ..sequences import default_calls, nextval_calls, reserve
from . import trees
from .base import Plan
from .matches import engine_explain, leaf_stars, matched, plan_leaves, prepare_matches, split_from
from .returning import Returning, dml_result, finish_dml
from .rows import (alias_of, assign_value, check_row, column_default, converter, table_scope,
                   write_update)


@dataclass
class UpdatePlan(Plan):
    access: Access | None = None
    assignments: list[tuple[int, RowExpr]] = field(default_factory=list)
    matches: Any = None                 # engine path: key, old row, new values, FROM rows
    table: TableDef | None = None
    positions: list[int] = field(default_factory=list)
    converters: list[Callable] = field(default_factory=list)
    leaves: list[tuple[str, list[Column]]] = field(default_factory=list)
    returning: Returning | None = None

    async def run(self, txn, params, session) -> QueryResult:
        from_rows = []
        if self.matches is not None:
            changes = []
            for key, row, values in await matched(self.matches, self.table, txn, session,
                                                  params):
                new = list(row)
                for pos, conv, v in zip(self.positions, self.converters, values):
                    new[pos] = conv(v)
                changes.append((key, tuple(new)))
                from_rows.append(split_from(values[len(self.positions):], self.leaves))
            positions = self.positions
        else:
            changes = []
            found = await self.access.rows(txn, params)
            await reserve(session, self.sequences, len(found))
            for key, row in found:
                new = list(row)
                for pos, expr in self.assignments:
                    new[pos] = expr.fn(row, params)
                changes.append((key, tuple(new)))
            positions = [pos for pos, _ in self.assignments]
        updated = []
        for key, new in changes:
            check_row(self.table, new)
            await write_update(txn, self.table, key, new, positions)
            updated.append(new)
        return await dml_result(f"UPDATE {len(updated)}", updated, self.returning, txn,
                                session, params, from_rows)

    def explain(self) -> list[str]:
        return engine_explain("Update", self.table, self.matches)


def _set_targets(stmt: ast.UpdateStmt, table: TableDef) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for target in stmt.targetList:
        if target.name not in table.column_names:
            raise UndefinedColumn(f'column "{target.name}" of relation "{table.name}" does not '
                                  "exist")
        pos = table.column_names.index(target.name)
        if any(p == pos for p, _ in out):
            raise ParseError(f'multiple assignments to same column "{target.name}"')
        val = target.val
        if isinstance(val, ast.MultiAssignRef):
            val = trees.multi_assign_part(val)
        out.append((pos, val))
    return out


def plan_update(stmt: ast.UpdateStmt, catalog, param_oids: list[int]) -> UpdatePlan:
    table = catalog.resolve(stmt.relation)
    alias = alias_of(stmt.relation, table)
    scope = table_scope(stmt.relation, table, param_oids)
    targets = _set_targets(stmt, table)
    sequences = nextval_calls(stmt) + default_calls(
        table.columns[p] for p, v in targets if isinstance(v, ast.SetToDefault))
    engine = bool(stmt.fromClause) or stmt.withClause is not None or \
        needs_engine(stmt.whereClause, [v for _, v in targets])
    if not engine:
        assignments = []
        for pos, node in targets:
            col = table.columns[pos]
            expr = column_default(col) if isinstance(node, ast.SetToDefault) \
                else assign_value(scope.compile(node, "UPDATE"), col, scope)
            assignments.append((pos, expr))
        access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                               stmt.whereClause, scope)
        plan = UpdatePlan(access=access, assignments=assignments, table=table,
                          sequences=sequences)
        return finish_dml(plan, stmt, table, alias, scope, catalog, list(scope.param_oids))
    oids = list(param_oids)
    leaves = plan_leaves(stmt, stmt.fromClause, catalog, oids)
    extra = [trees.stored(node, table.columns[pos]) for pos, node in targets]
    prepared = prepare_matches(stmt, table, alias, extra + leaf_stars(leaves),
                               stmt.fromClause, catalog, oids)
    n = len(table.columns) + 1
    plan = UpdatePlan(matches=prepared, table=table, positions=[p for p, _ in targets],
                      converters=[converter(table.columns[p], c.type_oid) for (p, _), c
                                  in zip(targets, prepared.columns[n:])], leaves=leaves,
                      sequences=sequences)
    return finish_dml(plan, stmt, table, alias, RowScope((), (), alias, []), catalog, oids,
                      force_engine=True, leaves=leaves)
