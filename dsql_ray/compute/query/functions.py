"""Scalar functions: name → resolver choosing an implementation from argument types.

A resolver gets the compiler (for coercions and errors) and the compiled arguments and
returns an :class:`Expr`. Functions are strict (NULL in → NULL out) unless noted.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import random
import re
from typing import Any, Callable

from ...errors import (DivisionByZero, DsqlError, FeatureNotSupported,
                       InvalidArgumentForLogarithm,
                       InvalidArgumentForPowerFunction, InvalidParameterValue, NumericOutOfRange,
                       UndefinedFunction)
from ...interval import Interval, as_interval
from .. import types as T
from . import sqltypes as S
from .runtime import Expr

Resolver = Callable[["Any", list[Expr], str], Expr]
FUNCTIONS: dict[str, Resolver] = {}


def no_function(name: str, args: list[Expr]) -> DsqlError:
    sig = ", ".join(S.type_name(a.oid) for a in args)
    return UndefinedFunction(f"function {name}({sig}) does not exist",
                             hint="No function matches the given name and argument types. You "
                          "might need to add explicit type casts.")


def strict(impl: Callable[..., Any], args: list[Expr], oid: int, volatile=False) -> Expr:
    fns = [a.fn for a in args]
    if len(fns) == 1:
        f0 = fns[0]

        def fn(row, env):
            v = f0(row, env)
            return None if v is None else impl(v)
    elif len(fns) == 2:
        f0, f1 = fns

        def fn(row, env):
            a = f0(row, env)
            if a is None:
                return None
            b = f1(row, env)
            return None if b is None else impl(a, b)
    else:
        def fn(row, env):
            vals = [f(row, env) for f in fns]
            if any(v is None for v in vals):
                return None
            return impl(*vals)
    c = not volatile and all(a.const for a in args)
    if c:                                   # fold immutable calls on constants
        value = fn((), None)
        return Expr(lambda row, env: value, oid, True)
    return Expr(fn, oid, c)


#: functions that read the catalog while they compile (system/functions.py): only the
#: query engine, which plans with a catalog, compiles them
READS_CATALOG: set[str] = set()

#: set-returning functions (srfs.py): only FROM and a select list may call them
SET_RETURNING: set[str] = set()

#: functions that take named arguments (``make_interval(days => 3)``)
NAMED_ARGS = {"make_interval"}


def register(*names: str, reads_catalog: bool = False):
    def deco(f):
        for n in names:
            FUNCTIONS[n] = f
            if reads_catalog:
                READS_CATALOG.add(n)
        return f
    return deco


def _arity(name, args, lo, hi=None):
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        raise no_function(name, args)


def _text_args(c, name, args, n_text=None):
    out = []
    for i, a in enumerate(args):
        if n_text is None or i < n_text:
            if S.category(a.oid) not in ("S", "X"):
                raise no_function(name, args)
            out.append(c.coerce(a, T.TEXT))
        else:
            out.append(a)
    return out


def int_arg(c, name, args, a, untyped_as: int = T.INT4):
    """An integer argument of function ``name``: an untyped one becomes ``untyped_as``;
    another type means no such function (42883)."""
    if a.oid in (S.UNKNOWN, 0):
        return c.coerce(a, untyped_as)
    if a.oid not in S.INTS:
        raise no_function(name, args)
    return a


# -- strings -------------------------------------------------------------------------------
def _text_fn(name, impl, nargs=1, int_args=(), ret=T.TEXT, min_args=None):
    @register(name)
    def resolve(c, args, fname, impl=impl):
        _arity(fname, args, min_args if min_args is not None else nargs, nargs)
        conv = []
        for i, a in enumerate(args):
            conv.append(int_arg(c, fname, args, a) if i in int_args
                        else _text_args(c, fname, [a])[0])
        return strict(impl, conv, ret)
    return resolve


#: case mapping of the C locale DSQL uses: ASCII letters only (upper('é') is 'é')
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_text_fn("lower", lambda s: s.translate(_ASCII_LOWER))
_text_fn("upper", lambda s: s.translate(_ASCII_UPPER))
_text_fn("length", len, ret=T.INT4)
_text_fn("char_length", len, ret=T.INT4)
_text_fn("character_length", len, ret=T.INT4)
_text_fn("octet_length", lambda s: len(s.encode()), ret=T.INT4)
_text_fn("reverse", lambda s: s[::-1])
_text_fn("initcap", lambda s: "".join(
    w if i % 2 else w[:1].translate(_ASCII_UPPER) + w[1:].translate(_ASCII_LOWER)
    for i, w in enumerate(re.split(r"([^A-Za-z0-9]+)", s))))
_text_fn("md5", lambda s: hashlib.md5(s.encode()).hexdigest())
_text_fn("ascii", lambda s: ord(s[0]) if s else 0, ret=T.INT4)
_text_fn("strpos", lambda s, sub: s.find(sub) + 1, 2, ret=T.INT4)
_text_fn("position", lambda s, sub: s.find(sub) + 1, 2, ret=T.INT4)   # args (s, sub)
_text_fn("replace", lambda s, a, b: s.replace(a, b) if a else s, 3)
_text_fn("starts_with", lambda s, p: s.startswith(p), 2, ret=T.BOOL)
_text_fn("split_part", lambda s, d, n: _split_part(s, d, n), 3, int_args=(2,))
_text_fn("repeat", lambda s, n: _sized(len(s) * n) and s * max(n, 0), 2, int_args=(1,))
_text_fn("left", lambda s, n: s[:n] if n >= 0 else s[:max(len(s) + n, 0)], 2, int_args=(1,))
_text_fn("right", lambda s, n: (s[-n:] if n > 0 else "") if n >= 0 else s[min(-n, len(s)):],
         2, int_args=(1,))
_text_fn("lpad", lambda s, n, f=" ": _pad(s, n, f, True), 3, int_args=(1,), min_args=2)
_text_fn("rpad", lambda s, n, f=" ": _pad(s, n, f, False), 3, int_args=(1,), min_args=2)
_text_fn("btrim", lambda s, chars=" ": s.strip(chars), 2, min_args=1)
_text_fn("ltrim", lambda s, chars=" ": s.lstrip(chars), 2, min_args=1)
_text_fn("rtrim", lambda s, chars=" ": s.rstrip(chars), 2, min_args=1)
_text_fn("chr", lambda n: chr(n), 1, int_args=(0,))


def _split_part(s: str, d: str, n: int) -> str:
    if n == 0:
        raise InvalidParameterValue("field position must not be zero")
    parts = s.split(d) if d else [s]
    if n < 0:
        n = len(parts) + n + 1
        if n <= 0:
            return ""
    return parts[n - 1] if n <= len(parts) else ""


#: the longest string a function builds (PostgreSQL's MaxAllocSize, 1 GB)
MAX_STRING = (1 << 30) - 1


def _sized(n: int) -> bool:
    """True, or 54000 when a result of ``n`` characters would be too large."""
    if n > MAX_STRING:
        raise DsqlError("requested length too large", sqlstate="54000")
    return True


def _pad(s: str, n: int, fill: str, left: bool) -> str:
    if n <= 0:
        return ""
    _sized(n)
    if len(s) >= n:
        return s[:n]
    if not fill:
        return s
    need = n - len(s)
    pad = (fill * (need // len(fill) + 1))[:need]
    return pad + s if left else s + pad


@register("substring", "substr")
def _substring(c, args, name):
    _arity(name, args, 2, 3)
    conv = _text_args(c, name, args[:1]) + [int_arg(c, name, args, a) for a in args[1:]]
    return strict(substring_of, conv, T.TEXT)


def substring_of(s, start: int, count: int | None = None):
    """substr of text or bytea: 1-based ``start``, ``count`` characters or bytes."""
    if count is None:
        return s[max(start, 1) - 1:]
    if count < 0:
        raise DsqlError("negative substring length not allowed", sqlstate="22011")
    end = start + count
    return s[:0] if end <= 1 else s[max(start, 1) - 1:end - 1]


def output_text(v) -> str:
    """A value's output-function text (concat() prints booleans as t/f)."""
    if isinstance(v, bool):
        return "t" if v else "f"
    return S.to_text(v)


