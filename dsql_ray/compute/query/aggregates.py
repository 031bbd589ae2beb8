"""Aggregate accumulators (used by GROUP BY and by aggregates OVER windows)."""
from __future__ import annotations

import decimal
import json
import math
import operator
from dataclasses import dataclass, field
from typing import Any

from ...errors import DsqlError, FeatureNotSupported
from ...interval import interval_div
from .. import types as T
from . import sqltypes as S
from .runtime import Expr, hashable, sort_rows
from .functions import no_function

AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every",
                        "string_agg", "array_agg", "bit_and", "bit_or", "bit_xor", "json_agg",
                        "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev",
                        "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"})
_SPREAD = frozenset({"stddev", "stddev_samp", "stddev_pop", "variance", "var_samp",
                     "var_pop"})
_ORDER_SENSITIVE = frozenset({"array_agg", "string_agg", "json_agg", "jsonb_agg"})
_JSON_AGGS = {"json_agg": T.JSON, "jsonb_agg": T.JSONB, "json_object_agg": T.JSON,
              "jsonb_object_agg": T.JSONB}
WINDOW_ONLY = frozenset({"row_number", "rank", "dense_rank", "percent_rank", "cume_dist",
                         "ntile", "lag", "lead", "first_value", "last_value", "nth_value"})


def agg_result_type(name: str, args: list[Expr]) -> int:
    if name == "count":
        return T.INT8
    oid = args[0].oid if args else 0
    if name == "sum":
        out = {T.INT2: T.INT8, T.INT4: T.INT8, T.INT8: T.NUMERIC, T.NUMERIC: T.NUMERIC,
               T.FLOAT4: T.FLOAT4, T.FLOAT8: T.FLOAT8, T.INTERVAL: T.INTERVAL}.get(oid)
    elif name == "avg":
        out = {T.INT2: T.NUMERIC, T.INT4: T.NUMERIC, T.INT8: T.NUMERIC,
               T.NUMERIC: T.NUMERIC, T.FLOAT4: T.FLOAT8, T.FLOAT8: T.FLOAT8,
               T.INTERVAL: T.INTERVAL}.get(oid)
    elif name in ("min", "max"):
        out = oid if oid not in (T.BOOL, S.UNKNOWN, 0) and (
            S.category(oid) in ("N", "S", "D", "T")) else None
    elif name in ("bool_and", "bool_or", "every"):
        out = T.BOOL if oid == T.BOOL else None
    elif name == "string_agg":
        out = T.TEXT if len(args) == 2 and all(S.category(a.oid) == "S" for a in args) \
            else None
    elif name == "array_agg":
        out = S.ARRAY_OF.get(oid)
    elif name in ("bit_and", "bit_or", "bit_xor"):
        out = oid if oid in (T.INT2, T.INT4, T.INT8) else None
    elif name in _JSON_AGGS:
        out = _JSON_AGGS[name] if len(args) == (2 if "object" in name else 1) else None
    elif name in _SPREAD:
        out = T.FLOAT8 if oid in (T.FLOAT4, T.FLOAT8) else \
            T.NUMERIC if oid in (T.INT2, T.INT4, T.INT8, T.NUMERIC) else None
    else:
        out = None
    if out is None:
        raise no_function(name, args)
    return out


class Acc:
    """Accumulates one aggregate over rows: add(values) then result()."""

    def add(self, vals: tuple) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


class CountStar(Acc):
    def __init__(self):
        self.n = 0

    def add(self, vals):
        self.n += 1

    def result(self):
        return self.n


class Count(Acc):
    def __init__(self):
        self.n = 0

    def add(self, vals):
        if vals[0] is not None:
            self.n += 1

    def result(self):
        return self.n


class Sum(Acc):
    def __init__(self, arg_oid: int, out_oid: int):
        self.total = None
        self.arg_oid, self.out_oid = arg_oid, out_oid

    def add(self, vals):
        v = vals[0]
        if v is None:
            return
        if self.total is None:
            self.total = v
        elif isinstance(v, decimal.Decimal):
            self.total = S.NUMERIC_CONTEXT.add(self.total, v)
        else:
            self.total = self.total + v

    def result(self):
        t = self.total
        if t is None:
            return None
        if self.out_oid == T.INT8:
            return S.check_int(t, T.INT8)
        if self.out_oid == T.NUMERIC and not isinstance(t, decimal.Decimal):
            return decimal.Decimal(t)
        if self.out_oid in (T.FLOAT4, T.FLOAT8):
            return S.check_float(float(t))
        return t


