"""What every DML plan shares: values stored into columns, the checks a written row
passes, its storage key, and the UPDATE of one row (its key may move)."""
from __future__ import annotations

from typing import Any, Callable

from ...errors import DatatypeMismatch
from .. import types as T
from ..catalog import ColumnDef, TableDef
from ..constraints import (check_row, duplicate_key, new_row_key, parse_expr,  # noqa: F401
                           write_update)        # re-exported: DML's row helpers
from ..query import sqltypes as S
from ..query.rowexpr import RowExpr, RowScope, compile_constant, constant
from ..query.sqltypes import assign, cast

_TEXTS = (T.TEXT, T.VARCHAR, T.BPCHAR)


def column_default(col: ColumnDef) -> RowExpr:
    if col.default_expr is None:
        return constant(None, col.type_oid)
    return compile_constant(parse_expr(col.default_expr), col.type_oid)


def assign_value(expr: RowExpr, col: ColumnDef, scope: RowScope) -> RowExpr:
    """An expression stored into a column: the value is cast to the column's type."""
    expr = scope.coerce(expr, col.type_oid)
    f, oid, typmod = expr.fn, col.type_oid, col.type_modifier
    if expr.oid != oid:
        if expr.oid in (T.TEXT, T.VARCHAR, T.BPCHAR) \
                and oid not in (T.TEXT, T.VARCHAR, T.BPCHAR):
            raise DatatypeMismatch(f'column "{col.name}" is of type {T.OID_TO_NAME.get(oid)} but '
                                   f"expression is of type {T.OID_TO_NAME.get(expr.oid)}",
                                   hint="You will need to rewrite or cast the expression.")
        expr = RowExpr(lambda r, p: cast(f(r, p), oid), oid)
    if typmod < 0:
        return expr
    g = expr.fn                  # varchar(n), char(n), numeric(p, s), timestamp(p)
    return RowExpr(lambda r, p: assign(g(r, p), oid, typmod), oid)


_CATEGORY = {**{o: "n" for o in (T.INT2, T.INT4, T.INT8, T.FLOAT4, T.FLOAT8, T.NUMERIC)},
             T.DATE: "d", T.TIMESTAMP: "d", T.TIMESTAMPTZ: "d", T.JSON: "j", T.JSONB: "j"}


def converter(col: ColumnDef, oid: int) -> Callable[[Any], Any]:
    """PostgreSQL's assignment cast of a value of type ``oid`` into ``col``; 42804 if none."""
    target, typmod = col.type_oid, col.type_modifier
    if oid != target and oid not in (T.UNKNOWN, 0) and target not in _TEXTS:
        a, b = _CATEGORY.get(oid, oid), _CATEGORY.get(target, target)
        if a != b:
            raise DatatypeMismatch(
                f'column "{col.name}" is of type {T.OID_TO_NAME.get(target)} but '
                f"expression is of type {S.type_name(oid)}",
                hint="You will need to rewrite or cast the expression.")
    if typmod >= 0:
        return lambda v: assign(S.cast(v, target), target, typmod)
    if oid == target:
        return lambda v: v
    return lambda v: S.cast(v, target)



def table_scope(relation, table: TableDef, param_oids: list[int]) -> RowScope:
    alias = relation.alias.aliasname if relation.alias else table.name
    return RowScope(table.column_names, table.column_oids, alias, list(param_oids))


def alias_of(relation, table: TableDef) -> str:
    return relation.alias.aliasname if relation.alias else table.name