def like_regex(pattern: str, escape: str | None = "\\") -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape:
            if i + 1 >= len(pattern):
                raise DsqlError("LIKE pattern must not end with escape character",
                                sqlstate="22025")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return "".join(out)


_REGEX_CACHE: dict[tuple[str, int, str], re.Pattern[str]] = {}


def compiled_regex(kind: str, pattern: str, flags: int) -> re.Pattern[str]:
    key = (pattern, flags, kind)
    pat = _REGEX_CACHE.get(key)
    if pat is None:
        try:
            pat = re.compile(like_regex(pattern) if kind == "like" else pattern,
                             flags | re.DOTALL)
        except re.error as exc:
            raise DsqlError(f"invalid regular expression: {exc}", sqlstate="2201B") from None
        if len(_REGEX_CACHE) > 1000:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[key] = pat
    return pat


def similar_to_regex(pattern: str, escape: str | None = "\\") -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append({"%": ".*", "_": ".", ".": "\\.", "^": "\\^", "$": "\\$"}.get(ch, ch))
        i += 1
    return "^(?:" + "".join(out) + ")$"


@register("similar_to_escape")
def _similar_to_escape(c, args, name):
    _arity(name, args, 1, 2)
    conv = _text_args(c, name, args)
    return strict(similar_to_regex, conv, T.TEXT)