class Avg(Acc):
    def __init__(self, arg_oid: int, out_oid: int):
        self.sum = Sum(arg_oid, T.NUMERIC if out_oid == T.NUMERIC else out_oid)
        self.n = 0
        self.out_oid = out_oid

    def add(self, vals):
        if vals[0] is not None:
            self.sum.add(vals)
            self.n += 1

    def result(self):
        if self.n == 0:
            return None
        if self.out_oid == T.NUMERIC:
            return S.numeric_div(decimal.Decimal(self.sum.total), decimal.Decimal(self.n))
        if self.out_oid == T.INTERVAL:
            return interval_div(self.sum.total, self.n)
        return float(self.sum.total) / self.n


class MinMax(Acc):
    def __init__(self, is_max: bool):
        self.best = None
        self.is_max = is_max

    def add(self, vals):
        v = vals[0]
        if v is None:
            return
        if self.best is None or (v > self.best if self.is_max else v < self.best):
            self.best = v

    def result(self):
        return self.best


class BoolAgg(Acc):
    def __init__(self, is_and: bool):
        self.value = None
        self.is_and = is_and

    def add(self, vals):
        v = vals[0]
        if v is None:
            return
        self.value = v if self.value is None else (
            (self.value and v) if self.is_and else (self.value or v))

    def result(self):
        return self.value


class StringAgg(Acc):
    def __init__(self):
        self.parts: list[str] = []

    def add(self, vals):
        v, sep = vals
        if v is None:
            return
        if self.parts:
            self.parts.append(sep or "")
        self.parts.append(v)

    def result(self):
        return "".join(self.parts) if self.parts else None


class ArrayAgg(Acc):
    def __init__(self):
        self.items: list = []
        self.any = False

    def add(self, vals):
        self.any = True
        self.items.append(vals[0])

    def result(self):
        return list(self.items) if self.any else None


class BitAgg(Acc):
    """bit_and / bit_or / bit_xor of integers (NULLs skipped)."""

    def __init__(self, op):
        self.op, self.value = op, None

    def add(self, vals):
        v = vals[0]
        if v is not None:
            self.value = v if self.value is None else self.op(self.value, v)

    def result(self):
        return self.value


class JsonAgg(Acc):
    """json[b]_agg (values, NULLs as null) and json[b]_object_agg (key, value pairs)."""

    def __init__(self, oids: list[int], out: int, pairs: bool):
        self.oids, self.out, self.pairs = oids, out, pairs
        self.items: list[tuple] = []

    def add(self, vals):
        if self.pairs and vals[0] is None:
            raise DsqlError("field name must not be null", sqlstate="22023")
        self.items.append(vals)

    def result(self):
        if not self.items:
            return None
        if self.pairs:
            pairs = [(S.to_text(k), v, self.oids[1]) for k, v in self.items]
            if self.out == T.JSONB:
                return S.json_build_object(pairs, T.JSONB)
            return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} : "
                                    f"{S.to_json(v, o)}" for k, v, o in pairs) + " }"
        values = [S.to_json(v[0], self.oids[0]) for v in self.items]
        if self.out == T.JSONB:
            return S.jsonb_text([json.loads(x, parse_float=decimal.Decimal,
                                            parse_int=decimal.Decimal) for x in values])
        return "[" + ", ".join(values) + "]"


