"""Reading a WHERE clause for access paths: its AND-ed conjuncts, ``column op value``
terms, and which types compare alike.
"""
from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import BoolExprType

from ...errors import DsqlError
from .. import types as T
from ..query.rowexpr import RowExpr, RowScope


def conjuncts(node: Any) -> list[Any]:
    """The AND-ed parts of a WHERE clause (nested ANDs flattened)."""
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for a in node.args for c in conjuncts(a)]
    return [node] if node is not None else []


FLIP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def column_comparison(conj: Any, scope: RowScope) -> tuple[str, int, RowExpr] | None:
    """``column op value`` either way round, the value a constant or a parameter:
    (the operator as seen from the column, the column's position, the compiled value)."""
    if not (isinstance(conj, ast.A_Expr) and conj.kind == 0 and len(conj.name) == 1
            and conj.name[0].sval in FLIP):
        return None
    for col_side, val_side, op in ((conj.lexpr, conj.rexpr, conj.name[0].sval),
                                   (conj.rexpr, conj.lexpr, FLIP[conj.name[0].sval])):
        if not isinstance(col_side, ast.ColumnRef) or isinstance(val_side, ast.ColumnRef):
            continue
        try:
            col = scope.lookup(col_side.fields)
            val = scope.compile(val_side)
        except DsqlError:
            continue
        if val.const or val.param is not None:
            return op, col, val
    return None


def family(oid: int) -> str:
    """Types whose values compare alike: the integers, the character types, else each."""
    if oid in T.INTEGER_OIDS:
        return "int"
    if oid in (T.TEXT, T.VARCHAR, T.BPCHAR):
        return "text"
    return str(oid)


def same_family(a: int, b: int) -> bool:
    return family(a) == family(b)
