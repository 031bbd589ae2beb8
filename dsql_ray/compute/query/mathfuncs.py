"""Mathematical functions (PostgreSQL 16 manual §9.3) beyond those in functions.py:
trigonometric and hyperbolic functions, degrees/radians, gcd, lcm, factorial, scale,
min_scale, trim_scale, log10; and num_nulls/num_nonnulls (§9.2), pg_typeof (§9.26)."""
from __future__ import annotations

import decimal
import math
from typing import Callable

from ...errors import DsqlError
from .. import types as T
from . import sqltypes as S
from .functions import FUNCTIONS, _arity, int_arg, no_function, register, strict
from .runtime import Expr


def _float_fn(name: str, impl: Callable[..., float], nargs: int = 1):
    @register(name)
    def resolve(c, args, fname):
        _arity(fname, args, nargs)
        conv = [c.coerce_numeric(c.coerce(a, T.FLOAT8), T.FLOAT8) for a in args]
        if any(a.oid != T.FLOAT8 for a in conv):
            raise no_function(fname, args)
        return strict(lambda *v: _checked(impl, *v), conv, T.FLOAT8)
    return resolve


def _checked(impl, *v) -> float:
    try:
        out = impl(*v)
    except (ValueError, ZeroDivisionError):
        raise DsqlError("input is out of range", sqlstate="22003") from None
    except OverflowError:
        raise DsqlError("value out of range: overflow", sqlstate="22003") from None
    return S.check_float(out)


for _name, _impl in (("sin", math.sin), ("cos", math.cos), ("tan", math.tan),
                     ("asin", math.asin), ("acos", math.acos), ("atan", math.atan),
                     ("sinh", math.sinh), ("cosh", math.cosh), ("tanh", math.tanh),
                     ("asinh", math.asinh), ("acosh", math.acosh), ("atanh", math.atanh),
                     ("degrees", math.degrees), ("radians", math.radians),
                     ("cot", lambda x: 1 / math.tan(x))):
    _float_fn(_name, _impl)
_float_fn("atan2", math.atan2, 2)


def _int_pair(c, name, args):
    _arity(name, args, 2)
    conv = [int_arg(c, name, args, a) for a in args]
    oid = max((a.oid for a in conv), key=S.NUMERIC_ORDER.index)
    return [c.coerce_numeric(a, oid) for a in conv], oid


@register("gcd")
def _gcd(c, args, name):
    conv, oid = _int_pair(c, name, args)
    return strict(lambda a, b: S.check_int(math.gcd(a, b), oid), conv, oid)


@register("lcm")
def _lcm(c, args, name):
    conv, oid = _int_pair(c, name, args)
    return strict(lambda a, b: S.check_int(abs(a * b) // math.gcd(a, b) if a and b else 0,
                                           oid), conv, oid)


@register("num_nulls", "num_nonnulls")
def _num_nulls(c, args, name):
    fns = [a.fn for a in args]
    nulls = name == "num_nulls"
    return Expr(lambda row, env: sum((f(row, env) is None) == nulls for f in fns), T.INT4,
                all(a.const for a in args))


@register("scale")
def _scale(c, args, name):
    _arity(name, args, 1)
    a = c.coerce_numeric(c.coerce(args[0], T.NUMERIC), T.NUMERIC)
    if a.oid != T.NUMERIC:
        raise no_function(name, args)
    return strict(lambda d: S.dscale(d) if d.is_finite() else None, [a], T.INT4)


@register("min_scale", "trim_scale")
def _min_scale(c, args, name):
    _arity(name, args, 1)
    a = c.coerce_numeric(c.coerce(args[0], T.NUMERIC), T.NUMERIC)
    if a.oid != T.NUMERIC:
        raise no_function(name, args)
    if name == "min_scale":
        return strict(lambda d: S.dscale(d.normalize()) if d.is_finite() and d else 0, [a],
                      T.INT4)
    return strict(lambda d: d.quantize(decimal.Decimal(1).scaleb(-S.dscale(d.normalize())))
                  if d.is_finite() and d else d.quantize(decimal.Decimal(1)) if d == 0 else d,
                  [a], T.NUMERIC)


@register("factorial")
def _factorial(c, args, name):
    _arity(name, args, 1)
    a = int_arg(c, name, args, args[0], T.INT8)

    def fact(n: int) -> decimal.Decimal:
        if n < 0:
            raise DsqlError("factorial of a negative number is undefined", sqlstate="22003")
        if n > 32177:
            raise DsqlError("value overflows numeric format", sqlstate="22003")
        return decimal.Decimal(math.factorial(n))
    return strict(fact, [a], T.NUMERIC)


@register("pg_typeof")
def _pg_typeof(c, args, name):
    _arity(name, args, 1)
    label = S.type_name(args[0].oid)
    return Expr(lambda row, env: label, T.TEXT, True)


@register("log10")
def _log10(c, args, name):
    _arity(name, args, 1)
    return FUNCTIONS["log"](c, args, name)      # log(x) is the base-10 logarithm


def width_bucket(x, low, high, count: int) -> int:
    """The bucket of ``x`` among ``count`` equal buckets from ``low`` to ``high`` (0 below,
    count + 1 above; reversed when low > high)."""
    if count <= 0:
        raise DsqlError("count must be greater than zero", sqlstate="2201G")
    if low == high:
        raise DsqlError("lower bound cannot equal upper bound", sqlstate="2201G")
    if low < high:
        if x < low:
            return 0
        if x >= high:
            return count + 1
        return int((x - low) * count / (high - low)) + 1
    if x > low:
        return 0
    if x <= high:
        return count + 1
    return int((low - x) * count / (low - high)) + 1


@register("width_bucket")
def _width_bucket(c, args, name):
    _arity(name, args, 4)
    kind = T.NUMERIC if all(c.coerce(a, T.NUMERIC).oid in S.INTS + (T.NUMERIC,)
                            for a in args[:3]) else T.FLOAT8
    conv = [c.coerce_numeric(c.coerce(a, kind), kind) for a in args[:3]]
    if any(a.oid != kind for a in conv):
        raise no_function(name, args)
    return strict(width_bucket, conv + [int_arg(c, name, args, args[3])], T.INT4)
