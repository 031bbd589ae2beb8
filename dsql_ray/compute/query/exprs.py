"""Compiling pglast expression nodes into closures ``fn(row, env)``.

One :class:`ExprCompiler` serves one clause of one query level. It resolves names
through the level's :class:`Scope` (outer levels for correlated references), types
expressions as PostgreSQL does for the common cases (untyped literals take their type
from context), and — in the select list, HAVING and ORDER BY of a grouped query —
registers aggregate calls and checks that bare columns are grouped. Window function
calls are registered the same way; their values are read from slots appended to the
row by the window operator.
"""
from __future__ import annotations

import datetime as dt
import decimal
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import (A_Expr_Kind, BoolExprType, BoolTestType, MinMaxOp, NullTestType,
                          SQLValueFunctionOp, SubLinkType)

from ...errors import (CannotCoerce, CardinalityViolation, DatatypeMismatch, DsqlError,
                       FeatureNotSupported, GroupingError, ParseError, UndefinedColumn,
                       UndefinedFunction,
                       UndefinedObject, WindowingError, WrongObjectType, NotNullViolation,
                       CheckViolation)
from .. import types as T
from . import datetimes as DT
from . import formatting  # noqa: F401  (registers to_char, to_date, to_timestamp)
from . import mathfuncs  # noqa: F401  (registers trigonometric and other math functions)
from . import textfuncs  # noqa: F401  (registers the string and bytea functions)
from .arrayfuncs import array_operator
from .astwalk import parse_expr, substitute
from . import sqltypes as S
from .aggregates import AGGREGATES, WINDOW_ONLY, AggSpec, agg_result_type
from .functions import FUNCTIONS, NAMED_ARGS, SET_RETURNING, compiled_regex, no_function
from .jsonops import json_modify_operator, json_operator
from .netfuncs import NET_TYPES, inet_not, inet_operator
from .runtime import Env, Expr, const, division_by_zero, hashable
from .scope import Scope
from pglast.enums import SortByDir, SortByNulls

_COMPARE = {"=": operator.eq, "<>": operator.ne, "!=": operator.ne, "<": operator.lt,
            ">": operator.gt, "<=": operator.le, ">=": operator.ge}
RECORD = 2249
_BITWISE = {"&": operator.and_, "|": operator.or_, "#": operator.xor}
_WIDTH = {T.INT2: 16, T.INT4: 32, T.INT8: 64}


def _shifter(op: str, oid: int):
    """int2/int4/int8 << and >> int4 as C does them: the count masked to the promoted
    width, the result wrapped to the left type (no overflow error)."""
    width = _WIDTH[oid]
    mask = 63 if width == 64 else 31
    half = 1 << (width - 1)

    def shift(a: int, n: int) -> int:
        n &= mask
        v = a << n if op == "<<" else a >> n
        return (v + half) % (2 * half) - half
    return shift
_NEGATE = {"=": "<>", "<>": "=", "<": ">=", ">": "<=", "<=": ">", ">=": "<"}
#: DSQL's procedures: only CALL runs them; in an expression they fail as PostgreSQL's do
PROCEDURES = frozenset({"sys.wait_for_job"})


# -- type names -------------------------------------------------------------------------------
#: SQL functions inlined within one another at most this deep (a recursive one: 54001)
INLINE_DEPTH_MAX = 32


def _bound_arguments(node: ast.FuncCall, f, missing) -> list:
    """A SQL function call's arguments by parameter, positional then named, defaults
    for the rest; each cast to its parameter's type. ``missing()``: the 42883 error."""
    raw = list(node.args or ())
    args: list = [None] * len(f.arg_oids)
    for i, a in enumerate(raw):
        if isinstance(a, ast.NamedArgExpr):
            if a.name not in f.arg_names:
                raise missing()
            args[f.arg_names.index(a.name)] = a.arg
        elif i < len(args):
            args[i] = a
        else:
            raise missing()
    for i, d in enumerate(f.arg_defaults):
        if args[i] is None and d is not None:
            args[i] = parse_expr(d)
    if any(a is None for a in args):
        raise missing()
    return [ast.TypeCast(arg=a, typeName=ast.TypeName(
        names=(ast.String(sval="pg_catalog"), ast.String(sval=T.OID_TO_NAME[o])),
        typemod=-1)) for a, o in zip(args, f.arg_oids)]


def resolve_type(tn: ast.TypeName) -> tuple[int, tuple[int, ...] | None]:
    names = [n.sval for n in tn.names if n.sval != "pg_catalog"]
    name = " ".join(names).lower()
    aliases = {"character varying": "varchar", "character": "bpchar", "float": "float8",
               "double": "float8", "timestamp without time zone": "timestamp",
               "timestamp with time zone": "timestamptz", "int": "int4", "dec": "numeric",
               "time without time zone": "time", "time with time zone": "timetz"}
    name = aliases.get(name, name)
    oid = T.NAME_TO_OID.get(name)
    if oid is None:
        raise UndefinedObject(f'type "{name}" does not exist')
    typmod = None
    if tn.typmods:
        mods = []
        for m in tn.typmods:
            if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer):
                mods.append(m.val.ival)
        typmod = tuple(mods) or None
        if name == "float8" and typmod:       # float(p)
            oid, typmod = (T.FLOAT4 if typmod[0] <= 24 else T.FLOAT8), None
    if tn.arrayBounds:
        arr = S.ARRAY_OF.get(oid)
        if arr is None:
            raise FeatureNotSupported(f"arrays of {name} are not supported")
        return arr, None
    return oid, typmod


def type_label(tn: ast.TypeName) -> str:
    """The column name PostgreSQL gives a bare cast: the type's internal name (a
    domain's own name)."""
    try:
        oid, _ = resolve_type(tn)
    except UndefinedObject:
        return tn.names[-1].sval
    return {T.INT2: "int2", T.INT4: "int4", T.INT8: "int8", T.FLOAT4: "float4",
            T.FLOAT8: "float8", T.BOOL: "bool", T.VARCHAR: "varchar", T.BPCHAR: "bpchar",
            T.TIMESTAMP: "timestamp", T.TIMESTAMPTZ: "timestamptz", T.TIMETZ: "timetz"}.get(
        oid, tn.names[-1].sval)


def figure_colname(node: Any) -> str:
    """PostgreSQL's FigureColname for the common expression kinds."""
    name = _colname(node)
    return name if name is not None else "?column?"


def _colname(node: Any) -> str | None:
    if isinstance(node, ast.ColumnRef):
        last = node.fields[-1]
        return last.sval if isinstance(last, ast.String) else None
    if isinstance(node, ast.FuncCall):
        return node.funcname[-1].sval
    if isinstance(node, ast.TypeCast):
        inner = _colname(node.arg)      # a weak inner name (a type's, "case") gives way
        return inner if inner is not None and _strong(node.arg) else \
            type_label(node.typeName)
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_NULLIF:
        return "nullif"
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce"
    if isinstance(node, ast.MinMaxExpr):
        return "greatest" if node.op == MinMaxOp.IS_GREATEST else "least"
    if isinstance(node, ast.CaseExpr):
        inner = _colname(node.defresult) if node.defresult is not None else None
        return inner if inner is not None else "case"
    if isinstance(node, ast.SubLink):
        if node.subLinkType == SubLinkType.EXISTS_SUBLINK:
            return "exists"
        if node.subLinkType == SubLinkType.ARRAY_SUBLINK:
            return "array"
        if node.subLinkType == SubLinkType.EXPR_SUBLINK:
            sel = node.subselect
            while sel.op and sel.op != 0:
                sel = sel.larg
            if sel.targetList:
                t = sel.targetList[0]
                return t.name if t.name else _colname(t.val)
        return None
    if isinstance(node, ast.SQLValueFunction):
        return {SQLValueFunctionOp.SVFOP_CURRENT_DATE: "current_date",
                SQLValueFunctionOp.SVFOP_CURRENT_TIME: "current_time",
                SQLValueFunctionOp.SVFOP_LOCALTIME: "localtime",
                SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP: "current_timestamp",
                SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP: "localtimestamp",
                SQLValueFunctionOp.SVFOP_CURRENT_USER: "current_user",
                SQLValueFunctionOp.SVFOP_SESSION_USER: "session_user",
                SQLValueFunctionOp.SVFOP_USER: "current_user",
                SQLValueFunctionOp.SVFOP_CURRENT_ROLE: "current_role",
                SQLValueFunctionOp.SVFOP_CURRENT_CATALOG: "current_catalog",
                SQLValueFunctionOp.SVFOP_CURRENT_SCHEMA: "current_schema"}.get(node.op)
    if isinstance(node, ast.A_Indirection):     # the last field name, else the base's
        names = [i.sval for i in node.indirection if isinstance(i, ast.String)]
        return names[-1] if names else _colname(node.arg)
    if isinstance(node, ast.RowExpr):
        return "row"
    if isinstance(node, ast.A_ArrayExpr):
        return "array"
    return None


