"""The primary-key rule: a point lookup when the WHERE clause fixes every key column,
a range over a key prefix when it fixes the leading ones, else the table's key range.
"""
from __future__ import annotations

from typing import Any

from pglast import ast

from ...errors import BindError, DsqlError
from .. import types as T
from ..catalog import TableDef
from ..query.rowexpr import RowExpr, RowScope
from .path import Access, SqlText
from .terms import conjuncts, same_family


def _key_equalities(node: Any, table: TableDef, scope: RowScope) -> dict[int, RowExpr]:
    """pk position → the constant/parameter expression it is compared equal to."""
    fixed: dict[int, RowExpr] = {}
    pk_cols = {col: pos for pos, col in enumerate(table.pk)}
    for conj in conjuncts(node):
        if not (isinstance(conj, ast.A_Expr) and conj.name[-1].sval == "="
                and conj.kind == 0):
            continue
        for col_side, val_side in ((conj.lexpr, conj.rexpr), (conj.rexpr, conj.lexpr)):
            if not isinstance(col_side, ast.ColumnRef):
                continue
            try:
                col = scope.lookup(col_side.fields)
            except BindError:
                continue
            if col not in pk_cols or isinstance(val_side, ast.ColumnRef):
                continue
            try:
                val = scope.compile(val_side)
            except DsqlError:
                continue
            if not (val.const or val.param is not None):
                continue
            col_oid = table.columns[col].type_oid
            if val.oid not in (T.UNKNOWN, 0) and not same_family(val.oid, col_oid):
                continue
            fixed[pk_cols[col]] = scope.coerce(val, col_oid) if val.oid != col_oid \
                else val
    return fixed


def plan_access(table: TableDef, where: Any, scope: RowScope) -> Access:
    """The primary-key path: a point lookup when the WHERE clause fixes every key
    column, a range over a key prefix when it fixes the leading ones, else the table's
    key range; the whole WHERE clause stays the residual test (see plan_pushdown)."""
    pred = None
    if where is not None:
        pred = scope.predicate(where)
    access = Access(table, residual=pred)
    if where is None:
        return access
    access.where_sql = SqlText(where)
    fixed = {} if table.hidden_pk else _key_equalities(where, table, scope)
    if table.hidden_pk:
        pass                                  # no declared key: only an index can help
    elif len(fixed) == len(table.pk):
        access.point = [fixed[i] for i in range(len(table.pk))]
    else:
        leading = []
        for i in range(len(table.pk)):
            if i not in fixed:
                break
            leading.append(fixed[i])
        access.prefix = leading or None
    used = {table.columns[table.pk[i]].name for i in range(len(access.point or access.prefix
                                                               or ()))}
    access.key_sql = [SqlText(c) for c in conjuncts(where)
                      if isinstance(c, ast.A_Expr) and any(
                          isinstance(side, ast.ColumnRef) and isinstance(side.fields[-1],
                                                                         ast.String)
                          and side.fields[-1].sval in used for side in (c.lexpr, c.rexpr))]
    return access
