"""UPDATE: assignments compiled over the row and an access path (key-aware), or one
engine SELECT giving each matched row's key and new values (``matches.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pglast import ast

from ..access.index_scan import best_access
from ..access.pushdown import plan_pushdown
from ..query.rowexpr import RowExpr, RowScope, needs_engine
from ..result import QueryResult
from ..sequences import default_calls, nextval_calls, reserve
from . import trees
from .matches import MatchedDml, leaf_stars, plan_leaves, prepare_matches
from .returning import dml_result, finish_dml
from .rows import (alias_of, assign_value, check_row, column_default, converter, table_scope,
                   write_update)


@dataclass
class UpdatePlan(MatchedDml):
    assignments: list[tuple[int, RowExpr]] = field(default_factory=list)   # key-aware
    positions: list[int] = field(default_factory=list)         # engine: columns set
    converters: list[Callable] = field(default_factory=list)   # engine: values to them
    verb = "Update"

    async def run(self, txn, params, session) -> QueryResult:
        from_rows, changes = [], []
        if self.matches is not None:
            for key, row, values, from_row in await self.engine_matches(
                    txn, session, params, len(self.positions)):
                new = list(row)
                for pos, conv, v in zip(self.positions, self.converters, values):
                    new[pos] = conv(v)
                changes.append((key, tuple(new)))
                from_rows.append(from_row)
            positions = self.positions
        else:
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


def plan_update(stmt: ast.UpdateStmt, catalog, param_oids: list[int]) -> UpdatePlan:
    table = catalog.resolve(stmt.relation)
    alias = alias_of(stmt.relation, table)
    scope = table_scope(stmt.relation, table, param_oids)
    targets = trees.assignments(stmt.targetList, table)
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