@register("concat")
def _concat(c, args, name):
    fns = [a.fn for a in args]
    return Expr(lambda row, env: "".join(output_text(v) for f in fns
                                         if (v := f(row, env)) is not None),
                T.TEXT, all(a.const for a in args))


@register("concat_ws")
def _concat_ws(c, args, name):
    if not args:
        raise no_function(name, args)
    sep = c.coerce(args[0], T.TEXT).fn
    fns = [a.fn for a in args[1:]]

    def fn(row, env):
        s = sep(row, env)
        if s is None:
            return None
        return s.join(output_text(v) for f in fns if (v := f(row, env)) is not None)
    return Expr(fn, T.TEXT, all(a.const for a in args))


# -- math ----------------------------------------------------------------------------------
def _num_kind(c, name, args) -> int:
    """numeric if any argument is numeric (and none is float), else float8."""
    oids = []
    for a in args:
        if a.oid in (S.UNKNOWN, 0):
            continue
        if a.oid not in S.NUMERICS:
            raise no_function(name, args)
        oids.append(a.oid)
    if any(o in (T.FLOAT4, T.FLOAT8) for o in oids):
        return T.FLOAT8
    return T.NUMERIC if T.NUMERIC in oids else T.FLOAT8


def _math_fn(name, fimpl, nimpl, nargs=1):
    @register(name)
    def resolve(c, args, fname):
        _arity(fname, args, nargs)
        kind = _num_kind(c, fname, args)
        conv = [c.coerce(a, kind) for a in args]
        return strict(fimpl if kind == T.FLOAT8 else nimpl, conv, kind)
    return resolve


def _fsqrt(x):
    if x < 0:
        raise InvalidArgumentForPowerFunction("cannot take square root of a negative number")
    return math.sqrt(x)


def _fpow(a, b):
    if a == 0 and b < 0:
        raise InvalidArgumentForPowerFunction("zero raised to a negative power is undefined")
    if a < 0 and b != int(b):
        raise InvalidArgumentForPowerFunction(
            "a negative number raised to a non-integer power yields a complex "
            "result")
    try:
        return S.check_float(math.pow(a, b))
    except OverflowError:
        raise NumericOutOfRange("value out of range: overflow") from None


def _npow(a, b):
    if a == 0 and b < 0:
        raise InvalidArgumentForPowerFunction("zero raised to a negative power is undefined")
    r = S.NUMERIC_CONTEXT.power(a, b) if b == int(b) else decimal.Decimal(
        math.pow(float(a), float(b)))
    scale = max(16 - (r.adjusted() if r else 0), S.dscale(a), 0) if b == int(b) else 16
    return S.round_numeric(r, min(scale, 1000))


