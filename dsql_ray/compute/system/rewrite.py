"""Rewrites catalog-query constructs into forms the general query engine already runs.

* ``x::regclass`` / ``regtype`` / ``regnamespace`` / ``regrole`` / ``regproc`` → calls of
  ``__dsql_reg*(x)``: an integer shows as a name, a string reads as an oid (int8);
  ``::oid`` → ``::int8`` (but ``::oid[]`` stays: catalog oid columns are of type oid, so
  ``array_agg`` of them and ``$1::oid[]`` are oid[], which drivers such as asyncpg need);
  ``::name`` → ``::text``; ``::int2vector`` / ``::oidvector`` → arrays.
* ``expr COLLATE "x"`` → ``expr``.
* (Set-returning ``unnest`` / ``generate_subscripts`` / ``_pg_expandarray`` in a select
  list need nothing here: the query engine lifts every set-returning call into a lateral
  ROWS FROM, ``query/srfs.py``.)
* A SELECT that inner-joins an always-empty catalog (pg_policy, pg_inherits, …) returns
  no rows: its select list becomes typed NULLs and its FROM disappears, so the
  expressions it would never evaluate (array subscripts, ANY over columns …) need no
  support.
"""
from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import JoinType

from ..query.astwalk import any_node
from ..query.exprs import figure_colname
from ..query.planner import contains_aggregate
from . import tables as ST

_REG_FUNCS = {"regclass": "__dsql_regclass", "regtype": "__dsql_regtype",
              "regnamespace": "__dsql_regnamespace", "regrole": "__dsql_regrole",
              "regproc": "__dsql_regproc", "regprocedure": "__dsql_regproc",
              "regoper": "__dsql_regproc", "regoperator": "__dsql_regproc",
              "regconfig": "__dsql_regproc", "regdictionary": "__dsql_regproc"}
_RENAME_TYPES = {"oid": "int8", "name": "text", "xid": "int8", "cid": "int8",
                 "regcollation": "int8", "pg_node_tree": "text"}
_ARRAY_TYPES = {"int2vector": "int2", "oidvector": "int8"}


def _s(v: str) -> ast.String:
    return ast.String(sval=v)


def _func(name: str, args: list, **kw) -> ast.FuncCall:
    return ast.FuncCall(funcname=(_s("pg_catalog"), _s(name)), args=tuple(args),
                        funcformat=0, **kw)


def _type(name: str, array: bool = False) -> ast.TypeName:
    return ast.TypeName(names=(_s("pg_catalog"), _s(name)), typemod=-1,
                        arrayBounds=(ast.Integer(ival=-1),) if array else None)


def _typename(tn: ast.TypeName) -> str:
    names = [n.sval for n in tn.names if n.sval != "pg_catalog"]
    return " ".join(names).lower()


def system_relation(rv: ast.RangeVar) -> tuple[str, str] | None:
    if rv.schemaname in ("pg_catalog", "information_schema", "sys"):
        key = (rv.schemaname, rv.relname)
        return key if key in ST.SYSTEM else None
    if rv.schemaname is None and ("pg_catalog", rv.relname) in ST.SYSTEM:
        return ("pg_catalog", rv.relname)
    return None


def mentions_system(node: Any) -> bool:
    """Does the statement read a system relation, use a reg* cast or call an
    information_schema function (_pg_expandarray)?"""
    return any_node(node, lambda n: (isinstance(n, ast.RangeVar)
                                     and system_relation(n) is not None)
                    or (isinstance(n, ast.TypeCast) and _typename(n.typeName) in _REG_FUNCS)
                    or (isinstance(n, ast.FuncCall) and len(n.funcname) == 2
                        and n.funcname[0].sval == "information_schema"))


def rewrite(node: Any) -> Any:
    """Rewrite ``node`` (any pglast node, lists too) in place; returns its replacement."""
    if isinstance(node, tuple):
        return tuple(rewrite(x) for x in node)
    if isinstance(node, list):
        return [rewrite(x) for x in node]
    if not isinstance(node, ast.Node):
        return node
    if isinstance(node, ast.SelectStmt):
        if _always_empty(node):
            _empty_select(node)
    for attr in node:
        child = getattr(node, attr)
        if isinstance(child, (ast.Node, list, tuple)):
            setattr(node, attr, rewrite(child))
    if isinstance(node, ast.CollateClause):
        return node.arg
    if isinstance(node, ast.TypeCast):
        return _rewrite_cast(node)
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 3 and \
            isinstance(node.fields[0], ast.String) and \
            node.fields[0].sval in ("pg_catalog", "information_schema"):
        node.fields = node.fields[1:]
    if isinstance(node, ast.A_Expr) and node.name and len(node.name) == 2 and \
            node.name[0].sval == "pg_catalog":
        node.name = node.name[1:]
    return node


def _rewrite_cast(node: ast.TypeCast) -> Any:
    name = _typename(node.typeName)
    array = bool(node.typeName.arrayBounds)
    if name in _REG_FUNCS and not array:
        return _func(_REG_FUNCS[name], [node.arg])
    if name == "oid" and array:         # oid[] stays: drivers declare $1::oid[] parameters
        return node
    if name in _RENAME_TYPES:
        node.typeName = _type(_RENAME_TYPES[name], array)
    elif name in _ARRAY_TYPES:
        node.typeName = _type(_ARRAY_TYPES[name], True)
    elif name in _REG_FUNCS:
        node.typeName = _type("int8", True)
    return node


# -- SELECTs over always-empty catalogs -------------------------------------------------------
def _required_relations(item) -> list:
    """FROM items every output row needs a row of (inner sides of joins)."""
    if isinstance(item, ast.RangeVar):
        return [item]
    if isinstance(item, ast.JoinExpr):
        out = []
        if item.jointype in (JoinType.JOIN_INNER, JoinType.JOIN_LEFT):
            out += _required_relations(item.larg)
        if item.jointype in (JoinType.JOIN_INNER, JoinType.JOIN_RIGHT):
            out += _required_relations(item.rarg)
        return out
    return []


def _always_empty(stmt: ast.SelectStmt) -> bool:
    if stmt.op or stmt.valuesLists or not stmt.fromClause or not stmt.targetList:
        return False
    if any(isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
           for t in stmt.targetList):
        return False
    if not stmt.groupClause and (contains_aggregate([t.val for t in stmt.targetList]) or
                                 stmt.havingClause is not None):
        return False
    for item in stmt.fromClause:
        for rv in _required_relations(item):
            key = system_relation(rv)
            if key is not None and key in ST.ALWAYS_EMPTY:
                return True
    return False


def _empty_select(stmt: ast.SelectStmt) -> None:
    stmt.targetList = tuple(
        ast.ResTarget(name=t.name or figure_colname(t.val),
                      val=ast.TypeCast(arg=ast.A_Const(isnull=True), typeName=_type("text")))
        for t in stmt.targetList)
    stmt.fromClause = None
    stmt.whereClause = ast.A_Const(val=ast.Boolean(boolval=False))
    stmt.groupClause = stmt.havingClause = stmt.windowClause = None
    stmt.distinctClause = stmt.sortClause = None
    stmt.limitCount = stmt.limitOffset = None
    stmt.lockingClause = None
