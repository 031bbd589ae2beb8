"""SELECT: the access path is chosen by a predicate before anything is compiled.

``key_aware`` decides whether the key-aware plan (one table or none: point lookup, key
range, index scan or a scan with filters and columns pushed to storage, ``access/``) answers the statement; otherwise the query engine plans it
(``engine.QueryPlan``). Each statement is planned once, by one of the two.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import LockClauseStrength, SortByDir, SortByNulls

from ... import limits
from ...errors import FeatureNotSupported, InvalidColumnReference, LimitExceeded
from ..access import pushdown
from .. import types as T
from ..access.index_scan import best_access, engine_index_access
from ..access.path import Access
from ..access.pushdown import plan_pushdown, referenced_columns
from ..interrupt import checkpoints
from ..query import prepare_select
from ..query.astwalk import any_node, nodes
from ..query.rowexpr import RowExpr, RowScope, column_ref, needs_engine
from ..result import QueryResult
from ..sequences import nextval_calls, reserve, view_calls
from ..system import SystemCatalog, mentions_system, prepare_system_select
from .base import Plan
from .engine import QueryPlan
from .projection import Projection, const_int, projection, sort_key


@dataclass
class SelectPlan(Plan):
    access: Access | None = None
    source_filter: Callable | None = None
    output: Projection | None = None
    #: (expression, descending, nulls first, evaluated on the output row)
    order: list[tuple[RowExpr, bool, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    for_update: bool = False
    key_share: bool = False          # FOR KEY SHARE only: the rows are held shared

    async def run(self, txn, params, session) -> QueryResult:
        if self.access is None:
            rows = [()]
            if self.source_filter is not None and self.source_filter((), params) is not True:
                rows = []
            keyed = [(None, r) for r in rows]
        else:
            keyed = await self.access.rows(txn, params)
            await reserve(session, self.sequences, len(keyed))
            if self.for_update:
                txn.lock((k for k, _ in keyed), shared=self.key_share)
        if len(keyed) > limits.scan_rows_max:
            raise LimitExceeded("statement returns too many rows")
        source = [r for _, r in keyed]
        out = self.output.apply(checkpoints(source), params)
        if self.order:
            decorated = []
            for src, res in zip(checkpoints(source), out):
                decorated.append((sort_key([(e.fn(res if on_out else src, params), d, nf)
                                             for e, d, nf, on_out in self.order]), res))
            decorated.sort(key=lambda kr: kr[0])
            out = [r for _, r in decorated]
        if self.offset:
            out = out[self.offset:]
        if self.limit is not None:
            out = out[:self.limit]
        return QueryResult(f"SELECT {len(out)}", self.columns, out)

    def explain(self) -> list[str]:
        if self.access is None:
            return ["Result"]
        return self.access.describe().split("\n")



#: lock strengths DSQL refuses; FOR UPDATE and FOR KEY SHARE both put the rows read into
#: the conflict check at COMMIT (a concurrent writer of them makes one side fail): FOR
#: UPDATE as written keys, FOR KEY SHARE as shared keys (two sharers never conflict)
_REFUSED_LOCKS = {LockClauseStrength.LCS_FORSHARE: "FOR SHARE",
                  LockClauseStrength.LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE"}


def _check_lock_strengths(stmt: ast.SelectStmt) -> None:
    for node in nodes(stmt):
        if isinstance(node, ast.LockingClause) and node.strength in _REFUSED_LOCKS:
            raise FeatureNotSupported(f"SELECT ... {_REFUSED_LOCKS[node.strength]} is not "
                                      "supported",
                                      hint="Use FOR UPDATE or FOR KEY SHARE: both put the rows "
                                           "read into the conflict check at COMMIT.")


def key_share_only(stmt: ast.SelectStmt) -> bool:
    """Every locking clause of the statement is FOR KEY SHARE."""
    clauses = [n for n in nodes(stmt) if isinstance(n, ast.LockingClause)]
    return bool(clauses) and all(n.strength == LockClauseStrength.LCS_FORKEYSHARE
                                 for n in clauses)


def plan_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> Plan:
    """The key-aware plan when :func:`key_aware` says it answers; else the query engine."""
    _check_lock_strengths(stmt)
    if mentions_system(stmt):       # pg_catalog / information_schema (compute/system)
        prepared = prepare_system_select(stmt, catalog, list(param_oids))
        plan = QueryPlan(prepared=prepared, columns=prepared.columns,
                         param_oids=prepared.param_oids)
    elif key_aware(stmt, catalog):
        plan = _plan_simple_select(stmt, catalog, param_oids)
    else:
        prepared = prepare_select(stmt, SystemCatalog(catalog), list(param_oids))
        plan = QueryPlan(prepared=prepared, columns=prepared.columns,
                         param_oids=prepared.param_oids,
                         index_access=engine_index_access(stmt, prepared, catalog),
                         key_share=key_share_only(stmt))
    if not isinstance(plan, QueryPlan):
        plan.key_share = key_share_only(stmt)
    reads = plan.prepared.tables if isinstance(plan, QueryPlan) else ()
    plan.sequences = nextval_calls(stmt) + view_calls(reads)    # values reserved to run
    return plan


def _statement_constant(node: Any) -> bool:
    """LIMIT/OFFSET the key-aware plan evaluates once: no column, parameter or call."""
    return node is None or not any_node(node, lambda n: isinstance(
        n, (ast.ColumnRef, ast.ParamRef, ast.FuncCall, ast.SubLink)))


def key_aware(stmt: ast.SelectStmt, catalog) -> bool:
    """The access-path choice, made before compiling: can the key-aware plan (one table
    or none, by key, range, index or scan with pushdown) answer it, or does it need the
    query engine (joins, grouping, sub-queries, aggregates, views, sequences, ...)?"""
    if stmt.op != 0 or stmt.valuesLists or stmt.withClause or stmt.groupClause \
            or stmt.havingClause or stmt.distinctClause or stmt.windowClause:
        return False
    from_ = stmt.fromClause or ()
    if len(from_) > 1 or (from_ and not isinstance(from_[0], ast.RangeVar)):
        return False
    if needs_engine(stmt.targetList, stmt.whereClause, stmt.sortClause) or not (
            _statement_constant(stmt.limitCount) and _statement_constant(stmt.limitOffset)):
        return False
    table = catalog.resolve(from_[0]) if from_ else None
    if table is not None and table.kind != "r":      # views, sequences: the engine reads them
        return False
    return not (stmt.lockingClause and table is None)


def _plan_simple_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> SelectPlan:
    """A read of one table (or none): its access path and pushdown, the projection,
    ORDER BY, LIMIT and FOR UPDATE, all over one row's expressions."""
    from_ = stmt.fromClause or ()
    table = catalog.resolve(from_[0]) if from_ else None
    scope = RowScope(table.column_names if table else [], table.column_oids if table else [],
                     (from_[0].alias.aliasname if from_ and from_[0].alias else
                      table.name if table else None), list(param_oids))
    plan = SelectPlan(reads_catalog=False)
    if table is not None:
        plan.access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                                    stmt.whereClause, scope)
    elif stmt.whereClause is not None:
        plan.source_filter = scope.typed(stmt.whereClause, T.BOOL).fn
    plan.output = projection(stmt.targetList or (), scope, table)
    for sort in stmt.sortClause or ():
        desc = sort.sortby_dir == SortByDir.SORTBY_DESC
        nulls_first = desc if sort.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT \
            else sort.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
        node = sort.node
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            pos = node.val.ival
            if not 1 <= pos <= len(plan.output.exprs):
                raise InvalidColumnReference(f"ORDER BY position {pos} is not in select list")
            plan.order.append((column_ref(pos - 1, 0), desc, nulls_first, True))
            continue
        i = (plan.output.output_index(node.fields[0].sval, "ORDER BY")
             if isinstance(node, ast.ColumnRef) and len(node.fields) == 1
             and isinstance(node.fields[0], ast.String) else None)
        if i is not None:                       # a bare name: an output column first
            plan.order.append((column_ref(i, 0), desc, nulls_first, True))
            continue
        plan.order.append((scope.compile(node, "ORDER BY"), desc, nulls_first, False))
    plan.limit = const_int(stmt.limitCount, "LIMIT")
    plan.offset = const_int(stmt.limitOffset, "OFFSET") or 0
    plan.for_update = bool(stmt.lockingClause)
    plan.columns = plan.output.columns()
    plan.param_oids = [o or T.TEXT for o in scope.param_oids]
    if plan.access is not None and pushdown.PUSHDOWN and not getattr(table, "altered", False):
        plan.access.columns = referenced_columns(      # projection pushed to storage
            [stmt.targetList, stmt.whereClause, stmt.sortClause], scope)
    return plan

