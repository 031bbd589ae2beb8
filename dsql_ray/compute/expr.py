"""Compiling pglast expression nodes into Python closures over a row.

``compile_expr(node, scope)`` returns an :class:`Expr` whose ``fn(row, params)`` computes
the value for one row tuple with PostgreSQL's three-valued logic (None is NULL).
Untyped literals and parameters take their type from context, as PostgreSQL does.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import operator
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType, SQLValueFunctionOp

from ..errors import BindError, DsqlError, FeatureNotSupported
from . import types as T
from .query.sqltypes import cast, value_oid as value_type

Fn = Callable[[tuple, list], Any]

SERVER_VERSION = "16.9"
SERVER_VERSION_STRING = (f"PostgreSQL {SERVER_VERSION} (dsql-ray) on x86_64-pc-linux-gnu, "
                         "compiled by gcc, 64-bit")


@dataclass
class Expr:
    fn: Fn
    oid: int
    const: bool = False          # no column or parameter inside
    param: int | None = None     # a bare $n


@dataclass
class Scope:
    """Columns visible to an expression: names and types by row position."""
    names: list[str]
    oids: list[int]
    table: str | None = None
    #: $n → type; filled in as parameters are met (0 = not yet known)
    param_oids: list[int] = field(default_factory=list)

    def lookup(self, fields: tuple) -> int:
        names = [f.sval for f in fields if isinstance(f, ast.String)]
        if any(isinstance(f, ast.A_Star) for f in fields):
            raise FeatureNotSupported("* is not allowed here")
        if len(names) == 2 and self.table is not None and names[0] != self.table:
            raise BindError(f'missing FROM-clause entry for table "{names[0]}"',
                            sqlstate="42P01")
        name = names[-1]
        try:
            return self.names.index(name)
        except ValueError:
            raise BindError(f'column "{name}" does not exist', sqlstate="42703") from None

    def note_param(self, number: int, oid: int) -> None:
        while len(self.param_oids) < number:
            self.param_oids.append(0)
        if oid and not self.param_oids[number - 1]:
            self.param_oids[number - 1] = oid


def const(value: Any, oid: int | None = None) -> Expr:
    return Expr(lambda row, params: value, value_type(value) if oid is None else oid, True)


def literal(node: ast.A_Const) -> Expr:
    if node.isnull:
        return const(None, T.UNKNOWN)
    val = node.val
    if isinstance(val, ast.Integer):
        return const(val.ival)
    if isinstance(val, ast.Float):
        return const(decimal.Decimal(val.fval), T.NUMERIC)
    if isinstance(val, ast.Boolean):
        return const(bool(val.boolval), T.BOOL)
    if isinstance(val, ast.String):
        return const(val.sval, T.UNKNOWN)
    if isinstance(val, ast.BitString):
        raise FeatureNotSupported("bit strings are not supported")
    raise FeatureNotSupported(f"literal {type(val).__name__} is not supported")


def type_oid(type_name: ast.TypeName) -> int:
    names = [n.sval for n in type_name.names if n.sval != "pg_catalog"]
    name = " ".join(names).lower()
    if type_name.arrayBounds:
        raise FeatureNotSupported("array types are not supported")
    oid = T.NAME_TO_OID.get(name)
    if oid is None:
        raise DsqlError(f'type "{name}" does not exist', sqlstate="42704")
    return oid


def coerce_to(expr: Expr, oid: int, scope: Scope | None = None) -> Expr:
    """Give an untyped literal or parameter the type its context wants."""
    if expr.param is not None and scope is not None:
        scope.note_param(expr.param, oid)
    if expr.oid in (T.UNKNOWN, 0) or expr.param is not None:
        if expr.const:
            return const(cast(expr.fn((), []), oid), oid)
        fn = expr.fn
        return Expr(lambda row, params: cast(fn(row, params), oid), oid, param=expr.param)
    return expr


_COMPARE = {"=": operator.eq, "<>": operator.ne, "!=": operator.ne, "<": operator.lt,
            ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_NUMERIC_ORDER = [T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8]
_STRING_OIDS = {T.TEXT, T.VARCHAR, T.BPCHAR, T.UNKNOWN}


def _common_numeric(a: int, b: int) -> int:
    return max(a, b, key=_NUMERIC_ORDER.index)


def _unify(left: Expr, right: Expr, scope: Scope) -> tuple[Expr, Expr]:
    """Make both sides comparable: untyped ones take the other side's type."""
    if left.oid in (T.UNKNOWN, 0) and right.oid not in (T.UNKNOWN, 0):
        left = coerce_to(left, right.oid, scope)
    elif right.oid in (T.UNKNOWN, 0) and left.oid not in (T.UNKNOWN, 0):
        right = coerce_to(right, left.oid, scope)
    elif left.oid in (T.UNKNOWN, 0) and right.oid in (T.UNKNOWN, 0):
        left, right = coerce_to(left, T.TEXT, scope), coerce_to(right, T.TEXT, scope)
    elif left.oid != right.oid and {left.oid, right.oid} & {T.FLOAT4, T.FLOAT8} \
            and left.oid in _NUMERIC_ORDER and right.oid in _NUMERIC_ORDER:
        # numeric vs float compares as float8, as PostgreSQL does (0.1 = 0.1::float8)
        left, right = _as_float8(left), _as_float8(right)
    return left, right


