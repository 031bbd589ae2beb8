"""Date/time operators and functions (PostgreSQL 16 manual §9.9): interval arithmetic
with months, age, justify_*, make_date/time/timestamp/timestamptz/interval, extract on
intervals, date_trunc of an interval. Values: date, datetime, time, :class:`Interval`."""
from __future__ import annotations

import datetime as dt
import math
import re

from ...errors import (DatetimeFieldOverflow, DivisionByZero, DsqlError,
                       InvalidParameterValue)
from ...interval import (USECS_PER_DAY, Interval, age, as_interval, difference, interval_div,
                         interval_mul,
                         justify_days, justify_hours, justify_interval, shift)
from .. import types as T
from . import sqltypes as S
from .functions import _arity, int_arg, no_function, register, strict
from .runtime import Expr

_ZONE = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?")


def timestamp_out_of_range() -> DsqlError:
    return DsqlError("timestamp out of range", sqlstate="22008")


def interval_out_of_range() -> DsqlError:
    return DsqlError("interval out of range", sqlstate="22008")


def ts_shift(ts, iv, sign: int = 1):
    """timestamp/timestamptz ± interval (a date is a timestamp at midnight)."""
    if not isinstance(ts, dt.datetime):
        ts = dt.datetime(ts.year, ts.month, ts.day)
    try:
        return shift(ts, iv, sign)
    except (OverflowError, ValueError):
        raise timestamp_out_of_range() from None


def ts_diff(a, b) -> Interval:
    try:
        return difference(a, b)
    except OverflowError:
        raise interval_out_of_range() from None


def iv_add(a, b, sign: int = 1) -> Interval:
    try:
        return as_interval(a) + as_interval(b) if sign > 0 else as_interval(a) - as_interval(b)
    except OverflowError:
        raise interval_out_of_range() from None


def iv_mul(v, factor) -> Interval:
    try:
        return interval_mul(v, float(factor))
    except (OverflowError, ValueError):
        raise interval_out_of_range() from None


def iv_div(v, factor) -> Interval:
    if factor == 0:
        raise DivisionByZero("division by zero")
    try:
        return interval_div(v, float(factor))
    except (OverflowError, ValueError):
        raise interval_out_of_range() from None


def time_shift(t: dt.time, iv, sign: int = 1) -> dt.time:
    """time ± interval: only the time part counts, wrapping at midnight."""
    us = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
    us = (us + sign * as_interval(iv).micros) % USECS_PER_DAY
    secs, micro = divmod(us, 1_000_000)
    mins, sec = divmod(secs, 60)
    return dt.time(*divmod(mins, 60), sec, micro, tzinfo=t.tzinfo)


# -- functions ---------------------------------------------------------------------------------
def _interval_arg(c, name, args, a) -> Expr:
    a = c.coerce(a, T.INTERVAL)
    if a.oid != T.INTERVAL:
        raise no_function(name, args)
    return a


def _justify(fn):
    def resolve(c, args, name):
        _arity(name, args, 1)
        return strict(fn, [_interval_arg(c, name, args, args[0])], T.INTERVAL)
    return resolve


register("justify_days")(_justify(justify_days))
register("justify_hours")(_justify(justify_hours))
register("justify_interval")(_justify(justify_interval))


def _midnight_today(env) -> dt.datetime:
    now = env.run.now
    return dt.datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)


@register("age")
def _age(c, args, name):
    _arity(name, args, 1, 2)
    conv = []
    for a in args:
        a = c.coerce(a, T.TIMESTAMPTZ)
        if a.oid == T.DATE:
            a = c.cast(a, T.TIMESTAMP)
        if a.oid not in (T.TIMESTAMP, T.TIMESTAMPTZ):
            raise no_function(name, args)
        conv.append(a)
    if len(conv) == 2:
        if conv[0].oid != conv[1].oid:
            conv = [c.cast(a, T.TIMESTAMPTZ) for a in conv]
        return strict(age, conv, T.INTERVAL)
    f, naive = conv[0].fn, conv[0].oid == T.TIMESTAMP

    def fn(row, env):
        v = f(row, env)
        if v is None:
            return None
        today = _midnight_today(env)
        return age(today.replace(tzinfo=None) if naive else today, v)
    return Expr(fn, T.INTERVAL)


def make_date(y: int, m: int, d: int) -> dt.date:
    try:
        return dt.date(y if y > 0 else y + 1, m, d) if y != 0 else _bad_date(y, m, d)
    except ValueError:
        return _bad_date(y, m, d)


