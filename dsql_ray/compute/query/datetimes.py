"""Date/time operators and functions (PostgreSQL 16 manual §9.9): interval arithmetic
with months, age, justify_*, make_date/time/timestamp/timestamptz/interval, extract on
intervals, date_trunc of an interval. Values: date, datetime, time, :class:`Interval`."""
from __future__ import annotations

import datetime as dt
import decimal
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


# -- to_char for dates, timestamps and intervals -------------------------------------------
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_PATTERNS = sorted(["YYYY", "YYY", "YY", "Y", "MM", "DD", "DDD", "D", "HH24", "HH12", "HH",
                    "MI", "SS", "MS", "US", "AM", "PM", "am", "pm", "A.M.", "P.M.",
                    "MONTH", "Month", "month", "MON", "Mon", "mon", "DAY", "Day", "day",
                    "DY", "Dy", "dy", "Q", "WW", "IW", "CC", "J", "TZ", "tz", "OF", "SSSS",
                    "SSSSS", "ID", "IYYY"], key=len, reverse=True)


#: numeric patterns, which PostgreSQL also reads in lower case (hh24, yyyy, mi …)
_NUMERIC = frozenset({"YYYY", "YYY", "YY", "Y", "MM", "DD", "DDD", "D", "HH24", "HH12", "HH",
                      "MI", "SS", "MS", "US", "Q", "WW", "IW", "CC", "J", "SSSS", "SSSSS",
                      "ID", "IYYY"})


def _field(p: str, v: dt.datetime, fm: bool) -> str:
    def num(n: int, width: int) -> str:
        return str(n) if fm else f"{n:0{width}d}" if n >= 0 else f"-{-n:0{width}d}"
    h12 = (v.hour % 12) or 12
    if p in ("MONTH", "Month", "month", "DAY", "Day", "day"):
        word = _MONTHS[v.month - 1] if p.lower() == "month" else _DAYS[v.weekday()]
        word = word.upper() if p.isupper() else word.lower() if p.islower() else word
        return word if fm else word.ljust(9)
    if p in ("MON", "Mon", "mon", "DY", "Dy", "dy"):
        word = (_MONTHS[v.month - 1] if p.lower() == "mon" else _DAYS[v.weekday()])[:3]
        return word.upper() if p.isupper() else word.lower() if p.islower() else word
    if p in ("AM", "PM", "am", "pm", "A.M.", "P.M."):
        mark = "AM" if v.hour < 12 else "PM"
        mark = mark if "." not in p else mark[0] + "." + mark[1] + "."
        return mark.lower() if p.islower() else mark
    if p in ("TZ", "tz", "OF"):
        if v.tzinfo is None:
            return ""
        return ("UTC" if p == "TZ" else "utc") if p != "OF" else "+00"
    iso = v.isocalendar()
    values = {"YYYY": (v.year, 4), "YYY": (v.year % 1000, 3), "YY": (v.year % 100, 2),
              "Y": (v.year % 10, 1), "MM": (v.month, 2), "DD": (v.day, 2),
              "DDD": (v.timetuple().tm_yday, 3), "D": ((v.weekday() + 1) % 7 + 1, 1),
              "HH24": (v.hour, 2), "HH12": (h12, 2), "HH": (h12, 2), "MI": (v.minute, 2),
              "SS": (v.second, 2), "MS": (v.microsecond // 1000, 3), "US": (v.microsecond, 6),
              "Q": ((v.month - 1) // 3 + 1, 1), "WW": ((v.timetuple().tm_yday - 1) // 7 + 1, 2),
              "IW": (iso[1], 2), "CC": ((v.year - 1) // 100 + 1, 2), "ID": (iso[2], 1),
              "IYYY": (iso[0], 4), "J": (v.toordinal() + 1721425, 1),
              "SSSS": (v.hour * 3600 + v.minute * 60 + v.second, 1),
              "SSSSS": (v.hour * 3600 + v.minute * 60 + v.second, 1)}
    n, width = values[p]
    return num(n, width)


def to_char(v, fmt: str) -> str:
    """to_char of a timestamp/date: the common template patterns, FM, quoted text."""
    if not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day)
    out, i, fm = [], 0, False
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.find('"', i + 1)
            end = len(fmt) if end < 0 else end
            out.append(fmt[i + 1:end])
            i = end + 1
            continue
        if fmt.startswith("FM", i):
            fm, i = True, i + 2
            continue
        p = next((p for p in _PATTERNS if fmt.startswith(p, i) or p in _NUMERIC and
                  fmt[i:i + len(p)].upper() == p), None)
        if p is None:
            out.append(fmt[i])
            i += 1
            continue
        out.append(_field(p, v, fm))
        fm = False
        i += len(p)
    return "".join(out)


@register("to_char")
def _to_char(c, args, name):
    _arity(name, args, 2)
    v = c.coerce(args[0], T.TIMESTAMPTZ)
    fmt = c.coerce(args[1], T.TEXT)
    if v.oid in S.NUMERICS:
        return strict(to_char_number, [v, fmt], T.TEXT)
    if v.oid not in S.DATETIMES:
        raise no_function(name, args)
    return strict(to_char, [v, fmt], T.TEXT)


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


@register("to_timestamp")
def _to_timestamp(c, args, name):
    _arity(name, args, 1, 2)
    if len(args) == 2:
        return _to_timestamp_text(c, args, name)
    return strict(_from_epoch, [_float_arg(c, name, args, args[0])], T.TIMESTAMPTZ)


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


# -- to_char for numbers -------------------------------------------------------------------
_NUM_TOKEN = re.compile(r'"[^"]*"|FM|MI|[90.,DGS]|.', re.I)


def _num_items(fmt: str) -> tuple[list[str], bool]:
    """The format's items (9 0 . , S MI or a literal), and whether FM was given."""
    items, fm = [], False
    for m in _NUM_TOKEN.finditer(fmt):
        t = m.group()
        if t.upper() == "FM":
            fm = True
        elif t.startswith('"'):
            items.append("'" + t[1:-1])
        else:
            items.append({"D": ".", "G": ",", "d": ".", "g": ","}.get(t, t.upper()
                                                                     if len(t) > 1 or
                                                                     t in "sS" else t))
    return items, fm


def _num_digits(value, pre: int, post: int, has_point: bool) -> tuple[str, str, bool]:
    """(integer digits, fraction digits, negative) rounded to ``post`` places; '#'s when
    the integer part has more digits than the format."""
    d = value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value)) \
        if isinstance(value, float) else decimal.Decimal(value)
    d = d.quantize(decimal.Decimal(1).scaleb(-post), rounding=decimal.ROUND_HALF_UP,
                   context=S.NUMERIC_CONTEXT)
    neg = d < 0 or isinstance(value, float) and math.copysign(1, value) < 0 and d == 0
    whole, _, frac = format(abs(d), "f").partition(".")
    if whole == "0" and has_point:
        whole = ""
    if len(whole) > pre or pre == 0:
        return "#" * pre, "#" * post, neg
    return whole, frac.ljust(post, "0")[:post], neg