def row_compare(op: str, a: tuple, b: tuple) -> bool | None:
    """Row comparison field by field (three-valued): = and <> decide on any unequal
    non-NULL pair, the orderings on the first unequal pair; a NULL before that → NULL."""
    if len(a) != len(b):
        raise DsqlError("unequal number of entries in row expressions", sqlstate="42601")
    if op in ("=", "<>", "!="):
        if any(x is not None and y is not None and x != y for x, y in zip(a, b)):
            return op != "="
        if any(x is None or y is None for x, y in zip(a, b)):
            return None
        return op == "="
    for x, y in zip(a, b):
        if x is None or y is None:
            return None
        if x != y:
            return _COMPARE[op](x, y)
    return op in ("<=", ">=")


def timetz_key(v):
    """timetz_cmp's order: the UTC time, then the zone (seconds west)."""
    if v is None:
        return None
    west = -int(v.utcoffset().total_seconds())
    return (((v.hour * 60 + v.minute) * 60 + v.second + west) * 1_000_000 + v.microsecond, west)


def _strong(node: Any) -> bool:
    """Is ``node``'s column name strong (FigureColname's strength 2), not a type name or
    "case" that an enclosing cast replaces?"""
    if isinstance(node, ast.TypeCast):
        return _colname(node.arg) is not None and _strong(node.arg)
    if isinstance(node, ast.CaseExpr):
        return node.defresult is not None and _colname(node.defresult) is not None and \
            _strong(node.defresult)
    return True


# -- helpers ------------------------------------------------------------------------------------
def fold(e: Expr) -> Expr:
    """Evaluate a constant expression now, as PostgreSQL's planner does."""
    if e.const:
        return const(e.value(), e.oid)
    return e


def strict2(f: Callable[[Any, Any], Any], lf, rf):
    def fn(row, env):
        a = lf(row, env)
        if a is None:
            return None
        b = rf(row, env)
        if b is None:
            return None
        return f(a, b)
    return fn


def any_all(results, is_all: bool):
    """ANY (is_all False) or ALL over three-valued results, lazily: the first result that
    decides it ends the walk; else NULL if one was NULL (AND/OR are the same fold)."""
    saw_null = False
    for v in results:
        if v is None:
            saw_null = True
        elif v != is_all:
            return v
    return None if saw_null else is_all


def _int_op(f, oid):
    def g(a, b):
        return S.check_int(f(a, b), oid)
    return g


def _int_div(oid):
    def div(a, b):
        if b == 0:
            raise division_by_zero()
        q = abs(a) // abs(b)
        return S.check_int(q if (a >= 0) == (b >= 0) else -q, oid)
    return div


def _int_mod(a, b):
    if b == 0:
        raise division_by_zero()
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _num_mod(a, b):
    if b == 0:
        raise division_by_zero()
    return S.NUMERIC_CONTEXT.remainder(a, b)


def _float_div(a, b):
    if b == 0:
        raise division_by_zero()
    return S.check_float(a / b)


def _float_op(f):
    def g(a, b):
        return S.check_float(f(a, b))
    return g


def _num_op(f):
    def g(a, b):
        return f(S.NUMERIC_CONTEXT, a, b)
    return g


@dataclass
class Grouping:
    """Aggregation bookkeeping of one query level."""
    nsrc: int                                   # width of the source row
    grouped: bool = False
    group_nodes: list = field(default_factory=list)   # non-column GROUP BY expressions
    group_offsets: set = field(default_factory=set)   # plain-column GROUP BY items
    aggs: list[AggSpec] = field(default_factory=list)


@dataclass
class WinSpec:
    name: str
    args: list[Expr]
    oid: int
    partition: list[Expr]
    order: list[tuple[Expr, bool, bool]]
    frame: int
    start_offset: Expr | None = None
    end_offset: Expr | None = None
    agg: AggSpec | None = None


@dataclass
class Windows:
    specs: list[WinSpec] = field(default_factory=list)
    base: int = 0                                # first window slot in the row
    named: dict[str, Any] = field(default_factory=dict)


def char_length(scope: Scope, offset: int, oid: int) -> tuple[int, ...] | None:
    """(n,) for a column of a stored table declared character(n) (output pads to n)."""
    if oid != T.BPCHAR:
        return None
    entry = scope.entry_of(offset)
    if entry is None:
        return None
    k = entry.offsets.index(offset)
    if entry.typmods is not None:
        mod = entry.typmods[k] if k < len(entry.typmods) else -1
        return (mod - 4,) if mod > 4 else None
    if entry.table is None:
        return None
    cols = entry.table.columns
    if k >= len(cols) or cols[k].type_modifier <= 4:
        return None
    return (cols[k].type_modifier - 4,)


