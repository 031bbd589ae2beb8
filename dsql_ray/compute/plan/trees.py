"""Parse trees built directly: what DML hands the query engine, never SQL text.

A DML statement the key-aware path cannot evaluate becomes a SELECT over
statement-local relations (``engine.py``); these helpers make its nodes from the
statement's own sub-trees (copied, so a cached parse tree is never changed).
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, LimitOption, SetOperation, SubLinkType

from ...errors import FeatureNotSupported, ParseError, UndefinedColumn
from .. import types as T
from ..catalog import ColumnDef, TableDef
from ..constraints import parse_expr

#: internal type names the compiler resolves (the first SQL name listed for each OID)
_TYPE_NAMES = {oid: name for name, oid in reversed(list(T.NAME_TO_OID.items()))}


def column(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(ast.String(sval=n) for n in names))


def star(alias: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=(ast.String(sval=alias), ast.A_Star()))


def relation(name: str, alias: str) -> ast.RangeVar:
    return ast.RangeVar(relname=name, inh=True, relpersistence="p",
                        alias=ast.Alias(aliasname=alias))


def target(node: Any) -> ast.ResTarget:
    return ast.ResTarget(val=node)


def equals(left: Any, right: Any) -> ast.A_Expr:
    return ast.A_Expr(kind=A_Expr_Kind.AEXPR_OP, name=(ast.String(sval="="),), lexpr=left,
                      rexpr=right)


def conjunction(parts: list[Any]) -> Any:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return ast.BoolExpr(boolop=BoolExprType.AND_EXPR, args=tuple(parts))


def select(targets: Iterable[Any], from_items: Iterable[Any], where: Any = None,
           with_clause: Any = None) -> ast.SelectStmt:
    """``[WITH ...] SELECT targets FROM items [WHERE where]``; sub-trees are copied."""
    return ast.SelectStmt(targetList=tuple(copy.deepcopy(list(targets))),
                          fromClause=tuple(copy.deepcopy(list(from_items))) or None,
                          whereClause=copy.deepcopy(where),
                          withClause=copy.deepcopy(with_clause), op=SetOperation.SETOP_NONE,
                          limitOption=LimitOption.LIMIT_OPTION_DEFAULT, all=False,
                          groupDistinct=False)


def scalar_subquery(sub: ast.SelectStmt) -> ast.SubLink:
    return ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subLinkId=0, subselect=sub)


def cast_to(node: Any, col: ColumnDef) -> ast.TypeCast:
    """``CAST(node AS <col's type>)`` (length limits apply when the value is stored)."""
    name = _TYPE_NAMES.get(col.type_oid, "text")
    return ast.TypeCast(arg=node, typeName=ast.TypeName(names=(ast.String(sval=name),),
                                                        typemod=-1))


def untyped(node: Any) -> bool:
    """A literal string, NULL or bare parameter: typed by the column it is stored into."""
    return isinstance(node, ast.ParamRef) or (
        isinstance(node, ast.A_Const) and (node.isnull or isinstance(node.val, ast.String)))


def default_value(col: ColumnDef) -> Any:
    """The column's DEFAULT expression (stored in the catalog as text), or NULL."""
    if col.default_expr is None:
        return ast.A_Const(isnull=True)
    return copy.deepcopy(parse_expr(col.default_expr))


def stored(node: Any, col: ColumnDef) -> Any:
    """A value stored into ``col``: DEFAULT becomes the column's default, and untyped
    values (literal strings, NULL, parameters) take the column's type."""
    if isinstance(node, ast.SetToDefault):
        return cast_to(default_value(col), col)
    if untyped(node):
        return cast_to(copy.deepcopy(node), col)
    return node


def multi_assign_part(ref: ast.MultiAssignRef) -> Any:
    """Column ``colno`` of ``SET (a, b) = (row | sub-select)`` as a value of its own."""
    src = ref.source
    if isinstance(src, ast.RowExpr):
        if len(src.args) != ref.ncolumns:
            raise ParseError("number of columns does not match number of values")
        return src.args[ref.colno - 1]
    sub = src.subselect if isinstance(src, ast.SubLink) else None
    if sub is None or sub.op != 0 or any(
            isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
            for t in sub.targetList or ()):
        raise FeatureNotSupported("this form of SET (columns) = ... is not supported")
    if len(sub.targetList) != ref.ncolumns:
        raise ParseError("number of columns does not match number of values")
    one = copy.deepcopy(sub)     # the sub-select once per column: same rows, same errors
    one.targetList = (sub.targetList[ref.colno - 1],)
    return scalar_subquery(one)


def target_column(table: TableDef, name: str) -> int:
    """The position of a column a statement writes (42703 if the table has none)."""
    if name not in table.column_names:
        raise UndefinedColumn(f'column "{name}" of relation "{table.name}" does not exist')
    return table.column_names.index(name)


def assignments(targets, table: TableDef) -> list[tuple[int, Any]]:
    """``SET col = value, (a, b) = (...)`` (UPDATE, ON CONFLICT DO UPDATE): (column
    position, value tree) per column, each column once."""
    out: list[tuple[int, Any]] = []
    for target in targets:
        pos = target_column(table, target.name)
        if any(p == pos for p, _ in out):
            raise ParseError(f'multiple assignments to same column "{target.name}"')
        val = target.val
        if isinstance(val, ast.MultiAssignRef):
            val = multi_assign_part(val)
        out.append((pos, val))
    return out
