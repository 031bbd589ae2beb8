"""Set-returning functions (PostgreSQL 16 manual §9.25, and the SRFs of §9.4, §9.16,
§9.19): generate_series, generate_subscripts, unnest, string_to_table,
regexp_split_to_table, regexp_matches, json[b]_array_elements[_text], json[b]_each[_text],
json[b]_object_keys and information_schema._pg_expandarray.

In FROM they are a :class:`FunctionScan` (``ROWS FROM`` zips several, the shorter padded
with NULLs; ``WITH ORDINALITY`` numbers the rows). In a select list
:func:`lift_targetlist` moves them into a lateral ``ROWS FROM`` item, which is exactly
PostgreSQL's (10+) rule for set-returning functions there: run in lockstep, the shorter
padded with NULLs, and an input row for which all of them return nothing disappears.
Every function yields lazily and the scan counts what it keeps against the statement's
row limit, so ``generate_series(1, 10^12)`` fails with the limit's error, not memory.
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from pglast import ast

from ...errors import DsqlError, FeatureNotSupported, InvalidParameterValue
from ...interval import as_interval
from .. import types as T
from . import sqltypes as S
from .aggregates import AGGREGATES
from .astwalk import pruned
from .datetimes import ts_shift
from .functions import SET_RETURNING, _arity, _text_args, int_arg, no_function
from .jsonops import parse as parse_json
from .operators import OutCol, Rel
from .runtime import Env, Expr
from .textfuncs import TEXT_ARRAY, regexp_matches, regexp_split, string_to_array

_CHECK_EVERY = 4096


@dataclass
class SrfSpec:
    """A compiled set-returning call: its columns and a generator of its rows."""
    name: str
    columns: list[tuple[str, int]]
    rows: Callable[[Env], Iterable[tuple]]
    composite: bool = False            # returns a record (several named fields)


SRFS: dict[str, Callable[[Any, list[Expr], str], SrfSpec]] = {}


def register_srf(*names: str):
    def deco(f):
        for n in names:
            SRFS[n] = f
            SET_RETURNING.add(n)
        return f
    return deco


def _values(args: list[Expr], env: Env) -> list | None:
    vals = [a.fn((), env) for a in args]
    return None if any(v is None for v in vals) else vals


def _one_column(name: str, oid: int, args: list[Expr], gen) -> SrfSpec:
    """An SRF of one column: ``gen(*values)`` yields plain values; NULL input, no rows."""
    def rows(env):
        vals = _values(args, env)
        return () if vals is None else ((v,) for v in gen(*vals))
    return SrfSpec(name, [(name, oid)], rows)


# -- generate_series ---------------------------------------------------------------------
def _series(start, stop, step) -> Iterator:
    if step == 0:
        raise InvalidParameterValue("step size cannot equal zero")
    v = start
    while (v <= stop) if step > 0 else (v >= stop):
        yield v
        v = v + step


def _time_series(start, stop, step) -> Iterator:
    iv = as_interval(step)
    if iv.span() == 0:
        raise InvalidParameterValue("step size cannot equal zero")
    forward = iv.span() > 0
    v = start
    while (v <= stop) if forward else (v >= stop):
        yield v
        v = ts_shift(v, iv)            # from the previous value, as PostgreSQL adds


@register_srf("generate_series")
def _generate_series(c, args, name) -> SrfSpec:
    if len(args) not in (2, 3):
        raise no_function(name, args)
    known = [a.oid for a in args[:2] if a.oid not in (S.UNKNOWN, 0)]
    if any(o in S.DATETIMES for o in known) or \
            len(args) == 3 and args[2].oid == T.INTERVAL:
        oid = T.TIMESTAMP if known and all(o == T.TIMESTAMP for o in known) else T.TIMESTAMPTZ
        bounds = [c.cast(c.coerce(a, oid), oid) if a.oid in S.DATETIMES or
                  a.oid in (S.UNKNOWN, 0) else _bad(name, args) for a in args[:2]]
        if len(args) != 3:
            raise no_function(name, args)
        step = c.coerce(args[2], T.INTERVAL)
        if step.oid != T.INTERVAL:
            raise no_function(name, args)
        return _one_column(name, oid, bounds + [step], _time_series)
    conv = [c.coerce(a, T.INT4) for a in args]
    if any(a.oid not in S.NUMERICS or a.oid in (T.FLOAT4, T.FLOAT8) for a in conv):
        raise no_function(name, args)
    oid = max((a.oid for a in conv), key=S.NUMERIC_ORDER.index)
    oid = T.INT4 if oid == T.INT2 else oid
    conv = [c.coerce_numeric(a, oid) for a in conv]
    one = decimal.Decimal(1) if oid == T.NUMERIC else 1
    return _one_column(name, oid, conv, lambda a, b, s=one: _series(a, b, s))


def _bad(name, args):
    raise no_function(name, args)


# -- arrays ----------------------------------------------------------------------------------
def _array(c, name, args, a) -> Expr:
    a = c.coerce(a, TEXT_ARRAY)
    if S.element_type(a.oid) is None:
        raise no_function(name, args)
    return a


@register_srf("unnest")
def _unnest(c, args, name) -> SrfSpec:
    if len(args) != 1:
        raise no_function(name, args)        # several arrays: only in FROM (see below)
    arr = _array(c, name, args, args[0])
    return _one_column(name, S.element_type(arr.oid), [arr], iter)


@register_srf("generate_subscripts")
def _generate_subscripts(c, args, name) -> SrfSpec:
    _arity(name, args, 2, 3)
    arr = _array(c, name, args, args[0])
    dim = int_arg(c, name, args, args[1])
    rev = [c.coerce(args[2], T.BOOL)] if len(args) == 3 else []
    base = S.first_subscript(arr.oid)

    def gen(a, d, reverse=False):
        n = len(a) if d == 1 and a else 0
        return range(n + base - 1, base - 1, -1) if reverse else range(base, n + base)
    return _one_column(name, T.INT4, [arr, dim] + rev, gen)


@register_srf("_pg_expandarray")
def _expandarray(c, args, name) -> SrfSpec:
    _arity(name, args, 1)
    arr = _array(c, name, args, args[0])
    cols = [("x", S.element_type(arr.oid)), ("n", T.INT4)]

    def rows(env):
        a = arr.fn((), env)
        return () if a is None else ((v, i) for i, v in enumerate(a, 1))
    return SrfSpec(name, cols, rows, composite=True)


# -- text ------------------------------------------------------------------------------------
@register_srf("string_to_table")
def _string_to_table(c, args, name) -> SrfSpec:
    _arity(name, args, 2, 3)
    conv = _text_args(c, name, args)

    def rows(env):
        vals = [a.fn((), env) for a in conv]
        return () if vals[0] is None else ((v,) for v in string_to_array(*vals))
    return SrfSpec(name, [(name, T.TEXT)], rows)


@register_srf("regexp_split_to_table")
def _regexp_split_to_table(c, args, name) -> SrfSpec:
    _arity(name, args, 2, 3)
    return _one_column(name, T.TEXT, _text_args(c, name, args), regexp_split)


@register_srf("regexp_matches")
def _regexp_matches(c, args, name) -> SrfSpec:
    _arity(name, args, 2, 3)
    return _one_column(name, TEXT_ARRAY, _text_args(c, name, args), regexp_matches)


# -- json ------------------------------------------------------------------------------------
def _json_arg(c, name, args, want_array: bool):
    _arity(name, args, 1)
    oid = T.JSONB if name.startswith("jsonb") else T.JSON
    a = c.coerce(args[0], oid)
    if a.oid != oid:
        raise no_function(name, args)
    return a, oid


def _json_out(v: Any, as_text: bool) -> str | None:
    if as_text:
        if v is None:
            return None
        if isinstance(v, str):
            return v
    return S.jsonb_text(v) if not (as_text and isinstance(v, bool)) else \
        ("true" if v else "false")


def _json_doc(doc: str, kind: type, refusal: str) -> Any:
    """The parsed document if it is a ``kind`` (list or dict), else 22023 with
    ``refusal`` ending in what it is."""
    v = parse_json(doc)
    if not isinstance(v, kind):
        what = "an array" if isinstance(v, list) else "an object" if isinstance(v, dict) \
            else "a scalar"
        raise InvalidParameterValue(f"{refusal} {what}")
    return v


def _elements(doc: str, name: str) -> list:
    return _json_doc(doc, list, "cannot extract elements from")


def _fields(doc: str, name: str) -> dict:
    return _json_doc(doc, dict, f"cannot call {name} on")


@register_srf("jsonb_array_elements", "jsonb_array_elements_text", "json_array_elements",
              "json_array_elements_text")
def _array_elements(c, args, name) -> SrfSpec:
    a, oid = _json_arg(c, name, args, True)
    as_text = name.endswith("_text")
    return _one_column("value", T.TEXT if as_text else oid, [a],
                       lambda d: (_json_out(v, as_text) for v in _elements(d, name)))


@register_srf("jsonb_each", "jsonb_each_text", "json_each", "json_each_text")
def _each(c, args, name) -> SrfSpec:
    a, oid = _json_arg(c, name, args, False)
    as_text = name.endswith("_text")
    cols = [("key", T.TEXT), ("value", T.TEXT if as_text else oid)]

    def rows(env):
        d = a.fn((), env)
        return () if d is None else ((k, _json_out(v, as_text))
                                     for k, v in _fields(d, name).items())
    return SrfSpec(name, cols, rows, composite=True)


@register_srf("jsonb_object_keys", "json_object_keys")
def _object_keys(c, args, name) -> SrfSpec:
    a, oid = _json_arg(c, name, args, False)
    return _one_column(name, T.TEXT, [a], lambda d: iter(_fields(d, name)))


# -- scans -------------------------------------------------------------------------------------
def compile_call(comp, call: ast.FuncCall) -> SrfSpec:
    """A function call in FROM: a set-returning function, or a scalar one (one row)."""
    name = call.funcname[-1].sval.lower()
    if call.agg_star or call.agg_distinct or call.over is not None:
        raise FeatureNotSupported(f"{name}(...) in FROM is not supported")
    resolver = SRFS.get(name)
    if resolver is not None:
        args = [comp.compile(a) for a in call.args or ()]
        return resolver(comp, args, name)
    e = comp.to_output(comp.compile(call))
    return SrfSpec(name, [(name, e.oid)], lambda env: [(e.fn((), env),)])


def bounded(rows: Iterable[tuple], env: Env) -> list[tuple]:
    out: list[tuple] = []
    for r in rows:
        out.append(r)
        if len(out) % _CHECK_EVERY == 0:
            env.run.check_rows(len(out), out)
    env.run.check_rows(len(out), out)
    return out


class FunctionScan(Rel):
    """Functions in FROM: their rows side by side (ROWS FROM), the shorter padded with
    NULLs, then the ordinality; a record-returning function's fields as one value when
    ``as_values`` (a lifted select-list call)."""

    def __init__(self, specs: list[SrfSpec], ordinality: bool, columns: list[OutCol],
                 as_values: bool = False):
        self.specs, self.ordinality, self.columns = specs, ordinality, columns
        self.as_values = as_values
        self.lateral = False

    def rows(self, env):
        results = [bounded(s.rows(env), env) for s in self.specs]
        widths = [1 if self.as_values and s.composite else len(s.columns) for s in self.specs]
        if len(results) == 1 and not self.ordinality and not self.as_values:
            return results[0]
        n = max((len(r) for r in results), default=0)
        out = []
        for i in range(n):
            row: tuple = ()
            for spec, res, w in zip(self.specs, results, widths):
                if i >= len(res):
                    row += (None,) * w
                elif self.as_values and spec.composite:
                    row += (res[i],)
                else:
                    row += res[i]
            out.append(row + ((i + 1,) if self.ordinality else ()))
        return out


def output_columns(specs: list[SrfSpec], item: ast.RangeFunction, as_values: bool
                   ) -> tuple[str, list[tuple[str, int]]]:
    """(alias, [(column name, type)]) of a function scan, PostgreSQL's naming: a single
    one-column function takes the alias as its column name."""
    alias = item.alias.aliasname if item.alias else specs[0].name
    colnames = [a.sval for a in (item.alias.colnames or ())] if item.alias else []
    cols: list[tuple[str, int]] = []
    for s in specs:
        if as_values and s.composite:
            cols.append((s.name, S.composite_type(tuple(s.columns))))
        elif len(s.columns) == 1 and len(specs) == 1 and item.alias is not None:
            cols.append((alias, s.columns[0][1]))
        else:
            cols.extend(s.columns)
    if item.ordinality:
        cols.append(("ordinality", T.INT8))
    if len(colnames) > len(cols):
        raise DsqlError(f'table "{alias}" has {len(cols)} columns available but '
                        f'{len(colnames)} columns specified', sqlstate="42P10")
    cols = [(colnames[i] if i < len(colnames) else n, o) for i, (n, o) in enumerate(cols)]
    return alias, cols


def split_calls(item: ast.RangeFunction) -> list[ast.FuncCall]:
    """The calls of a FROM item: ROWS FROM's list; ``unnest(a, b)`` is ROWS FROM
    (unnest(a), unnest(b))."""
    calls = [f[0] for f in item.functions]
    if any(not isinstance(c, ast.FuncCall) for c in calls):
        raise FeatureNotSupported("this form of function in FROM is not supported")
    if len(calls) == 1 and calls[0].funcname[-1].sval.lower() == "unnest" and \
            len(calls[0].args or ()) > 1:
        one = calls[0]
        calls = [ast.FuncCall(funcname=one.funcname, args=(a,), funcformat=0)
                 for a in one.args]
    return calls


# -- select-list set-returning functions ---------------------------------------------------------
LIFTED = "__dsql_srf"


def _is_srf(node) -> bool:
    return isinstance(node, ast.FuncCall) and node.over is None and \
        node.funcname[-1].sval.lower() in SRFS


def _lift(node, calls: list):
    """Replace set-returning calls inside ``node`` by references to the lifted columns."""
    if _is_srf(node):
        calls.append(node)
        return ast.ColumnRef(fields=(ast.String(sval=LIFTED),
                                     ast.String(sval=f"c{len(calls)}")))
    if isinstance(node, (ast.SubLink, ast.SelectStmt)) or not isinstance(node, ast.Node):
        return node
    for attr in node:
        child = getattr(node, attr)
        if isinstance(child, ast.Node):
            setattr(node, attr, _lift(child, calls))
        elif isinstance(child, tuple):
            setattr(node, attr, tuple(_lift(x, calls) if isinstance(x, ast.Node) else x
                                      for x in child))
    return node


def lift_targetlist(stmt: ast.SelectStmt, grouped: bool, name_of) -> None:
    """Move set-returning calls of the select list into a lateral ROWS FROM in FROM."""
    if not stmt.targetList or not any(_contains_srf(t.val) for t in stmt.targetList):
        return
    if grouped:
        _group_first(stmt, name_of)
    calls: list = []
    for t in stmt.targetList:
        if _contains_srf(t.val):
            if t.name is None:
                t.name = name_of(t.val)
            t.val = _lift(t.val, calls)
    names = tuple(ast.String(sval=f"c{i}") for i in range(1, len(calls) + 1))
    rf = ast.RangeFunction(lateral=True, ordinality=False, is_rowsfrom=True,
                           functions=tuple((call, None) for call in calls),
                           alias=ast.Alias(aliasname=LIFTED, colnames=names))
    stmt.fromClause = tuple(stmt.fromClause or ()) + (rf,)


GROUPED = "__dsql_grp"


def _col(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(ast.String(sval=n) for n in names))


def _group_first(stmt: ast.SelectStmt, name_of) -> None:
    """A grouped query's set-returning calls run after the grouping, as in PostgreSQL:
    the grouped query becomes a sub-query in FROM that computes the other outputs and the
    calls' arguments, and the calls (top-level select-list items only) read them."""
    if stmt.distinctClause and stmt.distinctClause != (None,) or stmt.windowClause or \
            stmt.lockingClause or any(_contains_srf(t.val) and _reads_outside_srf(t.val)
                                      for t in stmt.targetList):
        raise FeatureNotSupported("set-returning functions in this form of grouped query are "
                                  "not supported")
    names = [t.name or name_of(t.val) for t in stmt.targetList]
    for s in stmt.sortClause or ():
        if not (isinstance(s.node, ast.A_Const) or isinstance(s.node, ast.ColumnRef) and
                len(s.node.fields) == 1 and getattr(s.node.fields[0], "sval", None) in names):
            raise FeatureNotSupported("ORDER BY of a grouped query with set-returning "
                                      "functions must name output columns")
    inner, outer = [], []
    for i, (t, name) in enumerate(zip(stmt.targetList, names)):
        if _contains_srf(t.val):
            outer.append(ast.ResTarget(name=name, val=_srf_args_inner(t.val, f"a{i}", inner)))
        else:
            inner.append(ast.ResTarget(name=f"g{i}", val=t.val))
            outer.append(ast.ResTarget(name=name, val=_col(GROUPED, f"g{i}")))
    sub = ast.SelectStmt(targetList=tuple(inner), fromClause=stmt.fromClause,
                         whereClause=stmt.whereClause, groupClause=stmt.groupClause,
                         havingClause=stmt.havingClause, limitOption=stmt.limitOption,
                         op=stmt.op, all=False)
    stmt.fromClause = (ast.RangeSubselect(lateral=False, subquery=sub,
                                          alias=ast.Alias(aliasname=GROUPED)),)
    stmt.targetList = tuple(outer)
    stmt.whereClause = stmt.groupClause = stmt.havingClause = None