class ExprCompiler:
    def __init__(self, planner, scope: Scope, clause: str = "SELECT",
                 grouping: Grouping | None = None, windows: Windows | None = None):
        self.planner = planner              # the SELECT planner (sub-queries, parameters)
        self.scope = scope
        self.clause = clause
        self.grouping = grouping            # None: aggregates not allowed here
        self.windows = windows              # None: window functions not allowed here
        self._in_agg = False
        self._group_ok = 0
        self._in_window = False
        self.arg_names: list[str | None] | None = None     # named arguments of a call

    # -- coercion ---------------------------------------------------------------------------
    def coerce(self, e: Expr, oid: int) -> Expr:
        """An untyped literal or parameter takes the type its context wants."""
        if e.param is not None:
            self.planner.note_param(e.param, oid)
        if e.oid in (S.UNKNOWN, 0) and oid not in (S.UNKNOWN, 0):
            if e.const:
                return const(S.cast(e.value(), oid), oid)
            f = e.fn
            return Expr(lambda row, env: S.cast(f(row, env), oid), oid, param=e.param)
        return e

    def coerce_numeric(self, e: Expr, oid: int) -> Expr:
        """Implicit promotion within the numeric category (int → numeric → float8)."""
        if e.oid == oid or e.oid not in S.NUMERICS:
            return e
        return self.cast(e, oid)

    def cast(self, e: Expr, oid: int, typmod=None, explicit: bool = True) -> Expr:
        if e.param is not None:
            self.planner.note_param(e.param, oid)
        if e.oid == oid and typmod is None:
            return e
        if not S.can_cast(e.oid, oid):
            raise CannotCoerce(f"cannot cast type {S.type_name(e.oid)} to {S.type_name(oid)}")
        if e.oid in S.VECTORS and oid in (T.TEXT, T.VARCHAR):      # int2vector out: '1 2'
            e = Expr(lambda row, env, f=e.fn: S.vector_text(f(row, env)), T.TEXT)
        if e.const:
            return Expr(lambda row, env, v=S.cast(e.value(), oid, typmod): v, oid, True,
                        typmod=typmod)
        f = e.fn
        return Expr(lambda row, env: S.cast(f(row, env), oid, typmod), oid, typmod=typmod)

    def to_output(self, e: Expr) -> Expr:
        return self.coerce(e, T.TEXT) if e.oid in (S.UNKNOWN, 0) else e

    def unify(self, a: Expr, b: Expr) -> tuple[Expr, Expr]:
        if a.oid in (S.UNKNOWN, 0) and b.oid not in (S.UNKNOWN, 0):
            a = self.coerce(a, b.oid)
        elif b.oid in (S.UNKNOWN, 0) and a.oid not in (S.UNKNOWN, 0):
            b = self.coerce(b, a.oid)
        elif a.oid in (S.UNKNOWN, 0) and b.oid in (S.UNKNOWN, 0):
            a, b = self.coerce(a, T.TEXT), self.coerce(b, T.TEXT)
        return a, b

    def common(self, exprs: list[Expr], context: str) -> tuple[list[Expr], int]:
        oid = S.common_type([e.oid for e in exprs], context)
        out = []
        for e in exprs:
            e = self.coerce(e, oid)
            if e.oid != oid:
                e = self.cast(e, oid) if S.category(e.oid) == S.category(oid) else e
            out.append(e)
        return out, oid

    def boolean(self, node: Any, what: str) -> Expr:
        e = self.coerce(self.compile(node), T.BOOL)
        if e.oid != T.BOOL:
            raise DatatypeMismatch(f"argument of {what} must be type boolean, not type "
                                   f"{S.type_name(e.oid)}")
        return e

    # -- dispatch -----------------------------------------------------------------------------
    def compile(self, node: Any) -> Expr:
        g = self.grouping
        if g is not None and g.grouped and not self._in_agg and not self._group_ok \
                and not isinstance(node, (ast.ColumnRef, ast.A_Const)) \
                and any(node == n for n in g.group_nodes):
            self._group_ok += 1
            try:
                return self._compile(node)
            finally:
                self._group_ok -= 1
        return self._compile(node)

    def _compile(self, node: Any) -> Expr:
        method = getattr(self, "_c_" + type(node).__name__, None)
        if method is None:
            raise FeatureNotSupported(f"expression {type(node).__name__} is not supported yet")
        return method(node)

    # -- leaves -------------------------------------------------------------------------------
    def _c_A_Const(self, node: ast.A_Const) -> Expr:
        if node.isnull:
            return const(None, S.UNKNOWN)
        val = node.val
        if isinstance(val, ast.Integer):
            return const(val.ival, T.INT4)
        if isinstance(val, ast.Float):
            text = val.fval
            if re.fullmatch(r"-?\d+", text):
                v = int(text)
                if -2**31 <= v < 2**31:
                    return const(v, T.INT4)
                return const(v, T.INT8) if -2**63 <= v < 2**63 else \
                    const(decimal.Decimal(text), T.NUMERIC)
            return const(decimal.Decimal(text), T.NUMERIC)
        if isinstance(val, ast.Boolean):
            return const(bool(val.boolval), T.BOOL)
        if isinstance(val, ast.String):
            return const(val.sval, S.UNKNOWN)
        raise FeatureNotSupported(f"literal {type(val).__name__} is not supported")

    def _c_ColumnRef(self, node: ast.ColumnRef) -> Expr:
        if isinstance(node.fields[-1], ast.A_Star):
            raise FeatureNotSupported("* is not allowed in this position")
        s, i = self.scope.resolve(node.fields, self.planner.frames)
        oid = s.oids[i]
        if s is self.scope:
            g = self.grouping
            if g is not None and g.grouped and not self._in_agg and not self._group_ok \
                    and i not in g.group_offsets and not self._functionally_dependent(i):
                entry = s.entry_of(i)
                qual = f"{entry.alias}." if entry is not None and entry.alias else ""
                raise GroupingError(f'column "{qual}{s.names[i]}" must appear in the GROUP BY '
                                    "clause or be used in an aggregate function")
            return Expr(lambda row, env: row[i], oid, typmod=char_length(s, i, oid))
        level = s.level
        return Expr(lambda row, env: env.outer[level][i], oid)

    def _functionally_dependent(self, offset: int) -> bool:
        entry = self.scope.entry_of(offset)
        if entry is None or entry.table is None or entry.table.hidden_pk:
            return False
        pk = [entry.offsets[p] for p in entry.table.pk]
        return bool(pk) and all(o in self.grouping.group_offsets for o in pk)

    def _c_ParamRef(self, node: ast.ParamRef) -> Expr:
        n = node.number
        oid = self.planner.note_param(n, 0)
        if oid:
            return Expr(lambda row, env: env.params[n - 1], oid, param=None)
        return Expr(lambda row, env: env.params[n - 1], S.UNKNOWN, param=n)

    def _c_SQLValueFunction(self, node: ast.SQLValueFunction) -> Expr:
        op = node.op
        if op == SQLValueFunctionOp.SVFOP_CURRENT_DATE:
            return Expr(lambda row, env: env.run.now.date(), T.DATE)
        if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP,
                  SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N):
            return Expr(lambda row, env: env.run.now, T.TIMESTAMPTZ)
        if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIME, SQLValueFunctionOp.SVFOP_CURRENT_TIME_N):
            return Expr(lambda row, env: env.run.now.timetz(), T.TIMETZ)
        if op in (SQLValueFunctionOp.SVFOP_LOCALTIME, SQLValueFunctionOp.SVFOP_LOCALTIME_N):
            return Expr(lambda row, env: env.run.now.time(), T.TIME)
        if op in (SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP,
                  SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N):
            return Expr(lambda row, env: env.run.now.replace(tzinfo=None), T.TIMESTAMP)
        if op in (SQLValueFunctionOp.SVFOP_CURRENT_USER, SQLValueFunctionOp.SVFOP_USER,
                  SQLValueFunctionOp.SVFOP_SESSION_USER, SQLValueFunctionOp.SVFOP_CURRENT_ROLE):
            user = self.planner.user
            return Expr(lambda row, env: user, T.TEXT, True)
        if op == SQLValueFunctionOp.SVFOP_CURRENT_CATALOG:
            return const("postgres", T.TEXT)
        if op == SQLValueFunctionOp.SVFOP_CURRENT_SCHEMA:
            return const("public", T.TEXT)
        raise FeatureNotSupported(f"{op.name} is not supported yet")

    # -- operators ---------------------------------------------------------------------------
    def _c_A_Expr(self, node: ast.A_Expr) -> Expr:
        k = node.kind
        if k == A_Expr_Kind.AEXPR_OP:
            op = node.name[-1].sval
            if node.lexpr is None:
                return self.prefix(op, self.compile(node.rexpr))
            return self.binary(op, self.compile(node.lexpr), self.compile(node.rexpr))
        if k in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE):
            op = node.name[-1].sval
            right = node.rexpr
            if isinstance(right, ast.FuncCall) and right.funcname[-1].sval == "like_escape":
                raise FeatureNotSupported("LIKE ... ESCAPE is not supported yet")
            return self.binary(op, self.compile(node.lexpr), self.compile(right))
        if k == A_Expr_Kind.AEXPR_IN:
            return self._in_list(node)
        if k in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return self._distinct(node, k == A_Expr_Kind.AEXPR_NOT_DISTINCT)
        if k == A_Expr_Kind.AEXPR_NULLIF:
            return self._nullif(node)
        if k in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_NOT_BETWEEN,
                 A_Expr_Kind.AEXPR_BETWEEN_SYM, A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM):
            return self._between(node)
        if k == A_Expr_Kind.AEXPR_SIMILAR:
            op = node.name[-1].sval
            return self.binary(op, self.compile(node.lexpr), self.compile(node.rexpr))
        if k in (A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_OP_ALL):
            return self._op_any_array(node, k == A_Expr_Kind.AEXPR_OP_ALL)
        raise FeatureNotSupported(f"expression {k.name} is not supported yet")

    def _no_operator(self, op, left: Expr | None, right: Expr) -> DsqlError:
        sig = (f"{S.type_name(left.oid)} " if left is not None else "") + \
            f"{op} {S.type_name(right.oid)}"
        return UndefinedFunction(f"operator does not exist: {sig}",
                                 hint="No operator matches the given name and argument types. You "
                              "might need to add explicit type casts.")

    def prefix(self, op: str, arg: Expr) -> Expr:
        if arg.oid in (S.UNKNOWN, 0) and op in ("-", "+", "@", "|/"):
            arg = self.coerce(arg, T.NUMERIC if op != "|/" else T.FLOAT8)
        if op == "+":
            if arg.oid not in S.NUMERICS and arg.oid != T.INTERVAL:
                raise self._no_operator(op, None, arg)
            return arg
        if op == "-":
            if arg.oid not in S.NUMERICS and arg.oid != T.INTERVAL:
                raise self._no_operator(op, None, arg)
            f, oid = arg.fn, arg.oid
            if arg.const:
                v = arg.value()
                return const(None if v is None else (
                    S.check_int(-v, oid) if oid in S.INTS else -v), oid)
            if oid in S.INTS:
                return Expr(lambda r, e: None if (v := f(r, e)) is None else S.check_int(-v, oid),
                            oid)
            return Expr(lambda r, e: None if (v := f(r, e)) is None else -v, oid)
        if op == "@":
            return FUNCTIONS["abs"](self, [arg], "abs")
        if op == "|/":
            return FUNCTIONS["sqrt"](self, [arg], "sqrt")
        if op == "~":
            if (e := inet_not(self, arg)) is not None:
                return e
            arg = self.coerce(arg, T.INT4)
            if arg.oid not in _WIDTH:
                raise self._no_operator(op, None, arg)
            return fold(Expr(lambda r, e, f=arg.fn: None if (v := f(r, e)) is None else ~v,
                             arg.oid, arg.const))
        raise self._no_operator(op, None, arg)

    def binary(self, op: str, left: Expr, right: Expr) -> Expr:
        c = left.const and right.const
        if op in _COMPARE:
            left, right = self.unify(left, right)
            if {left.oid, right.oid} == {T.INET, T.CIDR}:       # cidr compares as inet
                left, right = self.cast(left, T.INET), self.cast(right, T.INET)
            cl, cr = S.category(left.oid), S.category(right.oid)
            if cl != cr or cl.startswith("U") and left.oid != right.oid:
                raise self._no_operator(op, left, right)
            if cl == "D" and left.oid != right.oid:
                oid = S.common_type([left.oid, right.oid])
                left, right = self.cast(left, oid), self.cast(right, oid)
            elif left.oid == RECORD:
                return Expr(strict2(lambda a, b: row_compare(op, a, b), left.fn, right.fn),
                            T.BOOL, c)
            elif left.oid == T.TIMETZ:      # by UTC time, then by zone: equal only if both
                left, right = (Expr(lambda r, e, f=x.fn: timetz_key(f(r, e)), T.TIMETZ)
                               for x in (left, right))
            elif cl == "N" and left.oid != right.oid and \
                    {left.oid, right.oid} & {T.FLOAT4, T.FLOAT8}:
                # numeric vs float compares as float8, as PostgreSQL does (0.1 = 0.1::float8)
                left, right = (self.coerce_numeric(left, T.FLOAT8),
                               self.coerce_numeric(right, T.FLOAT8))
            return Expr(strict2(_COMPARE[op], left.fn, right.fn), T.BOOL, c)
        if op in ("||", "@>", "<@", "&&") and (e := array_operator(self, op, left, right)):
            return e
        if (left.oid in NET_TYPES or right.oid in NET_TYPES) and \
                (e := inet_operator(self, op, left, right)):
            return e
        if op in ("||", "-") and (e := json_modify_operator(self, op, left, right)):
            return e
        if op == "||":
            if T.BYTEA in (left.oid, right.oid) and {left.oid, right.oid} <= {T.BYTEA,
                                                                            S.UNKNOWN, 0}:
                left, right = self.coerce(left, T.BYTEA), self.coerce(right, T.BYTEA)
                return fold(Expr(strict2(operator.add, left.fn, right.fn), T.BYTEA, c))
            if S.category(left.oid) in ("S", "X") or S.category(right.oid) in ("S", "X"):
                left, right = self.coerce(left, T.TEXT), self.coerce(right, T.TEXT)
                return Expr(strict2(lambda a, b: S.to_text(a) + S.to_text(b), left.fn, right.fn),
                            T.TEXT, c)
            raise self._no_operator(op, left, right)
        if op in ("~~", "!~~", "~~*", "!~~*", "~", "~*", "!~", "!~*"):
            left, right = self.coerce(left, T.TEXT), self.coerce(right, T.TEXT)
            if S.category(left.oid) != "S" or S.category(right.oid) != "S":
                raise self._no_operator(op, left, right)
            kind = "like" if "~~" in op else "regex"
            flags = re.IGNORECASE if op.endswith("*") else 0
            negate = op.startswith("!")
            if kind == "like":
                def match(a, b):
                    return (compiled_regex(kind, b, flags).fullmatch(a) is not None) != negate
            else:
                def match(a, b):
                    return (compiled_regex(kind, b, flags).search(a) is not None) != negate
            return Expr(strict2(match, left.fn, right.fn), T.BOOL, c)
        if op in ("+", "-", "*", "/", "%", "^"):
            return self._arith(op, left, right)
        if op in _BITWISE or op in ("<<", ">>"):
            return self._bitwise(op, left, right)
        e = json_operator(self, op, left, right)
        if e is not None:
            return e
        raise self._no_operator(op, left, right)

    def _arith(self, op: str, left: Expr, right: Expr) -> Expr:
        c = left.const and right.const
        lu, ru = left.oid in (S.UNKNOWN, 0), right.oid in (S.UNKNOWN, 0)
        if lu and ru:
            raise DsqlError(f"operator is not unique: unknown {op} unknown", sqlstate="42725")
        cl, cr = S.category(left.oid), S.category(right.oid)
        if "D" in (cl, cr) or "T" in (cl, cr):
            return self._datetime_arith(op, left, right)
        left, right = self.unify(left, right)
        if left.oid not in S.NUMERICS or right.oid not in S.NUMERICS:
            raise self._no_operator(op, left, right)
        if op == "^":
            oid = T.NUMERIC if T.NUMERIC in (left.oid, right.oid) and not (
                {T.FLOAT4, T.FLOAT8} & {left.oid, right.oid}) else T.FLOAT8
            return FUNCTIONS["power"](self, [self.coerce_numeric(left, oid),
                                             self.coerce_numeric(right, oid)], "power")
        oid = max(left.oid, right.oid, key=S.NUMERIC_ORDER.index)
        if oid == T.INT2:
            oid = T.INT2
        left, right = self.coerce_numeric(left, oid), self.coerce_numeric(right, oid)
        if oid in S.INTS:
            f = {"+": _int_op(operator.add, oid), "-": _int_op(operator.sub, oid),
                 "*": _int_op(operator.mul, oid), "/": _int_div(oid), "%": _int_mod}[op]
        elif oid == T.NUMERIC:
            f = {"+": _num_op(decimal.Context.add), "-": _num_op(decimal.Context.subtract),
                 "*": _num_op(decimal.Context.multiply), "/": S.numeric_div,
                 "%": _num_mod}[op]
        else:
            f = {"+": _float_op(operator.add), "-": _float_op(operator.sub),
                 "*": _float_op(operator.mul), "/": _float_div, "%": None}[op]
            if f is None:
                raise self._no_operator(op, left, right)
        return fold(Expr(strict2(f, left.fn, right.fn), oid, c))

    def _bitwise(self, op: str, left: Expr, right: Expr) -> Expr:
        """Integer ``&`` ``|`` ``#`` (and, or, xor), ``<<`` ``>>``, as PostgreSQL's
        int2/int4/int8 ops."""
        if op in ("<<", ">>"):
            left = self.coerce(left, T.INT4)
            right = self.coerce(right, T.INT4)
            if left.oid not in _WIDTH or right.oid not in S.INTS:
                raise self._no_operator(op, left, right)
            right = self.cast(right, T.INT4) if right.oid != T.INT4 else right
            return fold(Expr(strict2(_shifter(op, left.oid), left.fn, right.fn), left.oid,
                             left.const and right.const))
        left, right = self.unify(left, right)
        if left.oid not in S.INTS or right.oid not in S.INTS:
            raise self._no_operator(op, left, right)
        oid = max(left.oid, right.oid, key=S.NUMERIC_ORDER.index)
        left, right = self.coerce_numeric(left, oid), self.coerce_numeric(right, oid)
        return fold(Expr(strict2(_BITWISE[op], left.fn, right.fn), oid,
                         left.const and right.const))

    def _datetime_arith(self, op: str, left: Expr, right: Expr) -> Expr:
        if left.oid in (S.UNKNOWN, 0):
            left = self.coerce(left, T.INTERVAL if right.oid != T.INTERVAL or op == "-" else
                               T.TIMESTAMP)
        if right.oid in (S.UNKNOWN, 0):
            right = self.coerce(right, T.INTERVAL if left.oid in S.DATETIMES and op == "+"
                                else left.oid if op == "-" else T.INTERVAL)
        lo, ro = left.oid, right.oid
        c = left.const and right.const
        if lo == T.DATE and ro in S.INTS and op in "+-":
            f = (lambda a, b: a + dt.timedelta(days=b)) if op == "+" else \
                (lambda a, b: a - dt.timedelta(days=b))
            return Expr(strict2(f, left.fn, right.fn), T.DATE, c)
        if lo in S.INTS and ro == T.DATE and op == "+":
            return Expr(strict2(lambda a, b: b + dt.timedelta(days=a), left.fn, right.fn),
                        T.DATE, c)
        if lo == T.DATE and ro == T.DATE and op == "-":
            return Expr(strict2(lambda a, b: (a - b).days, left.fn, right.fn), T.INT4, c)
        if lo == T.INTERVAL and ro in S.DATETIMES | {T.TIME, T.TIMETZ} and op == "+":
            left, right, lo, ro = right, left, ro, lo        # interval + x is x + interval
        if lo in S.DATETIMES and ro == T.INTERVAL and op in "+-":
            sign = 1 if op == "+" else -1
            return Expr(strict2(lambda a, b: DT.ts_shift(a, b, sign), left.fn, right.fn),
                        T.TIMESTAMP if lo == T.DATE else lo, c)
        if lo in (T.TIME, T.TIMETZ) and ro == T.INTERVAL and op in "+-":
            sign = 1 if op == "+" else -1
            return Expr(strict2(lambda a, b: DT.time_shift(a, b, sign), left.fn, right.fn),
                        lo, c)
        if lo in (T.TIMESTAMP, T.TIMESTAMPTZ) and ro in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE) \
                and op == "-":
            oid = S.common_type([lo, ro])
            left, right = self.cast(left, oid), self.cast(right, oid)
            return Expr(strict2(DT.ts_diff, left.fn, right.fn), T.INTERVAL, c)
        return self._interval_arith(op, left, right)

    def _interval_arith(self, op: str, left: Expr, right: Expr) -> Expr:
        """interval ± interval, interval * number, number * interval, interval / number."""
        lo, ro = left.oid, right.oid
        c = left.const and right.const
        if lo == T.INTERVAL and ro == T.INTERVAL and op in "+-":
            sign = 1 if op == "+" else -1
            return Expr(strict2(lambda a, b: DT.iv_add(a, b, sign), left.fn, right.fn),
                        T.INTERVAL, c)
        if lo in S.NUMERICS and ro == T.INTERVAL and op == "*":
            left, right, lo, ro = right, left, ro, lo
        if lo == T.INTERVAL and ro in S.NUMERICS and op in "*/":
            f = DT.iv_mul if op == "*" else DT.iv_div
            return fold(Expr(strict2(f, left.fn, right.fn), T.INTERVAL, c))
        raise self._no_operator(op, left, right)

    def _in_list(self, node: ast.A_Expr) -> Expr:
        negate = node.name[-1].sval == "<>"
        left = self.compile(node.lexpr)
        items = [self.compile(n) for n in node.rexpr]
        if left.oid in (S.UNKNOWN, 0):
            known = [i.oid for i in items if i.oid not in (S.UNKNOWN, 0)]
            left = self.coerce(left, S.common_type(known) if known else T.TEXT)
        checked = []
        for item in items:
            _, item = self.unify(left, item)
            if S.category(item.oid) != S.category(left.oid):
                raise self._no_operator("=", left, item)
            if S.category(item.oid) == "D" and item.oid != left.oid:
                item = self.cast(item, left.oid)
            checked.append(item)
        lf = left.fn
        consts = all(i.const for i in checked)
        if consts:
            values = [i.value() for i in checked]
            has_null = any(v is None for v in values)
            try:
                vset = frozenset(hashable(v) for v in values if v is not None)
            except TypeError:
                vset = None
            if vset is not None:
                def fn(row, env):
                    a = lf(row, env)
                    if a is None:
                        return None
                    if a in vset:
                        return not negate
                    return None if has_null else negate
                return Expr(fn, T.BOOL)
        fns = [i.fn for i in checked]

        def fn(row, env):
            a = lf(row, env)
            if a is None:
                return None
            saw_null = False
            for f in fns:
                b = f(row, env)
                if b is None:
                    saw_null = True
                elif a == b:
                    return not negate
            return None if saw_null else negate
        return Expr(fn, T.BOOL)

    def _distinct(self, node: ast.A_Expr, not_distinct: bool) -> Expr:
        left, right = self.compile(node.lexpr), self.compile(node.rexpr)
        eq = self.binary("=", left, right).fn
        lf, rf = self.unify(left, right)
        lf, rf = lf.fn, rf.fn

        def fn(row, env):
            a, b = lf(row, env), rf(row, env)
            if a is None or b is None:
                same = a is None and b is None
            elif isinstance(a, tuple):      # rows: field by field, NULL not distinct from NULL
                same = len(a) == len(b) and all(x == y if x is not None and y is not None
                                                else x is None and y is None
                                                for x, y in zip(a, b))
            else:
                same = eq(row, env) is True
            return same if not_distinct else not same
        return Expr(fn, T.BOOL)

    def _nullif(self, node: ast.A_Expr) -> Expr:
        left, right = self.compile(node.lexpr), self.compile(node.rexpr)
        eq = self.binary("=", left, right).fn
        left, _ = self.unify(left, right)
        lf = left.fn

        def fn(row, env):
            a = lf(row, env)
            if a is None:
                return None
            return None if eq(row, env) is True else a
        return Expr(fn, left.oid)

    def _between(self, node: ast.A_Expr) -> Expr:
        k = node.kind
        x = self.compile(node.lexpr)
        lo, hi = (self.compile(n) for n in node.rexpr)
        ge = self.binary(">=", x, lo).fn
        le = self.binary("<=", x, hi).fn
        sym = k in (A_Expr_Kind.AEXPR_BETWEEN_SYM, A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM)
        neg = k in (A_Expr_Kind.AEXPR_NOT_BETWEEN, A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM)
        ge2 = self.binary(">=", x, hi).fn if sym else None
        le2 = self.binary("<=", x, lo).fn if sym else None

        def both(f, g, row, env):
            a = f(row, env)
            if a is False:
                return False
            b = g(row, env)
            if b is False:
                return False
            return None if a is None or b is None else True

        def fn(row, env):
            r = both(ge, le, row, env)
            if sym and r is not True:
                r2 = both(ge2, le2, row, env)
                r = True if r2 is True else (None if r is None or r2 is None else False)
            return None if r is None else (not r if neg else r)
        return Expr(fn, T.BOOL)

    def _op_any_array(self, node: ast.A_Expr, is_all: bool) -> Expr:
        rexpr = node.rexpr
        op = node.name[-1].sval
        left = self.compile(node.lexpr)
        if not isinstance(rexpr, ast.A_ArrayExpr):
            return self._any_all_value(op, left, self.compile(rexpr), is_all)
        cells = [self.binary(op, left, self.compile(el)).fn for el in rexpr.elements or ()]
        return Expr(self._any_all(cells, is_all), T.BOOL)

    def _any_all_value(self, op: str, left: Expr, arr: Expr, is_all: bool) -> Expr:
        """x op ANY/ALL (an array value: a parameter, a cast, a column): the comparison
        compiled once against the element type, applied to each element."""
        if arr.oid in (S.UNKNOWN, 0) and left.oid in S.ARRAY_OF:    # x = ANY($1): x's type
            arr = self.coerce(arr, S.ARRAY_OF[left.oid])
        elem_oid = next((e for e, a in S.ARRAY_OF.items() if a == arr.oid), None) or \
            S.VECTORS.get(arr.oid)
        if elem_oid is None:
            raise FeatureNotSupported("ANY/ALL needs an array of a known element type, "
                                      "e.g. ANY($1::int[])")
        current: list = []              # the element being compared (a stack: re-entrant)
        cmp = self.binary(op, left, Expr(lambda row, env: current[-1], elem_oid)).fn
        af = arr.fn

        def compared(values, row, env):
            for v in values:
                current.append(v)
                try:
                    yield None if v is None else cmp(row, env)
                finally:
                    current.pop()

        def fn(row, env):
            values = af(row, env)
            return None if values is None else any_all(compared(values, row, env), is_all)
        return Expr(fn, T.BOOL)

    @staticmethod
    def _any_all(fns, is_all):
        return lambda row, env: any_all((f(row, env) for f in fns), is_all)

    # -- boolean ------------------------------------------------------------------------------
    def _c_BoolExpr(self, node: ast.BoolExpr) -> Expr:
        what = {BoolExprType.AND_EXPR: "AND", BoolExprType.OR_EXPR: "OR",
                BoolExprType.NOT_EXPR: "NOT"}[node.boolop]
        args = [self.boolean(a, what) for a in node.args]
        fns = [a.fn for a in args]
        c = all(a.const for a in args)
        if node.boolop == BoolExprType.NOT_EXPR:
            f = fns[0]
            return Expr(lambda r, e: None if (v := f(r, e)) is None else not v, T.BOOL, c)
        # AND/OR in three-valued logic is the same fold as ALL/ANY over the arguments
        return Expr(self._any_all(fns, node.boolop == BoolExprType.AND_EXPR), T.BOOL, c)

    def _c_NullTest(self, node: ast.NullTest) -> Expr:
        is_null = node.nulltesttype == NullTestType.IS_NULL
        if isinstance(node.arg, ast.RowExpr):
            fns = [self.compile(a).fn for a in node.arg.args]
            if is_null:
                return Expr(lambda r, e: all(f(r, e) is None for f in fns), T.BOOL)
            return Expr(lambda r, e: all(f(r, e) is not None for f in fns), T.BOOL)
        f = self.compile(node.arg).fn
        if is_null:
            return Expr(lambda r, e: f(r, e) is None, T.BOOL)
        return Expr(lambda r, e: f(r, e) is not None, T.BOOL)

    def _c_BooleanTest(self, node: ast.BooleanTest) -> Expr:
        f = self.boolean(node.arg, "IS TRUE")
        f = f.fn
        t = node.booltesttype
        test = {BoolTestType.IS_TRUE: lambda v: v is True,
                BoolTestType.IS_NOT_TRUE: lambda v: v is not True,
                BoolTestType.IS_FALSE: lambda v: v is False,
                BoolTestType.IS_NOT_FALSE: lambda v: v is not False,
                BoolTestType.IS_UNKNOWN: lambda v: v is None,
                BoolTestType.IS_NOT_UNKNOWN: lambda v: v is not None}[t]
        return Expr(lambda r, e: test(f(r, e)), T.BOOL)

    # -- conditionals ---------------------------------------------------------------------------
    def _c_CaseExpr(self, node: ast.CaseExpr) -> Expr:
        conds = []
        arg = self.compile(node.arg) if node.arg is not None else None
        for w in node.args:
            if arg is not None:
                conds.append(self.binary("=", arg, self.compile(w.expr)))
            else:
                conds.append(self.boolean(w.expr, "CASE/WHEN"))
        results = [self.compile(w.result) for w in node.args]
        default = self.compile(node.defresult) if node.defresult is not None \
            else const(None, S.UNKNOWN)
        outs, oid = self.common(results + [default], "CASE")
        pairs = [(c.fn, r.fn) for c, r in zip(conds, outs[:-1])]
        dfn = outs[-1].fn

        def fn(row, env):
            for cf, rf in pairs:
                if cf(row, env) is True:
                    return rf(row, env)
            return dfn(row, env)
        return Expr(fn, oid)

    def _c_CoalesceExpr(self, node: ast.CoalesceExpr) -> Expr:
        args, oid = self.common([self.compile(a) for a in node.args], "COALESCE")
        fns = [a.fn for a in args]

        def fn(row, env):
            for f in fns:
                v = f(row, env)
                if v is not None:
                    return v
            return None
        return Expr(fn, oid, all(a.const for a in args))

    def _c_MinMaxExpr(self, node: ast.MinMaxExpr) -> Expr:
        name = "GREATEST" if node.op == MinMaxOp.IS_GREATEST else "LEAST"
        args, oid = self.common([self.compile(a) for a in node.args], name)
        fns = [a.fn for a in args]
        pick = max if name == "GREATEST" else min

        def fn(row, env):
            vals = [v for f in fns if (v := f(row, env)) is not None]
            return pick(vals) if vals else None
        return Expr(fn, oid)

    def _c_TypeCast(self, node: ast.TypeCast) -> Expr:
        try:
            oid, typmod = resolve_type(node.typeName)
        except UndefinedObject:
            domain = self._domain(node.typeName)
            if domain is None:
                raise
            return self.domain_cast(self.compile(node.arg), domain)
        arg = self.compile(node.arg)
        if arg.param is not None:
            self.planner.note_param(arg.param, oid)
            f = arg.fn
            return Expr(lambda r, e: S.cast(f(r, e), oid, typmod), oid, typmod=typmod)
        return self.cast(arg, oid, typmod)

    def _domain(self, tn: ast.TypeName):
        """The domain (userdefs.DomainDef) a type name names, from the planner's catalog
        (search path if unqualified); None where there is no catalog."""
        try:
            catalog = self.planner.catalog
        except FeatureNotSupported:
            return None
        domains = getattr(catalog, "domains", None) or {}
        names = [n.sval for n in tn.names]
        path = names[:-1] or list(getattr(catalog, "search_path", ("public",)))
        return next((domains[(s, names[-1])] for s in path if (s, names[-1]) in domains), None)

    def domain_cast(self, arg: Expr, domain) -> Expr:
        """``x::d``: the cast to the base type, then the domain's NOT NULL and CHECKs
        (each compiled over ``VALUE``)."""
        base = self.cast(arg, domain.base_oid)
        scope = Scope()
        scope.add_entry(None, ["value"], [domain.base_oid])
        checks = [(name, ExprCompiler(self.planner, scope, "CHECK constraint")
                   .boolean(parse_expr(sql), "CHECK constraint").fn)
                  for name, sql in domain.checks]
        f = base.fn

        def fn(row, env):
            v = f(row, env)
            if v is None:
                if domain.not_null:
                    raise NotNullViolation(f"domain {domain.name} does not allow null values")
                return v
            for name, check in checks:
                if check((v,), env) is False:
                    raise CheckViolation(f"value for domain {domain.name} violates check "
                                         f'constraint "{name}"')
            return v
        return Expr(fn, domain.base_oid, typmod=base.typmod)

    def _c_RowExpr(self, node: ast.RowExpr) -> Expr:
        fns = [self.to_output(self.compile(a)).fn for a in node.args or ()]
        return Expr(lambda r, e: tuple(f(r, e) for f in fns), RECORD)

    def _c_A_Indirection(self, node: ast.A_Indirection) -> Expr:
        """``arr[i]`` (1-based; out of range or NULL → NULL), ``arr[i:j]`` and
        ``(composite).field``."""
        e = self.compile(node.arg)
        for step in node.indirection:
            if isinstance(step, ast.A_Indices) and step.is_slice:
                e = self.slice(e, step.lidx, step.uidx)
            elif isinstance(step, ast.A_Indices):
                e = self.subscript(e, self.compile(step.uidx))
            elif isinstance(step, ast.String):
                e = self.field_select(e, step.sval)
            else:
                raise FeatureNotSupported("(composite).* is not supported yet")
        return e

    def subscript(self, arr: Expr, index: Expr) -> Expr:
        elem = S.ELEMENT_OF.get(arr.oid) or S.VECTORS.get(arr.oid)
        if elem is None:
            raise DatatypeMismatch(f"cannot subscript type {S.type_name(arr.oid)} because "
                                   "it does not support subscripting")
        idx = self.coerce(index, T.INT4)
        af, xf, base = arr.fn, idx.fn, S.first_subscript(arr.oid)

        def fn(row, env):
            v, i = af(row, env), xf(row, env)
            if v is None or i is None or not base <= i < len(v) + base:
                return None
            return v[i - base]
        return Expr(fn, elem)

    def slice(self, arr: Expr, lower, upper) -> Expr:
        """``arr[l:u]`` (either bound may be omitted): the elements in range, ``{}`` when
        none, NULL when a bound is NULL."""
        if S.element_type(arr.oid) is None:
            raise DatatypeMismatch(f"cannot subscript type {S.type_name(arr.oid)} because "
                                   "it does not support subscripting")
        bounds = [None if b is None else self.coerce(self.compile(b), T.INT4).fn
                  for b in (lower, upper)]
        af = arr.fn

        def fn(row, env):
            v = af(row, env)
            lo, hi = (1 if b is None and k == 0 else None if b is None else b(row, env)
                      for k, b in enumerate(bounds))
            if v is None or lo is None and bounds[0] is not None or \
                    hi is None and bounds[1] is not None:
                return None
            hi = len(v) if hi is None else hi
            return v[max(lo, 1) - 1:max(hi, 0)] if lo <= hi else []
        return Expr(fn, arr.oid)

    def field_select(self, e: Expr, name: str) -> Expr:
        fields = S.composite_fields(e.oid)
        if fields is None:
            raise WrongObjectType(f"column notation .{name} applied to type "
                                  f"{S.type_name(e.oid)}, which is not a composite type")
        pos = next((k for k, (n, _) in enumerate(fields) if n == name), None)
        if pos is None:
            raise UndefinedColumn(f'could not identify column "{name}" in record data type')
        f = e.fn

        def fn(row, env):
            v = f(row, env)
            return None if v is None else v[pos]
        return Expr(fn, fields[pos][1])

    def _c_A_ArrayExpr(self, node: ast.A_ArrayExpr) -> Expr:
        elems, oid = self.common([self.compile(e) for e in node.elements or ()], "ARRAY")
        arr = S.ARRAY_OF.get(oid)
        if arr is None:
            raise FeatureNotSupported(f"arrays of {S.type_name(oid)} are not supported")
        fns = [e.fn for e in elems]
        return Expr(lambda r, e: [f(r, e) for f in fns], arr)

    # -- functions ---------------------------------------------------------------------------------
    def _c_FuncCall(self, node: ast.FuncCall) -> Expr:
        name = node.funcname[-1].sval.lower()
        qualified = ".".join(n.sval for n in node.funcname).lower()
        if qualified in PROCEDURES:
            sig = ", ".join(S.type_name(self.compile(a).oid) for a in node.args or ())
            raise WrongObjectType(f"{qualified}({sig}) is a procedure",
                                  hint="To call a procedure, use CALL.")
        user = self._user_function(node, name)
        if user is not None:
            return self._inline(node, user)
        if len(node.funcname) > 1 and node.funcname[0].sval not in ("pg_catalog",):
            raise UndefinedFunction(
                f"function {'.'.join(n.sval for n in node.funcname)}() does not "
                "exist")
        if node.over is not None:
            return self._window_call(node, name)
        if name in WINDOW_ONLY:
            raise WrongObjectType(f"window function {name} requires an OVER clause")
        if name in AGGREGATES:
            return self._agg_call(node, name)
        if node.agg_star or node.agg_distinct or node.agg_order or node.agg_filter:
            raise WrongObjectType(f"{name} is not an aggregate function")
        resolver = FUNCTIONS.get(name)
        if resolver is None and name in SET_RETURNING:
            raise FeatureNotSupported(f"set-returning functions are not allowed in "
                                      f"{self.clause}")
        raw = node.args or ()
        names = [a.name if isinstance(a, ast.NamedArgExpr) else None for a in raw]
        args = [self.compile(a.arg if isinstance(a, ast.NamedArgExpr) else a) for a in raw]
        if resolver is None or any(names) and name not in NAMED_ARGS:
            raise no_function(name, args)
        self.arg_names = names
        try:
            return resolver(self, args, name)
        finally:
            self.arg_names = None

    def _user_function(self, node: ast.FuncCall, name: str):
        """The SQL function (userdefs.FunctionDef) a call names: built-in functions come
        first (pg_catalog is searched first), then the search path."""
        schema = node.funcname[0].sval if len(node.funcname) > 1 else None
        if schema == "pg_catalog" or schema is None and (
                name in FUNCTIONS or name in AGGREGATES or name in WINDOW_ONLY):
            return None
        try:
            catalog = self.planner.catalog
        except FeatureNotSupported:
            return None
        functions = getattr(catalog, "functions", None) or {}
        path = [schema] if schema else list(getattr(catalog, "search_path", ("public",)))
        name = node.funcname[-1].sval
        return next((functions[(s, name)] for s in path if (s, name) in functions), None)

    def _inline(self, node: ast.FuncCall, f) -> Expr:
        """A call of a SQL function: its body with the arguments (cast to the parameters'
        types) in place of the parameters, compiled here; STRICT gives NULL for a NULL
        argument; the result is cast to the declared type."""
        args = _bound_arguments(node, f, lambda: no_function(
            f.name, [self.compile(getattr(a, "arg", a)) for a in node.args or ()]))
        self._inlining = getattr(self, "_inlining", 0) + 1
        try:
            if self._inlining > INLINE_DEPTH_MAX:
                raise DsqlError("stack depth limit exceeded", sqlstate="54001",
                                hint=f"SQL function {f.name} calls itself.")
            names = {n: i for i, n in enumerate(f.arg_names) if n}

            def param(n):
                if isinstance(n, ast.ParamRef) and 1 <= n.number <= len(args):
                    return args[n.number - 1]
                if isinstance(n, ast.ColumnRef) and len(n.fields) == 1 and \
                        isinstance(n.fields[0], ast.String) and n.fields[0].sval in names:
                    return args[names[n.fields[0].sval]]
                return None
            body = self.compile(substitute(parse_expr(f.body_sql), param))
            arg_fns = [self.compile(a).fn for a in args] if f.strict else []
        finally:
            self._inlining -= 1
        if body.oid != f.ret_oid:
            body = self.cast(body, f.ret_oid)
        if not arg_fns:
            return body
        g = body.fn
        return Expr(lambda r, e: None if any(a(r, e) is None for a in arg_fns) else g(r, e),
                    f.ret_oid)

    def _agg_call(self, node: ast.FuncCall, name: str) -> Expr:
        g = self.grouping
        if g is None:
            raise GroupingError(f"aggregate functions are not allowed in {self.clause}")
        if self._in_agg:
            raise GroupingError("aggregate function calls cannot be nested")
        self._in_agg = True
        try:
            args = [self.compile(a) for a in node.args or ()]
            if node.agg_star:
                if name != "count":
                    raise WrongObjectType(f"{name}(*) must be used to call a parameterless "
                                          "aggregate function")
            elif name == "count" and len(args) != 1:
                raise no_function(name, args)
            if name == "string_agg":
                args = [self.coerce(a, T.TEXT) for a in args]
            elif name in ("bool_and", "bool_or", "every"):
                args = [self.coerce(a, T.BOOL) for a in args]
            else:
                args = [self.coerce(a, T.TEXT) if a.oid in (S.UNKNOWN, 0) else a for a in args]
            oid = agg_result_type(name, args)
            filt = self.boolean(node.agg_filter, "FILTER") if node.agg_filter is not None \
                else None
            order = [self.sort_key(s) for s in node.agg_order or ()]
        finally:
            self._in_agg = False
        spec = AggSpec(name, args, oid, bool(node.agg_star), bool(node.agg_distinct), filt,
                       order)
        g.aggs.append(spec)
        slot = g.nsrc + len(g.aggs) - 1
        return Expr(lambda row, env: row[slot], oid)

    def sort_key(self, sortby: ast.SortBy) -> tuple[Expr, bool, bool]:
        if sortby.useOp:
            raise FeatureNotSupported("ORDER BY ... USING is not supported")
        e = self.to_output(self.compile(sortby.node))
        desc = sortby.sortby_dir == SortByDir.SORTBY_DESC
        nulls_first = desc if sortby.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT \
            else sortby.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
        return e, desc, nulls_first

    def _window_call(self, node: ast.FuncCall, name: str) -> Expr:
        w = self.windows
        if w is None:
            raise WindowingError(f"window functions are not allowed in {self.clause}")
        if self._in_agg:
            raise GroupingError("aggregate function calls cannot contain window function calls")
        if self._in_window:
            raise WindowingError("window function calls cannot be nested")
        over = node.over
        if over.name and not (over.partitionClause or over.orderClause):
            if over.name not in w.named:
                raise UndefinedObject(f'window "{over.name}" does not exist')
            over = w.named[over.name]
        elif over.refname:
            if over.refname not in w.named:
                raise UndefinedObject(f'window "{over.refname}" does not exist')
            base = w.named[over.refname]
            over = ast.WindowDef(partitionClause=base.partitionClause,
                                 orderClause=over.orderClause or base.orderClause,
                                 frameOptions=over.frameOptions,
                                 startOffset=over.startOffset, endOffset=over.endOffset)
        self._in_window = True
        try:
            args = [self.compile(a) for a in node.args or ()]
            partition = [self.to_output(self.compile(p)) for p in over.partitionClause or ()]
            order = [self.sort_key(s) for s in over.orderClause or ()]
            agg = None
            if name in AGGREGATES:
                if node.agg_distinct:
                    raise FeatureNotSupported("DISTINCT is not implemented for window "
                                              "functions")
                if name == "string_agg":
                    args = [self.coerce(a, T.TEXT) for a in args]
                elif args and args[0].oid in (S.UNKNOWN, 0):
                    args[0] = self.coerce(args[0], T.TEXT)
                oid = agg_result_type(name, args)
                filt = self.boolean(node.agg_filter, "FILTER") if node.agg_filter else None
                agg = AggSpec(name, args, oid, bool(node.agg_star), False, filt)
            else:
                oid = self._window_type(name, args)
            start = self.compile(over.startOffset) if over.startOffset is not None else None
            end = self.compile(over.endOffset) if over.endOffset is not None else None
        finally:
            self._in_window = False
        spec = WinSpec(name, args, oid, partition, order, over.frameOptions, start, end, agg)
        w.specs.append(spec)
        k = len(w.specs) - 1
        return Expr(lambda row, env: row[w.base + k], oid)

    def _window_type(self, name: str, args: list[Expr]) -> int:
        if name in ("row_number", "rank", "dense_rank"):
            if args:
                raise no_function(name, args)
            return T.INT8
        if name in ("percent_rank", "cume_dist"):
            return T.FLOAT8
        if name == "ntile":
            args[0] = self.coerce(args[0], T.INT4)
            return T.INT4
        if name in ("lag", "lead"):
            if not 1 <= len(args) <= 3:
                raise no_function(name, args)
            if len(args) > 1:
                args[1] = self.coerce(args[1], T.INT4)
            if len(args) == 3:
                (args[0], args[2]), oid = self.common([args[0], args[2]], name)
                return oid
            args[0] = self.to_output(args[0])
            return args[0].oid
        if name in ("first_value", "last_value", "nth_value"):
            args[0] = self.to_output(args[0])
            if name == "nth_value":
                args[1] = self.coerce(args[1], T.INT4)
            return args[0].oid
        raise no_function(name, args)

    # -- sub-queries --------------------------------------------------------------------------------
    def _c_SubLink(self, node: ast.SubLink) -> Expr:
        kind = node.subLinkType
        rel, frame = self.planner.plan_sublink(node.subselect, self.scope)
        cached = not frame.correlated
        key = ("sublink", id(rel))
        level_rows = rel.rows

        def run(row, env: Env) -> list[tuple]:
            if cached:
                got = env.run.cache.get(key)
                if got is None:
                    got = env.run.cache[key] = level_rows(env.push(row))
                return got
            return level_rows(env.push(row))

        if kind == SubLinkType.EXISTS_SUBLINK:
            return Expr(lambda row, env: bool(run(row, env)), T.BOOL)
        ncols = len(rel.columns)
        if kind == SubLinkType.EXPR_SUBLINK:
            if ncols != 1:
                raise ParseError("subquery must return only one column")
            oid = rel.columns[0].oid

            def scalar(row, env):
                rows = run(row, env)
                if len(rows) > 1:
                    raise CardinalityViolation(
                        "more than one row returned by a subquery used as an "
                        "expression")
                return rows[0][0] if rows else None
            return Expr(scalar, oid)
        if kind == SubLinkType.ARRAY_SUBLINK:
            if ncols != 1:
                raise ParseError("subquery must return only one column")
            arr = S.ARRAY_OF.get(rel.columns[0].oid)
            if arr is None:
                raise FeatureNotSupported("ARRAY() of this type is not supported")
            return Expr(lambda row, env: [r[0] for r in run(row, env)], arr)
        if kind in (SubLinkType.ANY_SUBLINK, SubLinkType.ALL_SUBLINK):
            is_all = kind == SubLinkType.ALL_SUBLINK
            op = node.operName[-1].sval if node.operName else "="
            if isinstance(node.testexpr, ast.RowExpr):
                lefts = [self.compile(a) for a in node.testexpr.args]
            else:
                lefts = [self.compile(node.testexpr)]
            if len(lefts) != ncols:
                raise ParseError("subquery has too " + ("many" if ncols > len(lefts) else "few")
                                 + " columns")
            lcells = [[None] for _ in lefts]
            rcells = [[None] for _ in lefts]
            cmps = []
            for i, (left, col) in enumerate(zip(lefts, rel.columns)):
                lc = Expr(lambda r, e, c=lcells[i]: c[0], left.oid)
                rc = Expr(lambda r, e, c=rcells[i]: c[0], col.oid)
                if left.const and left.oid in (S.UNKNOWN, 0):
                    lc = Expr(lc.fn, S.UNKNOWN)
                cmps.append(self.binary(op, lc, rc).fn)
            lfns = [self.coerce(l, rel.columns[i].oid).fn if l.oid in (S.UNKNOWN, 0) else l.fn
                    for i, l in enumerate(lefts)]
            if len(lefts) == 1:
                fast = cached and op == "=" and not is_all
                return Expr(self._any_scalar(run, lfns[0], cmps[0], lcells[0], rcells[0],
                                             is_all, fast, key), T.BOOL)
            return Expr(self._any_row(run, lfns, cmps, lcells, rcells, is_all), T.BOOL)
        raise FeatureNotSupported(f"{kind.name} is not supported")

    @staticmethod
    def _any_scalar(run, lf, cmp, lcell, rcell, is_all, fast, key):
        def fn(row, env):
            rows = run(row, env)
            if not rows:
                return is_all
            a = lf(row, env)
            if fast:
                sk = (key, "set")
                got = env.run.cache.get(sk)
                if got is None:
                    try:
                        vals = frozenset(hashable(r[0]) for r in rows if r[0] is not None)
                    except TypeError:
                        vals = None
                    got = env.run.cache[sk] = (vals, any(r[0] is None for r in rows))
                vals, has_null = got
                if vals is not None:
                    if a is None:
                        return None
                    if a in vals:
                        return True
                    return None if has_null else False
            saw_null = False
            for r in rows:
                lcell[0], rcell[0] = a, r[0]
                v = cmp((), env)
                if v is None:
                    saw_null = True
                elif v != is_all:
                    return v
            return None if saw_null else is_all
        return fn

    @staticmethod
    def _any_row(run, lfns, cmps, lcells, rcells, is_all):
        def fn(row, env):
            rows = run(row, env)
            if not rows:
                return is_all
            left = [f(row, env) for f in lfns]
            saw_null = False
            for r in rows:
                res = True
                for a, b, cmp, lc, rc in zip(left, r, cmps, lcells, rcells):
                    lc[0], rc[0] = a, b
                    v = cmp((), env)
                    if v is False:
                        res = False
                        break
                    if v is None:
                        res = None
                if res is None:
                    saw_null = True
                elif res != is_all:
                    return res
            return None if saw_null else is_all
        return fn