class Spread(Acc):
    """variance and stddev, sample or population: float8 by Youngs-Cramer as
    float8_accum does; numeric exactly, with numeric division's result scale."""

    def __init__(self, name: str, numeric: bool):
        self.sample = not name.endswith("_pop")
        self.root = name.startswith("stddev")
        self.numeric = numeric
        self.n, self.sx, self.sxx = 0, 0, 0

    def add(self, vals):
        v = vals[0]
        if v is None:
            return
        if self.numeric:
            v = decimal.Decimal(v)
            self.n, self.sx, self.sxx = self.n + 1, self.sx + v, self.sxx + v * v
            return
        v = float(v)
        old, self.n = self.n, self.n + 1
        self.sx += v
        if old > 0:
            tmp = v * self.n - self.sx
            self.sxx += tmp * tmp / (self.n * old)

    def result(self):
        if self.n == 0 or (self.sample and self.n == 1):
            return None
        if not self.numeric:
            var = self.sxx / (self.n - 1 if self.sample else self.n)
            return math.sqrt(var) if self.root else var
        with decimal.localcontext(S.NUMERIC_CONTEXT):
            num = self.n * self.sxx - self.sx * self.sx
            if num <= 0:
                return decimal.Decimal(0)
            var = S.numeric_div(num, decimal.Decimal(self.n * (self.n - 1 if self.sample
                                                                 else self.n)))
            if not self.root:
                return var
            return S.round_numeric(var.sqrt(S.NUMERIC_CONTEXT), S.dscale(var))


class Distinct(Acc):
    def __init__(self, inner: Acc):
        self.inner = inner
        self.seen: set = set()

    def add(self, vals):
        if vals[0] is None and not isinstance(self.inner, (ArrayAgg, JsonAgg)):
            return
        k = tuple(hashable(v) for v in vals[:1])
        if k in self.seen:
            return
        self.seen.add(k)
        self.inner.add(vals)

    def result(self):
        return self.inner.result()


@dataclass
class AggSpec:
    """One aggregate call of a query level."""
    name: str
    args: list[Expr]
    oid: int
    star: bool = False
    distinct: bool = False
    filter: Expr | None = None
    order: list[tuple[Expr, bool, bool]] = field(default_factory=list)

    def new(self) -> Acc:
        n = self.name
        if n == "count":
            acc = CountStar() if self.star else Count()
        elif n == "sum":
            acc = Sum(self.args[0].oid, self.oid)
        elif n == "avg":
            acc = Avg(self.args[0].oid, self.oid)
        elif n in ("min", "max"):
            acc = MinMax(n == "max")
        elif n in ("bool_and", "every", "bool_or"):
            acc = BoolAgg(n != "bool_or")
        elif n == "string_agg":
            acc = StringAgg()
        elif n == "array_agg":
            acc = ArrayAgg()
        elif n in ("bit_and", "bit_or", "bit_xor"):
            acc = BitAgg({"bit_and": operator.and_, "bit_or": operator.or_,
                          "bit_xor": operator.xor}[n])
        elif n in _JSON_AGGS:
            acc = JsonAgg([a.oid for a in self.args], self.oid, "object" in n)
        elif n in _SPREAD:
            acc = Spread(n, self.oid == T.NUMERIC)
        else:
            raise FeatureNotSupported(f"aggregate {n} is not supported")
        return Distinct(acc) if self.distinct else acc

    def compute(self, rows: list[tuple], env) -> Any:
        """The aggregate over ``rows`` (source rows of one group or frame)."""
        acc = self.new()
        for vals in self.values(rows, env):
            acc.add(vals)
        return acc.result()

    def row_values(self, row: tuple, env) -> tuple | None:
        """The argument values of one row, or None when FILTER rejects it."""
        if self.filter is not None and self.filter.fn(row, env) is not True:
            return None
        return tuple(a.fn(row, env) for a in self.args)

    def values(self, rows: list[tuple], env) -> list[tuple]:
        fns = [a.fn for a in self.args]
        filt = self.filter.fn if self.filter is not None else None
        if self.order:
            keyed = [(tuple(f(r, env) for f in fns), tuple(e.fn(r, env) for e, _, _ in self.order))
                     for r in rows if filt is None or filt(r, env) is True]
            keyed = sort_rows(keyed, [(lambda kv, i=i: kv[1][i], d, nf)
                                      for i, (_, d, nf) in enumerate(self.order)])
            return [v for v, _ in keyed]
        out = [tuple(f(r, env) for f in fns) for r in rows
               if filt is None or filt(r, env) is True]
        if self.distinct and self.name in _ORDER_SENSITIVE:
            try:                    # PostgreSQL sorts a DISTINCT aggregate's input
                out = sort_rows(out, [(lambda v: v[0], False, False)])
            except TypeError:       # records holding NULLs: left in input order
                pass
        return out