def to_char_number(value, fmt: str) -> str:
    """to_char of a number: 9 0 . , D G S MI FM and quoted text, as PostgreSQL lays them
    out (a sign column before the first printed digit unless S or MI places it)."""
    items, fm = _num_items(fmt)
    point = items.index(".") if "." in items else len(items)
    ints = [i for i in items[:point] if i in ("9", "0")]
    post = sum(1 for i in items[point:] if i in ("9", "0"))
    whole, frac, neg = _num_digits(value, len(ints), post, "." in items)
    zero_from = ints.index("0") if "0" in ints else len(ints)
    shown = [k >= len(ints) - len(whole) or k >= zero_from for k in range(len(ints))]
    digits = iter(whole.rjust(len(ints), "0"))
    fracs = iter(frac)
    first = next((p for p, i in enumerate(items) if i in ("9", "0", ".")), len(items))
    lead_s = "S" in items and items.index("S") < first      # S before the digits: the
    plus = "+" if lead_s else ("" if fm else " ")          # sign column, with a plus
    out, k, printed = [], 0, False
    signed = "MI" in items or ("S" in items and not lead_s)
    for pos, item in enumerate(items):
        if item in ("9", "0") and pos < point:
            ch = next(digits)
            if shown[k] and not signed:
                out.append("-" if neg else plus)
                signed = True
            out.append(ch if shown[k] else ("" if fm else " "))
            printed, k = printed or shown[k], k + 1
        elif item in ("9", "0"):
            out.append(next(fracs))
        elif item == ".":
            if not signed:
                out.append("-" if neg else plus)
                signed = True
            out.append(".")
        elif item == ",":
            out.append("," if printed else ("" if fm else " "))
        elif item == "MI":
            out.append("-" if neg else " ")
        elif item == "S":
            out.append("" if lead_s else "-" if neg else "+")
        else:
            out.append(item[1:] if item.startswith("'") else item)
    text = "".join(out)
    if not fm:
        return text
    text = _fm_trim(text, items, point)
    return "0." if text == "." else text       # FM: a zero that trims to nothing