def _bad_date(y, m, d):
    raise DatetimeFieldOverflow(f"date field value out of range: {y}-{m:02d}-{d:02d}")


def make_time(h: int, mi: int, sec: float) -> dt.time:
    whole = math.floor(sec)
    micro = round((sec - whole) * 1_000_000)
    if not (0 <= h <= 23 and 0 <= mi <= 59 and 0 <= sec < 60) and \
            not (h == 24 and mi == 0 and sec == 0):
        raise DatetimeFieldOverflow(
            f"time field value out of range: {h}:{mi:02d}:{S.float_text(sec).zfill(2)}")
    if h == 24:
        return dt.time(0, 0)
    return dt.time(h, mi, int(whole), min(micro, 999_999))


def make_timestamp(y, m, d, h, mi, sec) -> dt.datetime:
    try:
        day = make_date(y, m, d)
    except DatetimeFieldOverflow:
        raise DatetimeFieldOverflow(
            f"date field value out of range: {y}-{m:02d}-{d:02d}") from None
    t = make_time(h, mi, sec)
    return dt.datetime.combine(day, t)


@register("make_date")
def _make_date(c, args, name):
    _arity(name, args, 3)
    return strict(make_date, [int_arg(c, name, args, a) for a in args], T.DATE)


def _float_arg(c, name, args, a) -> Expr:
    a = c.coerce(a, T.FLOAT8)
    if a.oid not in S.NUMERICS:
        raise no_function(name, args)
    return c.coerce_numeric(a, T.FLOAT8)


@register("make_time")
def _make_time(c, args, name):
    _arity(name, args, 3)
    conv = [int_arg(c, name, args, a) for a in args[:2]] + [_float_arg(c, name, args, args[2])]
    return strict(make_time, conv, T.TIME)


@register("make_timestamp", "make_timestamptz")
def _make_timestamp(c, args, name):
    tz = name == "make_timestamptz"
    _arity(name, args, 6, 7 if tz else 6)
    conv = [int_arg(c, name, args, a) for a in args[:5]] + [_float_arg(c, name, args, args[5])]
    if len(args) == 7:
        zone = c.coerce(args[6], T.TEXT)
        return strict(lambda *v: _at_zone(make_timestamp(*v[:6]), v[6]), conv + [zone],
                      T.TIMESTAMPTZ)
    if tz:
        return strict(lambda *v: make_timestamp(*v).replace(tzinfo=dt.timezone.utc), conv,
                      T.TIMESTAMPTZ)
    return strict(make_timestamp, conv, T.TIMESTAMP)


def _at_zone(ts: dt.datetime, zone: str) -> dt.datetime:
    """A local timestamp in ``zone`` (UTC or a fixed ISO offset ±h[h][:mm]) as timestamptz."""
    z = zone.strip().upper()
    if z in ("UTC", "GMT", "Z", "UCT"):
        return ts.replace(tzinfo=dt.timezone.utc)
    m = _ZONE.fullmatch(z)
    if m is None:
        raise InvalidParameterValue(f'time zone "{zone}" not recognized')
    offset = dt.timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
    return (ts - offset if m[1] == "+" else ts + offset).replace(tzinfo=dt.timezone.utc)


_MAKE_INTERVAL = ("years", "months", "weeks", "days", "hours", "mins", "secs")


def make_interval(years=0, months=0, weeks=0, days=0, hours=0, mins=0, secs=0.0) -> Interval:
    if math.isinf(secs) or math.isnan(secs):
        raise interval_out_of_range()
    try:
        return Interval(years * 12 + months, weeks * 7 + days,
                        (hours * 60 + mins) * 60_000_000 + round(secs * 1_000_000))
    except OverflowError:
        raise interval_out_of_range() from None


@register("make_interval")
def _make_interval(c, args, name):
    if len(args) > 7:
        raise no_function(name, args)
    names = c.arg_names if getattr(c, "arg_names", None) else [None] * len(args)
    conv, keys = [], []
    for i, (a, n) in enumerate(zip(args, names)):
        key = n or _MAKE_INTERVAL[i]
        if key not in _MAKE_INTERVAL:
            raise no_function(name, args)
        conv.append(_float_arg(c, name, args, a) if key == "secs"
                    else int_arg(c, name, args, a))
        keys.append(key)
    if not conv:
        return Expr(lambda row, env: Interval(), T.INTERVAL, True)
    return strict(lambda *v: make_interval(**dict(zip(keys, v))), conv, T.INTERVAL)