def _as_float8(e: Expr) -> Expr:
    if e.oid in (T.FLOAT4, T.FLOAT8):
        return e
    f = e.fn
    return Expr(lambda r, p: None if (v := f(r, p)) is None else float(v), T.FLOAT8, e.const)


def _check_comparable(op: str, left: Expr, right: Expr) -> None:
    lnum, rnum = left.oid in _NUMERIC_ORDER, right.oid in _NUMERIC_ORDER
    if lnum != rnum or (not lnum and (left.oid in _STRING_OIDS) != (right.oid in _STRING_OIDS)):
        raise DsqlError(f"operator does not exist: {T.OID_TO_NAME.get(left.oid)} {op} "
                        f"{T.OID_TO_NAME.get(right.oid)}", sqlstate="42883",
                        hint="No operator matches the given name and argument types. "
                             "You might need to add explicit type casts.")


def _strict2(f: Callable[[Any, Any], Any], lf: Fn, rf: Fn) -> Fn:
    def fn(row, params):
        a = lf(row, params)
        if a is None:
            return None
        b = rf(row, params)
        if b is None:
            return None
        return f(a, b)
    return fn


def _divide(oid: int) -> Callable[[Any, Any], Any]:
    def div(a, b):
        if b == 0:
            raise DsqlError("division by zero", sqlstate="22012")
        if oid in (T.INT2, T.INT4, T.INT8):
            q = abs(a) // abs(b)
            return q if (a >= 0) == (b >= 0) else -q
        return a / b
    return div


def _modulo(a, b):
    if b == 0:
        raise DsqlError("division by zero", sqlstate="22012")
    return int(math.fmod(a, b)) if isinstance(a, int) else math.fmod(a, b)