def _fm_trim(text: str, items: list, point: int) -> str:
    """FM: trailing zeros of 9-positions in the fraction dropped."""
    n = 0
    for item in reversed(items[point:]):
        if item != "9":
            break
        n += 1
    stripped = text.rstrip("0")
    return stripped if len(text) - len(stripped) <= n else text[:len(text) - n]



# -- to_date / to_timestamp(text, format) ------------------------------------------------------
_READ_WIDTH = {"YYYY": 4, "YYY": 3, "YY": 2, "Y": 1, "MM": 2, "DD": 2, "DDD": 3, "HH24": 2,
               "HH12": 2, "HH": 2, "MI": 2, "SS": 2, "MS": 3, "US": 6, "IYYY": 4, "J": 7,
               "SSSS": 5, "SSSSS": 5, "CC": 2, "D": 1, "ID": 1, "Q": 1, "WW": 2, "IW": 2}


def _read_field(p: str, text: str, pos: int, fm: bool) -> tuple[Any, int]:
    """One template field read from ``text`` at ``pos``: (value, next position)."""
    up = p.upper()
    if up in ("MONTH", "MON", "DAY", "DY"):
        names = _MONTHS if up.startswith("MON") else _DAYS
        for i, name in enumerate(names):
            cand = name if up in ("MONTH", "DAY") else name[:3]
            if text[pos:pos + len(cand)].lower() == cand.lower():
                return i + 1, pos + len(cand)
        raise _bad_value(text, p)
    if up in ("AM", "PM", "A.M.", "P.M."):
        word = text[pos:pos + len(p)].upper().replace(".", "")
        if word not in ("AM", "PM"):
            raise _bad_value(text, p)
        return word, pos + len(p)
    m = re.compile(r"[+-]?\d{1,%d}" % (_READ_WIDTH.get(up, 9) if not fm else 9)).match(text, pos)
    if m is None:
        raise _bad_value(text, p)
    return int(m.group()), m.end()


def _bad_value(text: str, p: str) -> DsqlError:
    return DsqlError(f'invalid value "{text}" for "{p}"', sqlstate="22007")


def _read_template(text: str, fmt: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    i = pos = 0
    fm = False
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.find('"', i + 1)
            end = len(fmt) if end < 0 else end
            pos += end - i - 1
            i = end + 1
            continue
        if fmt.startswith("FM", i):
            fm, i = True, i + 2
            continue
        p = next((p for p in _PATTERNS if fmt[i:i + len(p)].upper() == p.upper()), None)
        if p is None:
            if fmt[i].isspace() or pos < len(text) and not text[pos].isalnum():
                pos += 1 if pos < len(text) and (not text[pos].isalnum() or
                                                 fmt[i] == text[pos]) else 0
            i += 1
            continue
        while pos < len(text) and text[pos] == " " and p.upper() not in ("AM", "PM"):
            pos += 1
        fields[p.upper()], pos = _read_field(p, text, pos, fm)
        i += len(p)
    return fields


def parse_by_template(text: str, fmt: str) -> dt.datetime:
    f = _read_template(text, fmt)
    year = f.get("YYYY", f.get("IYYY"))
    if year is None and "YY" in f:
        year = f["YY"] + (2000 if f["YY"] < 70 else 1900)
    month = f.get("MM", f.get("MONTH", f.get("MON", 1)))
    hour = f.get("HH24", f.get("HH12", f.get("HH", 0)))
    if f.get("AM") == "PM" or f.get("PM") == "PM" or f.get("A.M.") == "PM" \
            or f.get("P.M.") == "PM":
        hour = hour % 12 + 12
    elif any(f.get(k) == "AM" for k in ("AM", "PM", "A.M.", "P.M.")):
        hour = hour % 12
    micro = f.get("US", f.get("MS", 0) * 1000)
    try:
        out = dt.datetime(year or 1, month, f.get("DD", 1), hour, f.get("MI", 0),
                          f.get("SS", 0), micro)
    except ValueError:
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{text}"') from None
    if "DDD" in f and "MM" not in f:
        out = dt.datetime(out.year, 1, 1, hour, out.minute, out.second, micro) + \
            dt.timedelta(days=f["DDD"] - 1)
    return out


@register("to_date")
def _to_date(c, args, name):
    _arity(name, args, 2)
    conv = [c.coerce(a, T.TEXT) for a in args]
    return strict(lambda t, f: parse_by_template(t, f).date(), conv, T.DATE)


def _to_timestamp_text(c, args, name):
    conv = [c.coerce(a, T.TEXT) for a in args]
    return strict(lambda t, f: parse_by_template(t, f).replace(tzinfo=dt.timezone.utc), conv,
                  T.TIMESTAMPTZ)