def _ln(x):
    if x <= 0:
        raise InvalidArgumentForLogarithm("cannot take logarithm of zero" if x == 0 else
                                          "cannot take logarithm of a negative number")
    return math.log(x)


def _log10(x):
    if x <= 0:
        raise InvalidArgumentForLogarithm("cannot take logarithm of zero" if x == 0 else
                                          "cannot take logarithm of a negative number")
    return math.log10(x)


_math_fn("sqrt", _fsqrt, S.numeric_sqrt)
_math_fn("power", _fpow, _npow, 2)
_math_fn("pow", _fpow, _npow, 2)
_math_fn("exp", lambda x: S.check_float(math.exp(x)),
         lambda d: S.round_numeric(S.NUMERIC_CONTEXT.exp(d), 16))
_math_fn("ln", _ln, lambda d: S.round_numeric(decimal.Decimal(_ln(float(d))), 16))
_math_fn("sign", lambda x: float((x > 0) - (x < 0)), lambda d: decimal.Decimal((d > 0) - (d < 0)))


@register("cbrt")
def _cbrt(c, args, name):
    _arity(name, args, 1)
    _num_kind(c, name, args)
    x = c.coerce_numeric(c.coerce(args[0], T.FLOAT8), T.FLOAT8)
    return strict(lambda v: math.copysign(round(abs(v) ** (1 / 3), 14), v), [x], T.FLOAT8)


def _float_floor(x):
    return float(math.floor(x)) if math.isfinite(x) else x


def _float_ceil(x):
    return float(math.ceil(x)) if math.isfinite(x) else x


def _nfloor(d):
    return d.to_integral_value(decimal.ROUND_FLOOR) if d.is_finite() else d


def _nceil(d):
    out = d.to_integral_value(decimal.ROUND_CEILING) if d.is_finite() else d
    return abs(out) if out == 0 else out


_math_fn("floor", _float_floor, _nfloor)
_math_fn("ceil", _float_ceil, _nceil)
_math_fn("ceiling", _float_ceil, _nceil)


@register("log")
def _log(c, args, name):
    _arity(name, args, 1, 2)
    kind = _num_kind(c, name, args)
    conv = [c.coerce(a, kind) for a in args]
    if len(args) == 1:
        return strict(_log10 if kind == T.FLOAT8 else
                      (lambda d: S.round_numeric(decimal.Decimal(_log10(float(d))), 16)),
                      conv, kind)
    return strict(lambda b, x: S.round_numeric(decimal.Decimal(_ln(float(x)) / _ln(float(b))),
                                               16), [c.coerce(a, T.NUMERIC) for a in args],
                  T.NUMERIC)


@register("abs")
def _abs(c, args, name):
    _arity(name, args, 1)
    a = args[0]
    if a.oid in (S.UNKNOWN, 0):
        a = c.coerce(a, T.FLOAT8)
    if a.oid not in S.NUMERICS:
        raise no_function(name, args)
    oid = a.oid
    if oid in S.INTS:
        return strict(lambda v: S.check_int(abs(v), oid), [a], oid)
    return strict(abs, [a], oid)


@register("round", "trunc")
def _round(c, args, name):
    _arity(name, args, 1, 2)
    if len(args) == 2:
        x = c.coerce(args[0], T.NUMERIC)
        if x.oid not in S.NUMERICS:
            raise no_function(name, args)
        x = c.coerce_numeric(x, T.NUMERIC)
        n = int_arg(c, name, args, args[1])
        if name == "round":
            return strict(S.round_numeric, [x, n], T.NUMERIC)
        return strict(lambda d, p: _trunc_numeric(d, p), [x, n], T.NUMERIC)
    kind = _num_kind(c, name, args)
    x = c.coerce_numeric(c.coerce(args[0], kind), kind)
    if kind == T.FLOAT8:
        impl = (lambda v: float(round(v)) if math.isfinite(v) else v) if name == "round" \
            else (lambda v: float(math.trunc(v)) if math.isfinite(v) else v)
    else:
        impl = S.round_numeric if name == "round" else (lambda d: _trunc_numeric(d, 0))
    return strict(impl, [x], kind)