def _range_checked(oid: int, f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    if oid not in (T.INT2, T.INT4, T.INT8):
        return f
    return lambda a, b: cast(f(a, b), oid)


def _a_expr(node: ast.A_Expr, scope: Scope) -> Expr:
    if node.kind != A_Expr_Kind.AEXPR_OP:
        if node.kind == A_Expr_Kind.AEXPR_IN:
            return _in_list(node, scope)
        raise FeatureNotSupported(f"expression {node.kind.name} is not supported yet")
    op = node.name[-1].sval
    if node.lexpr is None:                  # prefix operator
        arg = compile_expr(node.rexpr, scope)
        if op == "-":
            if arg.const:
                v = arg.fn((), [])
                return const(None if v is None else -v, arg.oid)
            f = arg.fn
            return Expr(lambda r, p: None if (v := f(r, p)) is None else -v, arg.oid)
        if op == "+":
            return arg
        raise FeatureNotSupported(f"operator {op} is not supported yet")
    left, right = compile_expr(node.lexpr, scope), compile_expr(node.rexpr, scope)
    if op in _COMPARE:
        left, right = _unify(left, right, scope)
        _check_comparable(op, left, right)
        return Expr(_strict2(_COMPARE[op], left.fn, right.fn), T.BOOL,
                    left.const and right.const)
    if op == "||":
        left, right = coerce_to(left, T.TEXT, scope), coerce_to(right, T.TEXT, scope)
        return Expr(_strict2(lambda a, b: cast(a, T.TEXT) + cast(b, T.TEXT), left.fn, right.fn),
                    T.TEXT)
    if op in ("+", "-", "*", "/", "%"):
        left, right = _unify(left, right, scope)
        if left.oid not in _NUMERIC_ORDER or right.oid not in _NUMERIC_ORDER:
            _check_comparable(op, left, right)
            raise FeatureNotSupported(f"operator {op} on these types is not supported yet")
        oid = _common_numeric(left.oid, right.oid)
        f = _divide(oid) if op == "/" else _modulo if op == "%" else _ARITH[op]
        return Expr(_strict2(_range_checked(oid, f), left.fn, right.fn), oid)
    if op in ("~~", "!~~", "~~*", "!~~*"):
        return _like(op, left, right, scope)
    raise FeatureNotSupported(f"operator {op} is not supported yet")


def _like(op: str, left: Expr, right: Expr, scope: Scope) -> Expr:
    import re
    left, right = coerce_to(left, T.TEXT, scope), coerce_to(right, T.TEXT, scope)
    flags = re.IGNORECASE if "*" in op else 0
    negate = op.startswith("!")

    def pattern(p: str) -> "re.Pattern[str]":
        out, i = [], 0
        while i < len(p):
            c = p[i]
            if c == "\\" and i + 1 < len(p):
                out.append(re.escape(p[i + 1]))
                i += 2
                continue
            out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
            i += 1
        return re.compile("".join(out), flags | re.DOTALL)

    def match(a, b):
        return (pattern(b).fullmatch(a) is not None) != negate
    return Expr(_strict2(match, left.fn, right.fn), T.BOOL)


def _in_list(node: ast.A_Expr, scope: Scope) -> Expr:
    negate = node.name[-1].sval == "<>"
    left = compile_expr(node.lexpr, scope)
    items = [_unify(left, compile_expr(n, scope), scope)[1] for n in node.rexpr]
    lf, fns = left.fn, [i.fn for i in items]

    def fn(row, params):
        a = lf(row, params)
        if a is None:
            return None
        saw_null = False
        for f in fns:
            b = f(row, params)
            if b is None:
                saw_null = True
            elif a == b:
                return not negate
        return None if saw_null else negate
    return Expr(fn, T.BOOL)


def _bool_expr(node: ast.BoolExpr, scope: Scope) -> Expr:
    args = [coerce_to(compile_expr(a, scope), T.BOOL, scope) for a in node.args]
    fns = [a.fn for a in args]
    if node.boolop == BoolExprType.NOT_EXPR:
        f = fns[0]
        return Expr(lambda r, p: None if (v := f(r, p)) is None else not v, T.BOOL)
    is_and = node.boolop == BoolExprType.AND_EXPR

    def fn(row, params):
        unknown = False
        for f in fns:
            v = f(row, params)
            if v is None:
                unknown = True
            elif bool(v) != is_and:
                return not is_and
        return None if unknown else is_and
    return Expr(fn, T.BOOL)


def _null_test(node: ast.NullTest, scope: Scope) -> Expr:
    f = compile_expr(node.arg, scope).fn
    if node.nulltesttype == NullTestType.IS_NULL:
        return Expr(lambda r, p: f(r, p) is None, T.BOOL)
    return Expr(lambda r, p: f(r, p) is not None, T.BOOL)


def _column(node: ast.ColumnRef, scope: Scope) -> Expr:
    i = scope.lookup(node.fields)
    return Expr(lambda row, params: row[i], scope.oids[i])


def _param(node: ast.ParamRef, scope: Scope) -> Expr:
    n = node.number
    scope.note_param(n, 0)
    return Expr(lambda row, params: params[n - 1], T.UNKNOWN, param=n)


def _type_cast(node: ast.TypeCast, scope: Scope) -> Expr:
    oid = type_oid(node.typeName)
    arg = compile_expr(node.arg, scope)
    if arg.param is not None:
        scope.note_param(arg.param, oid)
    if arg.const:
        return const(cast(arg.fn((), []), oid), oid)
    f = arg.fn
    return Expr(lambda r, p: cast(f(r, p), oid), oid)


def _coalesce(node: ast.CoalesceExpr, scope: Scope) -> Expr:
    args = [compile_expr(a, scope) for a in node.args]
    oid = next((a.oid for a in args if a.oid not in (T.UNKNOWN, 0)), T.TEXT)
    fns = [coerce_to(a, oid, scope).fn for a in args]

    def fn(row, params):
        for f in fns:
            v = f(row, params)
            if v is not None:
                return v
        return None
    return Expr(fn, oid)


def transaction_now() -> dt.datetime:
    """now() / CURRENT_TIMESTAMP: the running transaction's timestamp, as PostgreSQL."""
    from .ddl import CURRENT_SESSION
    session = CURRENT_SESSION.get()
    txn = getattr(session, "txn", None)
    return txn.now if txn is not None else dt.datetime.now(dt.timezone.utc)


def _clock_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


#: functions evaluated per row: name → (result type, implementation over non-null args)
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "lower": (T.TEXT, lambda s: s.lower()),
    "upper": (T.TEXT, lambda s: s.upper()),
    "length": (T.INT4, len),
    "char_length": (T.INT4, len),
    "abs": (0, abs),
    "version": (T.TEXT, lambda: SERVER_VERSION_STRING),
    "current_database": (T.TEXT, lambda: "postgres"),
    "current_schema": (T.TEXT, lambda: "public"),
    "gen_random_uuid": (T.UUID, uuid.uuid4),
    "now": (T.TIMESTAMPTZ, transaction_now),
    "transaction_timestamp": (T.TIMESTAMPTZ, transaction_now),
    "statement_timestamp": (T.TIMESTAMPTZ, transaction_now),
    "clock_timestamp": (T.TIMESTAMPTZ, _clock_now),
}

