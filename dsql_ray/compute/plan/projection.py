"""The select list and ORDER BY of the key-aware plan, over one row's expressions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from ...errors import AmbiguousColumn, FeatureNotSupported
from .. import types as T
from ..catalog import TableDef
from ..query.exprs import figure_colname
from ..query.rowexpr import RowExpr, RowScope, column_ref, compile_constant
from ..query.sqltypes import cast, type_modifier
from ..result import Column


@dataclass
class Projection:
    exprs: list[RowExpr]
    names: list[str]

    typmods: list[int] = field(default_factory=list)     # per column; -1: none
    #: what each column is: ("col", i) for the table's column i, else the expression's tree
    sources: list = field(default_factory=list)

    def columns(self) -> list[Column]:
        mods = self.typmods or [-1] * len(self.exprs)
        return [Column(n, oid, T.TYPE_SIZE.get(oid, -1), m) for n, e, m in
                zip(self.names, self.exprs, mods)
                for oid in (e.oid if e.oid != T.UNKNOWN else T.TEXT,)]

    def output_index(self, name: str, what: str) -> int | None:
        """The output column a bare name in ORDER BY means (output names first, as in
        PostgreSQL); two different columns of that name: 42702."""
        idx = [i for i, n in enumerate(self.names) if n == name]
        if len({repr(self.sources[i]) for i in idx}) > 1:
            raise AmbiguousColumn(f'{what} "{name}" is ambiguous')
        return idx[0] if idx else None

    def apply(self, rows: list[tuple], params: list) -> list[tuple]:
        fns = [e.fn for e in self.exprs]
        return [tuple(f(r, params) for f in fns) for r in rows]


def projection(targets, scope: RowScope, table: TableDef | None = None,
               clause: str = "SELECT") -> Projection:
    """The select list over one table's rows; ``table`` gives bare columns their type
    modifier (character(n) output is padded to n)."""
    exprs, names, mods, sources = [], [], [], []

    def typmod(i: int) -> int:
        if table is None or i >= len(table.columns) or table.columns[i].type_oid != T.BPCHAR:
            return -1
        return table.columns[i].type_modifier
    for target in targets:
        val = target.val
        if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
            for i, name in enumerate(scope.names):
                exprs.append(column_ref(i, scope.oids[i]))
                names.append(name)
                mods.append(typmod(i))
                sources.append(("col", i))
            continue
        expr = scope.compile(val, clause)
        if expr.oid == T.UNKNOWN:
            expr = scope.coerce(expr, T.TEXT)
        exprs.append(expr)
        names.append(target.name or figure_colname(val))
        if isinstance(val, ast.ColumnRef):
            sources.append(("col", scope.lookup(val.fields)))
            mods.append(typmod(scope.lookup(val.fields)))
        elif isinstance(val, ast.TypeCast) and expr.oid == T.BPCHAR:
            mods.append(type_modifier(val.typeName, T.BPCHAR))
        else:
            mods.append(-1)
        if len(sources) < len(exprs):
            sources.append(val)
    return Projection(exprs, names, mods, sources)


def const_int(node: Any, what: str) -> int | None:
    if node is None:
        return None
    if isinstance(node, ast.A_Const) and node.isnull:
        return None
    expr = compile_constant(node)
    if not expr.const:
        raise FeatureNotSupported(f"{what} must be a constant for now")
    return cast(expr.value(), T.INT8)


def sort_key(values: list[tuple[Any, bool, bool]]):
    """Turn (value, descending, nulls_first) triples into a comparable key."""
    out = []
    for value, desc, nulls_first in values:
        null = value is None
        out.append((_Desc if desc else _Asc)((0 if null == nulls_first else 1) if null else
                                               (1 if nulls_first else 0), value))
    return out


class _Asc:
    """One ORDER BY key: NULL placement (rank), then the value ascending."""
    __slots__ = ("rank", "value")
    descending = False

    def __init__(self, rank, value):
        self.rank, self.value = rank, value

    def __lt__(self, other):
        if self.rank != other.rank:
            return self.rank < other.rank
        if self.value is None or other.value is None:
            return False
        a, b = (other.value, self.value) if self.descending else (self.value, other.value)
        return a < b

    def __eq__(self, other):
        return self.rank == other.rank and self.value == other.value


class _Desc(_Asc):
    __slots__ = ()
    descending = True

