"""The pushdown rule: WHERE conjuncts storage evaluates exactly (``column op constant``,
``IS [NOT] NULL``) move into the scan, and the columns a statement reads become a
projection pushed to storage.
"""
from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import NullTestType

from ...errors import DsqlError
from .. import types as T
from ..catalog import TableDef
from ..query.astwalk import any_node
from ..query.rowexpr import RowExpr, RowScope
from .path import Access, SqlText
from .terms import column_comparison, conjuncts


#: column types whose Python values compare in storage as PostgreSQL compares them
_PUSHABLE_TYPES = T.INTEGER_OIDS | {T.TEXT, T.VARCHAR, T.BOOL, T.DATE, T.TIMESTAMP,
                                    T.TIMESTAMPTZ}


def _pushable(conj: Any, table: TableDef, scope: RowScope
              ) -> tuple[str, int, RowExpr | None] | None:
    """``column op constant`` or ``column IS [NOT] NULL`` as a storage predicate term."""
    if isinstance(conj, ast.NullTest) and isinstance(conj.arg, ast.ColumnRef) \
            and not conj.argisrow:
        try:
            col = scope.lookup(conj.arg.fields)
        except DsqlError:
            return None
        return ("isnull" if conj.nulltesttype == NullTestType.IS_NULL else "notnull", col,
                None)
    term = column_comparison(conj, scope)
    if term is not None:
        op, col, val = term
        col_oid = table.columns[col].type_oid
        if col_oid not in _PUSHABLE_TYPES:
            return None
        if val.oid not in (T.UNKNOWN, 0) and not (
                val.oid == col_oid or (val.oid in T.INTEGER_OIDS and col_oid in T.INTEGER_OIDS)
                or (val.oid in (T.TEXT, T.VARCHAR) and col_oid in (T.TEXT, T.VARCHAR))):
            return None
        if val.oid != col_oid and not (val.oid in T.INTEGER_OIDS and col_oid in T.INTEGER_OIDS):
            val = scope.coerce(val, col_oid)
        return (op, col, val)
    return None


#: push filters and projections into storage scans (off only to measure: bench_pushdown.py)
PUSHDOWN = True


def plan_pushdown(access: Access, where: Any, scope: RowScope) -> Access:
    """Move the WHERE conjuncts storage can evaluate exactly into ``access.pushed``.

    The residual keeps the others (a row passes when every conjunct is true). Tables
    whose stored rows are not in column order (altered) keep everything in compute.
    """
    table = access.table
    if where is None or not PUSHDOWN or getattr(table, "altered", False):
        return access
    pushed, pushed_sql, rest = [], [], []
    for conj in conjuncts(where):
        term = _pushable(conj, table, scope)
        if term is None:
            rest.append(conj)
        else:
            pushed.append(term)
            pushed_sql.append(SqlText(conj))
    if not pushed:
        return access
    access.pushed, access.pushed_sql = pushed, pushed_sql
    fns = [scope.typed(c, T.BOOL).fn for c in rest]
    if not fns:
        access.residual = None
    elif len(fns) == 1:
        f = fns[0]
        access.residual = lambda row, params: f(row, params) is True
    else:
        access.residual = lambda row, params: all(f(row, params) is True for f in fns)
    return access


def referenced_columns(nodes: Any, scope: RowScope) -> tuple[int, ...] | None:
    """Positions of the columns ``nodes`` mention; None when they need every column."""
    found: set[int] = set()
    every = False

    def visit(n):
        nonlocal every
        if isinstance(n, ast.ColumnRef):
            if isinstance(n.fields[-1], ast.A_Star):
                every = True
            else:
                try:
                    found.add(scope.lookup(n.fields))
                except DsqlError:
                    every = True
        return False
    any_node(nodes, visit)
    if every or len(found) == len(scope.names):
        return None
    return tuple(sorted(found))