def _srf_args_inner(node, prefix: str, inner: list):
    """Move the arguments of the set-returning calls in ``node`` into ``inner`` targets
    and read them from the grouped sub-query instead."""
    if _is_srf(node):
        args = []
        for arg in node.args or ():
            inner.append(ast.ResTarget(name=f"{prefix}_{len(inner)}", val=arg))
            args.append(_col(GROUPED, f"{prefix}_{len(inner) - 1}"))
        node.args = tuple(args)
        return node
    if isinstance(node, ast.Node) and not isinstance(node, (ast.SubLink, ast.SelectStmt)):
        for attr in node:
            child = getattr(node, attr)
            if isinstance(child, ast.Node):
                _srf_args_inner(child, prefix, inner)
            elif isinstance(child, tuple):
                for x in child:
                    _srf_args_inner(x, prefix, inner)
    return node


def _reads_outside_srf(node) -> bool:
    """Does ``node`` read a column, call an aggregate or use a sub-query outside its
    set-returning calls (which a grouped query's rewrite could not carry)?"""
    return any(isinstance(n, (ast.ColumnRef, ast.SubLink, ast.ParamRef)) or
               isinstance(n, ast.FuncCall) and n.funcname[-1].sval.lower() in AGGREGATES
               for n in pruned(node, _is_srf))


def _contains_srf(node) -> bool:
    """Is there a set-returning call in ``node`` (sub-queries are their own)?"""
    return any(_is_srf(n) for n in pruned(node, lambda n: isinstance(n, (ast.SubLink,
                                                                         ast.SelectStmt))))
