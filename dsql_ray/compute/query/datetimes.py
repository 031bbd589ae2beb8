"""Date/time operators and functions (PostgreSQL 16 manual §9.9): interval arithmetic
with months, age, justify_*, make_date/time/timestamp/timestamptz/interval, extract on
intervals, date_trunc of an interval. Values: date, datetime, time, :class:`Interval`."""
from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo

from ...errors import (DatetimeFieldOverflow, DivisionByZero, DsqlError,
                       FeatureNotSupported, InvalidParameterValue)
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


# -- AT TIME ZONE ------------------------------------------------------------------------------
_POSIX_ZONE = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.I)


def zone_of(zone) -> dt.tzinfo:
    """A time zone: a name from the tz database, UTC, a POSIX-style offset ('+02' or
    'UTC+2' mean two hours WEST of Greenwich, as PostgreSQL reads them), or an interval
    (east, ISO style)."""
    if isinstance(zone, (Interval, dt.timedelta)):
        iv = as_interval(zone)
        if iv.months or iv.days:
            raise InvalidParameterValue(f'interval time zone "{zone}" must not include months '
                                        "or days")
        return dt.timezone(dt.timedelta(microseconds=iv.micros))
    name = zone.strip()
    if name.upper() in ("UTC", "GMT", "Z", "UCT", "ZULU"):
        return dt.timezone.utc
    m = _POSIX_ZONE.fullmatch(name)
    if m:
        west = dt.timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
        return dt.timezone(west if m[1] == "-" else -west)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidParameterValue(f'time zone "{zone}" not recognized') from None


def at_time_zone(zone, v):
    """``v AT TIME ZONE zone``: a timestamp read as local time there → timestamptz; a
    timestamptz → the local timestamp there; a timetz → the same instant there."""
    tz = zone_of(zone)
    try:
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            # an ambiguous or skipped local time reads as standard time (the smaller offset)
            local = min((v.replace(tzinfo=tz, fold=f) for f in (0, 1)),
                        key=lambda x: x.utcoffset())
            return local.astimezone(dt.timezone.utc)
        if isinstance(v, dt.datetime):
            return v.astimezone(tz).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise timestamp_out_of_range() from None
    day = dt.datetime.combine(dt.date(2000, 1, 3), v).astimezone(tz)
    return day.timetz().replace(tzinfo=dt.timezone(day.utcoffset()))


@register("timezone")
def _timezone(c, args, name):
    _arity(name, args, 2)
    zone = c.coerce(args[0], T.TEXT)
    if zone.oid not in (T.TEXT, T.INTERVAL):
        raise no_function(name, args)
    v = c.coerce(args[1], T.TIMESTAMPTZ)
    if v.oid == T.DATE:
        v = c.cast(v, T.TIMESTAMPTZ)
    out = {T.TIMESTAMP: T.TIMESTAMPTZ, T.TIMESTAMPTZ: T.TIMESTAMP, T.TIMETZ: T.TIMETZ,
           T.TIME: T.TIMETZ}.get(v.oid)
    if out is None:
        raise no_function(name, args)
    if v.oid == T.TIME:
        v = c.cast(v, T.TIMETZ)
    return strict(at_time_zone, [zone, v], out)


# -- date_bin, to_timestamp, isfinite, OVERLAPS ------------------------------------------
def date_bin(stride, source: dt.datetime, origin: dt.datetime) -> dt.datetime:
    iv = as_interval(stride)
    if iv.months:
        raise FeatureNotSupported("timestamps cannot be binned into intervals containing "
                                  "months or years")
    step = iv.days * USECS_PER_DAY + iv.micros
    if step <= 0:
        raise InvalidParameterValue("stride must be greater than zero")
    diff = (source - origin) // dt.timedelta(microseconds=1)
    return origin + dt.timedelta(microseconds=diff - diff % step)


@register("date_bin")
def _date_bin(c, args, name):
    _arity(name, args, 3)
    stride = c.coerce(args[0], T.INTERVAL)
    known = [a.oid for a in args[1:] if a.oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE)]
    oid = T.TIMESTAMP if known and all(o == T.TIMESTAMP for o in known) else T.TIMESTAMPTZ
    ts = [c.cast(c.coerce(a, oid), oid) for a in args[1:]]
    if stride.oid != T.INTERVAL or any(a.oid != oid for a in ts):
        raise no_function(name, args)
    return strict(date_bin, [stride] + ts, oid)


def _from_epoch(secs: float) -> dt.datetime:
    if math.isnan(secs) or math.isinf(secs):
        raise DsqlError("timestamp cannot be NaN" if math.isnan(secs) else
                        "timestamp out of range", sqlstate="22008")
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + \
            dt.timedelta(microseconds=round(secs * 1_000_000))
    except OverflowError:
        raise timestamp_out_of_range() from None


@register("isfinite")
def _isfinite(c, args, name):
    _arity(name, args, 1)
    v = c.coerce(args[0], T.TIMESTAMPTZ)
    if v.oid not in S.DATETIMES and v.oid != T.INTERVAL:
        raise no_function(name, args)
    return strict(lambda x: True, [v], T.BOOL)       # no infinite values are stored


def _period(start, end):
    """(start, end) of one OVERLAPS operand, ordered; a lone non-NULL endpoint is the start
    with an unknown end; None when both are NULL."""
    if start is None:
        return None if end is None else (end, None)
    if end is not None and start > end:
        return end, start
    return start, end


def overlaps(s1, e1, s2, e2) -> bool | None:
    """(s1, e1) OVERLAPS (s2, e2) with NULLs, as overlaps_timestamp decides it."""
    p1, p2 = _period(s1, e1), _period(s2, e2)
    if p1 is None or p2 is None:
        return None
    (s1, e1), (s2, e2) = p1, p2
    if s1 == s2:
        return None if e1 is None or e2 is None else True
    if s1 > s2:                          # symmetric: make the first period start first
        (s1, e1), (s2, e2) = (s2, e2), (s1, e1)
    if e1 is None:
        return None
    if s2 < e1:
        return True
    return None if e2 is None else False


@register("overlaps")
def _overlaps(c, args, name):
    _arity(name, args, 4)
    known = [a.oid for a in args if a.oid not in (S.UNKNOWN, 0, T.INTERVAL)]
    oid = S.common_type(known) if known else T.TIMESTAMPTZ
    conv = []
    for i, a in enumerate(args):
        a = c.coerce(a, T.INTERVAL if i % 2 and a.oid == T.INTERVAL else oid)
        if a.oid == T.INTERVAL:              # (start, length): the end is start + length
            start = conv[-1]
            a = Expr(lambda r, e, s=start.fn, f=a.fn: None if (x := s(r, e)) is None or
                     (y := f(r, e)) is None else ts_shift(x, y), oid)
        elif a.oid != oid:
            a = c.cast(a, oid)
        conv.append(a)
    fns = [a.fn for a in conv]
    return Expr(lambda r, e: overlaps(*[f(r, e) for f in fns]), T.BOOL)
