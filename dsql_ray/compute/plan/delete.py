"""DELETE: an access path (key-aware), or one engine SELECT giving the keys of the rows
matched (DELETE ... USING, sub-queries: ``matches.py``)."""
from __future__ import annotations

from pglast import ast

from ..access.index_scan import best_access
from ..access.pushdown import plan_pushdown
from ..query.rowexpr import RowScope, needs_engine
from ..result import QueryResult
from ..sequences import nextval_calls
from .matches import MatchedDml, leaf_stars, plan_leaves, prepare_matches
from .returning import dml_result, finish_dml
from .rows import alias_of, table_scope


class DeletePlan(MatchedDml):
    verb = "Delete"

    async def run(self, txn, params, session) -> QueryResult:
        from_rows = []
        if self.matches is not None:
            got = await self.engine_matches(txn, session, params)
            found = [(key, row) for key, row, _, _ in got]
            from_rows = [f for _, _, _, f in got]
        else:
            found = await self.access.rows(txn, params)
        for key, _ in found:
            txn.delete(key)
        return await dml_result(f"DELETE {len(found)}", [r for _, r in found],
                                self.returning, txn, session, params, from_rows)


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