#: CURRENT_DATE, CURRENT_TIMESTAMP, LOCALTIMESTAMP (the session time zone is UTC)
_VALUE_FUNCTIONS = {
    SQLValueFunctionOp.SVFOP_CURRENT_DATE: (T.DATE, lambda: transaction_now().date()),
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP: (T.TIMESTAMPTZ, transaction_now),
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N: (T.TIMESTAMPTZ, transaction_now),
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP: (
        T.TIMESTAMP, lambda: transaction_now().replace(tzinfo=None)),
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N: (
        T.TIMESTAMP, lambda: transaction_now().replace(tzinfo=None)),
}


def _value_function(node: ast.SQLValueFunction) -> Expr:
    if node.op not in _VALUE_FUNCTIONS:
        raise FeatureNotSupported(f"{node.op.name} is not supported here yet")
    oid, impl = _VALUE_FUNCTIONS[node.op]
    return Expr(lambda row, params: impl(), oid)


def _func_call(node: ast.FuncCall, scope: Scope) -> Expr:
    name = node.funcname[-1].sval.lower()
    if name not in _FUNCTIONS:
        raise DsqlError(f"function {name}() does not exist", sqlstate="42883")
    oid, impl = _FUNCTIONS[name]
    if node.agg_star or node.over is not None:
        raise FeatureNotSupported(f"{name}(*) and window functions are not supported yet")
    args = [compile_expr(a, scope) for a in (node.args or ())]
    if oid == T.TEXT or name in ("length", "char_length"):
        args = [coerce_to(a, T.TEXT, scope) for a in args]
    fns = [a.fn for a in args]
    result_oid = oid or (args[0].oid if args else T.TEXT)

    def fn(row, params):
        vals = [f(row, params) for f in fns]
        if any(v is None for v in vals):
            return None
        return impl(*vals)
    return Expr(fn, result_oid)


def compile_expr(node: Any, scope: Scope) -> Expr:
    if isinstance(node, ast.A_Const):
        return literal(node)
    if isinstance(node, ast.ColumnRef):
        return _column(node, scope)
    if isinstance(node, ast.A_Expr):
        return _a_expr(node, scope)
    if isinstance(node, ast.BoolExpr):
        return _bool_expr(node, scope)
    if isinstance(node, ast.NullTest):
        return _null_test(node, scope)
    if isinstance(node, ast.ParamRef):
        return _param(node, scope)
    if isinstance(node, ast.TypeCast):
        return _type_cast(node, scope)
    if isinstance(node, ast.CoalesceExpr):
        return _coalesce(node, scope)
    if isinstance(node, ast.FuncCall):
        return _func_call(node, scope)
    if isinstance(node, ast.SQLValueFunction):
        return _value_function(node)
    raise FeatureNotSupported(f"expression {type(node).__name__} is not supported yet")