def _trunc_numeric(d: decimal.Decimal, places: int) -> decimal.Decimal:
    if not d.is_finite():
        return d
    if places >= 0:
        return d.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_DOWN,
                          context=S.NUMERIC_CONTEXT)
    return d.scaleb(places).quantize(decimal.Decimal(1), rounding=decimal.ROUND_DOWN,
                                     context=S.NUMERIC_CONTEXT).scaleb(-places)


@register("mod")
def _mod(c, args, name):
    _arity(name, args, 2)
    a, b = c.unify(args[0], args[1])
    if a.oid not in S.NUMERICS or b.oid not in S.NUMERICS or T.FLOAT8 in (a.oid, b.oid) \
            or T.FLOAT4 in (a.oid, b.oid):
        raise no_function(name, args)
    oid = max(a.oid, b.oid, key=S.NUMERIC_ORDER.index)
    a, b = c.coerce_numeric(a, oid), c.coerce_numeric(b, oid)
    return strict(lambda x, y: _int_mod(x, y), [a, b], oid)


def _int_mod(x, y):
    if y == 0:
        raise DivisionByZero("division by zero")
    if isinstance(x, int):
        return int(math.fmod(x, y)) if abs(x) < 2**52 else (abs(x) % abs(y)) * (1 if x >= 0 else -1)
    return x % y


@register("div")
def _div(c, args, name):
    _arity(name, args, 2)
    a, b = (c.coerce_numeric(c.coerce(x, T.NUMERIC), T.NUMERIC) for x in args)

    def div(x, y):
        if y == 0:
            raise DivisionByZero("division by zero")
        return (x / y).to_integral_value(decimal.ROUND_DOWN)
    return strict(div, [a, b], T.NUMERIC)


@register("pi")
def _pi(c, args, name):
    _arity(name, args, 0)
    return Expr(lambda row, env: math.pi, T.FLOAT8, True)


@register("random")
def _random(c, args, name):
    return Expr(lambda row, env: random.random(), T.FLOAT8)


# -- date / time ---------------------------------------------------------------------------
@register("now", "transaction_timestamp", "statement_timestamp", "clock_timestamp")
def _now(c, args, name):
    _arity(name, args, 0)
    return Expr(lambda row, env: env.run.now, T.TIMESTAMPTZ)


_TRUNC_FIELDS = ("microseconds", "milliseconds", "second", "minute", "hour", "day", "week",
                 "month", "quarter", "year", "decade", "century", "millennium")


