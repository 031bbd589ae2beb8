"""DELETE: an access path (key-aware), or one engine SELECT giving the keys of the rows
matched (DELETE ... USING, sub-queries: ``matches.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from ..access.index_scan import best_access
from ..access.path import Access
from ..access.pushdown import plan_pushdown
from ..catalog import TableDef
from ..query.rowexpr import RowScope, needs_engine
from ..result import Column, QueryResult
from ..sequences import nextval_calls
from .base import Plan
from .matches import engine_explain, leaf_stars, matched, plan_leaves, prepare_matches, split_from
from .returning import Returning, dml_result, finish_dml
from .rows import alias_of, table_scope


@dataclass
class DeletePlan(Plan):
    access: Access | None = None
    matches: Any = None                 # engine path: key, old row, FROM rows
    table: TableDef | None = None
    leaves: list[tuple[str, list[Column]]] = field(default_factory=list)
    returning: Returning | None = None

    async def run(self, txn, params, session) -> QueryResult:
        from_rows = []
        if self.matches is not None:
            found = []
            for k, r, extras in await matched(self.matches, self.table, txn, session,
                                              params):
                found.append((k, r))
                from_rows.append(split_from(extras, self.leaves))
        else:
            found = await self.access.rows(txn, params)
        for key, _ in found:
            txn.delete(key)
        return await dml_result(f"DELETE {len(found)}", [r for _, r in found],
                                self.returning, txn, session, params, from_rows)

    def explain(self) -> list[str]:
        return engine_explain("Delete", self.table, self.matches)


def plan_delete(stmt: ast.DeleteStmt, catalog, param_oids: list[int]) -> DeletePlan:
    table = catalog.resolve(stmt.relation)
    alias = alias_of(stmt.relation, table)
    scope = table_scope(stmt.relation, table, param_oids)
    engine = bool(stmt.usingClause) or stmt.withClause is not None or \
        needs_engine(stmt.whereClause)
    if not engine:
        access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                               stmt.whereClause, scope)
        return finish_dml(DeletePlan(access=access, table=table,
                                     sequences=nextval_calls(stmt)), stmt, table, alias,
                          scope, catalog, list(scope.param_oids))
    oids = list(param_oids)
    leaves = plan_leaves(stmt, stmt.usingClause, catalog, oids)
    prepared = prepare_matches(stmt, table, alias, leaf_stars(leaves), stmt.usingClause,
                               catalog, oids)
    return finish_dml(DeletePlan(matches=prepared, table=table, leaves=leaves,
                                 sequences=nextval_calls(stmt)), stmt, table,
                      alias, RowScope((), (), alias, []), catalog, oids, force_engine=True,
                      leaves=leaves)