def date_trunc(field: str, v: dt.datetime) -> dt.datetime:
    if isinstance(v, (Interval, dt.timedelta)):
        return trunc_interval(field, v)
    f = field.lower()
    if f not in _TRUNC_FIELDS:
        raise InvalidParameterValue(
            f'unit "{field}" not recognized for type timestamp without time zone')
    if f == "microseconds":
        return v
    if f == "milliseconds":
        return v.replace(microsecond=v.microsecond // 1000 * 1000)
    if f == "second":
        return v.replace(microsecond=0)
    if f == "minute":
        return v.replace(second=0, microsecond=0)
    if f == "hour":
        return v.replace(minute=0, second=0, microsecond=0)
    day = v.replace(hour=0, minute=0, second=0, microsecond=0)
    if f == "day":
        return day
    if f == "week":
        return day - dt.timedelta(days=day.weekday())
    if f == "month":
        return day.replace(day=1)
    if f == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if f == "year":
        return day.replace(month=1, day=1)
    if f == "decade":
        return day.replace(year=day.year // 10 * 10, month=1, day=1)
    if f == "century":
        return day.replace(year=(day.year - 1) // 100 * 100 + 1, month=1, day=1)
    return day.replace(year=(day.year - 1) // 1000 * 1000 + 1, month=1, day=1)


def _field_and_datetime(c, args, name):
    """(field, value) of date_trunc/extract: the field as text, an untyped value as
    timestamptz."""
    _arity(name, args, 2)
    v = args[1]
    if v.oid in (S.UNKNOWN, 0):
        v = c.coerce(v, T.TIMESTAMPTZ)
    return c.coerce(args[0], T.TEXT), v


@register("date_trunc")
def _date_trunc(c, args, name):
    field, v = _field_and_datetime(c, args, name)
    if v.oid == T.DATE:
        v = c.cast(v, T.TIMESTAMPTZ)
    if v.oid not in (T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL):
        raise no_function(name, args)
    return strict(date_trunc, [field, v], v.oid)


# -- extract / date_part / date_trunc on intervals ----------------------------------------
def extract_interval(field: str, v) -> decimal.Decimal:
    v = as_interval(v)
    f = field.lower()
    years, months = divmod(abs(v.months), 12)
    sign = -1 if v.months < 0 else 1
    years, months = sign * years, sign * months
    secs_total = abs(v.micros) // 1_000_000
    tsign = -1 if v.micros < 0 else 1
    hours, rem = divmod(secs_total, 3600)
    minutes = rem // 60
    sec_us = tsign * (abs(v.micros) % 60_000_000)
    simple = {"year": years, "years": years, "month": months, "mon": months,
              "months": months, "day": v.days, "days": v.days,
              "hour": tsign * hours, "hours": tsign * hours,
              "minute": tsign * minutes, "minutes": tsign * minutes,
              "quarter": int(months / 3) + 1,
              "decade": int(years / 10), "century": int(years / 100),
              "millennium": int(years / 1000)}
    if f in simple:
        return decimal.Decimal(simple[f])
    if f in ("second", "seconds"):
        return decimal.Decimal(sec_us).scaleb(-6)
    if f in ("millisecond", "milliseconds"):
        return decimal.Decimal(sec_us).scaleb(-3)
    if f in ("microsecond", "microseconds"):
        return decimal.Decimal(sec_us)
    if f == "epoch":
        secs = 31557600 * int(v.months / 12) + 2592000 * (v.months - 12 * int(v.months / 12)) \
            + 86400 * v.days
        return (decimal.Decimal(secs) * 1_000_000 + v.micros).scaleb(-6)
    raise InvalidParameterValue(f'unit "{field}" not recognized for type interval')


_TRUNC_IV = {"microseconds": 1, "milliseconds": 1000, "second": 1_000_000,
             "minute": 60_000_000, "hour": 3_600_000_000}


def trunc_interval(field: str, v) -> Interval:
    v = as_interval(v)
    f = field.lower()
    years = int(v.months / 12)
    if f in _TRUNC_IV:
        unit = _TRUNC_IV[f]
        return Interval(v.months, v.days, int(v.micros / unit) * unit)
    if f == "day":
        return Interval(v.months, v.days, 0)
    if f == "month":
        return Interval(v.months, 0, 0)
    if f == "quarter":
        mons = v.months - 12 * years
        return Interval(12 * years + int(mons / 3) * 3, 0, 0)
    for name, n in (("year", 1), ("decade", 10), ("century", 100), ("millennium", 1000)):
        if f == name:
            return Interval(int(years / n) * n * 12, 0, 0)
    if f == "week":
        raise FeatureNotSupported('unit "week" not supported for type interval',
                                    detail="Months usually have fractional weeks.")
    raise InvalidParameterValue(f'unit "{field}" not recognized for type interval')


def extract(field: str, v) -> decimal.Decimal:
    f = field.lower()
    if isinstance(v, (Interval, dt.timedelta)):
        return extract_interval(field, v)
    if isinstance(v, dt.time):
        return extract_time(f, field, v)
    is_ts = isinstance(v, dt.datetime)
    simple = {"year": v.year, "month": v.month, "day": v.day,
              "quarter": (v.month - 1) // 3 + 1, "dow": (v.weekday() + 1) % 7,
              "isodow": v.isoweekday(), "doy": v.timetuple().tm_yday,
              "week": v.isocalendar()[1], "decade": v.year // 10,
              "century": (v.year - 1) // 100 + 1, "millennium": (v.year - 1) // 1000 + 1,
              "isoyear": v.isocalendar()[0]}
    if f in simple:
        return decimal.Decimal(simple[f])
    if f == "epoch":
        if not is_ts:
            v = dt.datetime(v.year, v.month, v.day)
        base = v if v.tzinfo is None else v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        delta = base - dt.datetime(1970, 1, 1)
        if not is_ts:                       # a date's epoch is a whole number
            return decimal.Decimal(delta.days * 86400)
        return (decimal.Decimal(delta.days * 86400 + delta.seconds) * 1000000
                + delta.microseconds).scaleb(-6)
    if is_ts:
        if f == "hour":
            return decimal.Decimal(v.hour)
        if f == "minute":
            return decimal.Decimal(v.minute)
        if f == "second":
            return (decimal.Decimal(v.second) * 1000000 + v.microsecond).scaleb(-6)
        if f in ("microseconds", "milliseconds"):
            us = v.second * 1000000 + v.microsecond
            return decimal.Decimal(us) if f == "microseconds" else decimal.Decimal(us).scaleb(-3)
    if not is_ts and f in ("hour", "minute", "second", "microseconds", "milliseconds",
                           "timezone", "timezone_hour", "timezone_minute"):
        raise FeatureNotSupported(f'unit "{field}" not supported for type date')
    raise InvalidParameterValue(f'unit "{field}" not recognized for type '
                                f'{"timestamp" if is_ts else "date"}')


_DATE_UNITS = frozenset({"day", "month", "year", "week", "quarter", "decade", "century",
                         "millennium", "dow", "doy", "isodow", "isoyear", "julian"})


def extract_time(f: str, field: str, v: dt.time) -> decimal.Decimal:
    us = v.second * 1_000_000 + v.microsecond
    off = int(v.utcoffset().total_seconds()) if v.tzinfo is not None else None
    parts = {"hour": v.hour, "minute": v.minute, "microseconds": us}
    if off is not None:
        parts.update(timezone=off, timezone_hour=int(off / 3600),
                     timezone_minute=int(off % 3600 / 60) if off >= 0 else
                     -int(-off % 3600 / 60))
    if f in parts:
        return decimal.Decimal(parts[f])
    if f == "second":
        return decimal.Decimal(us).scaleb(-6)
    if f == "milliseconds":
        return decimal.Decimal(us).scaleb(-3)
    if f == "epoch":
        secs = (v.hour * 60 + v.minute) * 60_000_000 + us - (off or 0) * 1_000_000
        return decimal.Decimal(secs).scaleb(-6)
    kind = "time without time zone" if off is None else "time with time zone"
    if f in _DATE_UNITS:
        raise FeatureNotSupported(f'unit "{field}" not supported for type {kind}')
    raise InvalidParameterValue(f'unit "{field}" not recognized for type {kind}')


@register("extract")
def _extract(c, args, name):
    field, v = _field_and_datetime(c, args, name)
    if v.oid not in S.DATETIMES and v.oid not in (T.INTERVAL, T.TIME, T.TIMETZ):
        raise no_function(name, args)
    return strict(extract, [field, v], T.NUMERIC)


@register("date_part")
def _date_part(c, args, name):
    e = _extract(c, args, name)
    f = e.fn
    return Expr(lambda row, env: None if (v := f(row, env)) is None else float(v), T.FLOAT8,
                e.const)


# -- misc -------------------------------------------------------------------------------------
@register("version")
def _version(c, args, name):
    return Expr(lambda row, env: T.SERVER_VERSION_STRING, T.TEXT, True)


@register("current_database", "current_catalog")
def _current_database(c, args, name):
    return Expr(lambda row, env: "postgres", T.TEXT, True)


@register("current_schema")
def _current_schema(c, args, name):
    return Expr(lambda row, env: "public", T.TEXT, True)
