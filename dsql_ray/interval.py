"""PostgreSQL's interval value: months, days and microseconds kept apart, as PostgreSQL
keeps them (``1 mon`` is not ``30 days``, though the two compare equal).

Shared by the wire codec (text and binary output, Bind input), the key encoding and the
query engine. Values written before months existed were ``datetime.timedelta``; every
operation here accepts one (:func:`as_interval`), and an :class:`Interval` compares and
hashes equal to the timedelta of the same span, so stored data still reads and groups.

Text input follows PostgreSQL's DecodeInterval for the forms in use: ``'1 year 2 mons
3 days 04:05:06.5'``, ``'@ 1 day ago'``, fractional units (``'1.5 months'``), bare numbers
(seconds), ``'-1 day, 23:00:00'`` (Python's str(timedelta)) and ISO 8601 ``P1Y2M3DT4H5M6S``.
Text output is IntervalStyle ``postgres`` (EncodeInterval in datetime.c).
"""
from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["Interval", "as_interval", "parse_interval", "interval_text", "restrict", "USECS_PER_DAY",
           "FULL_RANGE", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"]

USECS_PER_SEC = 1_000_000
USECS_PER_DAY = 86_400 * USECS_PER_SEC
DAYS_PER_MONTH = 30
_I32 = 2**31
_I64 = 2**63


class Interval:
    """An interval: ``months`` (int32), ``days`` (int32), ``micros`` (int64)."""
    __slots__ = ("months", "days", "micros")

    def __init__(self, months: int = 0, days: int = 0, micros: int = 0):
        if not (-_I32 <= months < _I32 and -_I32 <= days < _I32 and -_I64 <= micros < _I64):
            raise OverflowError("interval out of range")
        self.months, self.days, self.micros = months, days, micros

    def __reduce__(self):
        return (Interval, (self.months, self.days, self.micros))

    def span(self) -> int:
        """PostgreSQL's comparison value: months count 30 days, days 24 hours."""
        return (self.months * DAYS_PER_MONTH + self.days) * USECS_PER_DAY + self.micros

    def __repr__(self) -> str:
        return f"Interval({self.months}, {self.days}, {self.micros})"

    def __str__(self) -> str:
        return interval_text(self)

    def __hash__(self) -> int:
        span = self.span()
        try:                     # equal to the hash of a stored timedelta of this span
            return hash(timedelta(microseconds=span))
        except OverflowError:
            return hash(span)

    def _other(self, other):
        if isinstance(other, Interval):
            return other.span()
        if isinstance(other, timedelta):
            return as_interval(other).span()
        return None

    def __eq__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() == s

    def __ne__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() != s

    def __lt__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() < s

    def __le__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() <= s

    def __gt__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() > s

    def __ge__(self, other):
        s = self._other(other)
        return NotImplemented if s is None else self.span() >= s

    def __neg__(self) -> "Interval":
        return Interval(-self.months, -self.days, -self.micros)

    def __add__(self, other):
        if not isinstance(other, (Interval, timedelta)):
            return NotImplemented
        o = as_interval(other)
        return Interval(self.months + o.months, self.days + o.days, self.micros + o.micros)

    __radd__ = __add__

    def __sub__(self, other):
        if not isinstance(other, (Interval, timedelta)):
            return NotImplemented
        o = as_interval(other)
        return Interval(self.months - o.months, self.days - o.days, self.micros - o.micros)

    def __rsub__(self, other):
        if not isinstance(other, timedelta):
            return NotImplemented
        return as_interval(other) - self


def as_interval(v) -> Interval:
    """An Interval from an Interval or a (stored, older) timedelta: days and the rest, one
    sign, as ``interval '-1 hour'`` is 0 days -01:00:00."""
    if isinstance(v, Interval):
        return v
    usecs = v // timedelta(microseconds=1)
    days, rest = divmod(abs(usecs), USECS_PER_DAY)
    return Interval(0, -days, -rest) if usecs < 0 else Interval(0, days, rest)


# -- text output -------------------------------------------------------------------------
def _trunc_div(a: int, b: int) -> tuple[int, int]:
    """C's truncating division and remainder."""
    q = abs(a) // abs(b) * (1 if (a >= 0) == (b > 0) else -1)
    return q, a - q * b


def interval_text(v) -> str:
    """IntervalStyle postgres: ``1 year 2 mons -3 days +04:05:06.5``."""
    v = as_interval(v)
    years, mons = _trunc_div(v.months, 12)
    parts: list[str] = []
    before = False
    for value, unit in ((years, "year"), (mons, "mon"), (v.days, "day")):
        if value:
            plus = "+" if before and value > 0 else ""
            parts.append(f"{plus}{value} {unit}{'' if value == 1 else 's'}")
            before = value < 0
    if not parts or v.micros:
        sign = "-" if v.micros < 0 else ("+" if before else "")
        secs, frac = divmod(abs(v.micros), USECS_PER_SEC)
        hours, secs = divmod(secs, 3600)
        minutes, secs = divmod(secs, 60)
        fraction = ("." + f"{frac:06d}".rstrip("0")) if frac else ""
        parts.append(f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}{fraction}")
    return " ".join(parts)


# -- text input --------------------------------------------------------------------------
#: unit → (months, days, microseconds) per unit
_UNITS = {
    "microsecond": (0, 0, 1), "microseconds": (0, 0, 1), "us": (0, 0, 1),
    "usec": (0, 0, 1), "usecs": (0, 0, 1),
    "millisecond": (0, 0, 1000), "milliseconds": (0, 0, 1000), "ms": (0, 0, 1000),
    "msec": (0, 0, 1000), "msecs": (0, 0, 1000),
    "second": (0, 0, USECS_PER_SEC), "seconds": (0, 0, USECS_PER_SEC),
    "sec": (0, 0, USECS_PER_SEC), "secs": (0, 0, USECS_PER_SEC), "s": (0, 0, USECS_PER_SEC),
    "minute": (0, 0, 60 * USECS_PER_SEC), "minutes": (0, 0, 60 * USECS_PER_SEC),
    "min": (0, 0, 60 * USECS_PER_SEC), "mins": (0, 0, 60 * USECS_PER_SEC),
    "m": (0, 0, 60 * USECS_PER_SEC),
    "hour": (0, 0, 3600 * USECS_PER_SEC), "hours": (0, 0, 3600 * USECS_PER_SEC),
    "hr": (0, 0, 3600 * USECS_PER_SEC), "hrs": (0, 0, 3600 * USECS_PER_SEC),
    "h": (0, 0, 3600 * USECS_PER_SEC),
    "day": (0, 1, 0), "days": (0, 1, 0), "d": (0, 1, 0),
    "week": (0, 7, 0), "weeks": (0, 7, 0), "w": (0, 7, 0),
    "month": (1, 0, 0), "months": (1, 0, 0), "mon": (1, 0, 0), "mons": (1, 0, 0),
    "year": (12, 0, 0), "years": (12, 0, 0), "y": (12, 0, 0), "yr": (12, 0, 0),
    "yrs": (12, 0, 0),
    "decade": (120, 0, 0), "decades": (120, 0, 0),
    "century": (1200, 0, 0), "centuries": (1200, 0, 0),
    "millennium": (12000, 0, 0), "millennia": (12000, 0, 0), "millenniums": (12000, 0, 0),
}
_TOKEN = re.compile(
    r"\s*(?:(?P<ysign>[-+])?(?P<y>\d+)-(?P<mo>\d+)(?![\d:.])"
    r"|(?P<sign>[-+])?(?P<h>\d+):(?P<m>\d+)(?::(?P<s>\d+(?:\.\d*)?))?"
    r"|(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[a-z]*))")

#: interval field qualifiers as typmod range bits (INTERVAL_MASK in datetime.h)
MONTH, YEAR, DAY, HOUR, MINUTE, SECOND = 1 << 1, 1 << 2, 1 << 3, 1 << 10, 1 << 11, 1 << 12
FULL_RANGE = 0x7FFF
_LOWEST = ((SECOND, "second"), (MINUTE, "minute"), (HOUR, "hour"), (DAY, "day"),
           (MONTH, "month"), (YEAR, "year"))
_ISO = re.compile(r"p(?:(?P<y>[-\d.]+)y)?(?:(?P<mo>[-\d.]+)m)?(?:(?P<w>[-\d.]+)w)?"
                  r"(?:(?P<d>[-\d.]+)d)?(?:t(?:(?P<h>[-\d.]+)h)?(?:(?P<mi>[-\d.]+)m)?"
                  r"(?:(?P<s>[-\d.]+)s)?)?")


class _Acc:
    """Accumulates fields as DecodeInterval does: fractions of months spill into days
    (30 a month), fractions of days into microseconds."""

    def __init__(self):
        self.months = self.days = self.micros = 0

    def add(self, num: str, unit: str) -> None:
        months, days, micros = _UNITS[unit]
        value = float(num) if ("." in num or "e" in num) else int(num)
        if months:
            whole = int(value)
            self.months += whole * months
            frac = value - whole
            if frac:
                if months >= 12:          # fractional years: whole months, rounded
                    self.months += int(round(frac * months))
                else:
                    self._fract_days(frac * DAYS_PER_MONTH)
        elif days:
            whole = int(value)
            self.days += whole * days
            if value - whole:
                self._fract_days((value - whole) * days)
        else:
            self.micros += int(value) * micros if isinstance(value, int) else \
                int(round(value * micros))

    def _fract_days(self, frac_days: float) -> None:
        whole = int(frac_days)
        self.days += whole
        self.micros += int(round((frac_days - whole) * USECS_PER_DAY))

    def result(self, negate: bool) -> Interval:
        out = Interval(self.months, self.days, self.micros)
        return -out if negate else out


def _parse_iso(source: str) -> Interval | None:
    m = _ISO.fullmatch(source)
    if m is None or source == "p":
        return None
    acc = _Acc()
    for group, unit in (("y", "year"), ("mo", "month"), ("w", "week"), ("d", "day"),
                        ("h", "hour"), ("mi", "minute"), ("s", "second")):
        if m[group] is not None:
            acc.add(m[group], unit)
    return acc.result(False)


def _lowest_unit(fields: int) -> str:
    return next((unit for bit, unit in _LOWEST if fields & bit), "second")


def parse_interval(text: str, fields: int = FULL_RANGE) -> Interval:
    """Interval text → Interval; ValueError when it is not an interval. ``fields`` (a
    qualifier such as DAY TO MINUTE) gives a bare number its unit and reads ``a:b`` as
    minutes and seconds under MINUTE TO SECOND."""
    source = text.lower().replace(",", " ").strip()
    if source.startswith("p"):
        out = _parse_iso(source)
        if out is None:
            raise ValueError(text)
        return out
    if source.startswith("@"):
        source = source[1:].strip()
    negate = source.endswith(" ago") or source == "ago"
    if negate:
        source = source[:-3].rstrip()
    if not source:
        raise ValueError(text)
    tokens, pos = [], 0
    while pos < len(source):
        token = _TOKEN.match(source, pos)
        if token is None or token.end() == pos:
            raise ValueError(text)
        pos = token.end()
        tokens.append(token)
    acc = _Acc()
    for i, token in enumerate(tokens):
        _add_token(acc, token, fields, tokens[i + 1] if i + 1 < len(tokens) else None, text)
    return acc.result(negate)


def _add_token(acc: "_Acc", token: re.Match, fields: int, following, text: str) -> None:
    if token["y"] is not None:                         # year-month: '1-2'
        months = int(token["y"]) * 12 + int(token["mo"])
        acc.months += -months if token["ysign"] == "-" else months
    elif token["h"] is not None:
        secs = float(token["s"] or 0)
        big, small = int(token["h"]), int(token["m"])
        if small > 59 or secs >= 60:
            raise OverflowError(f"interval field value out of range: {text}")
        if fields == MINUTE | SECOND and token["s"] is None:    # 'mm:ss'
            part = (big * 60 + small) * USECS_PER_SEC
        else:
            part = (big * 3600 + small * 60) * USECS_PER_SEC + int(round(secs * USECS_PER_SEC))
        acc.micros += -part if token["sign"] == "-" else part
    else:
        unit = token["unit"]
        if not unit:           # a bare number: days before a time, else the lowest field
            unit = "day" if following is not None and following["h"] is not None \
                else _lowest_unit(fields)
        if unit not in _UNITS:
            raise ValueError(text)
        acc.add(token["num"], unit)


def _round_to(value: int, unit: int) -> int:
    """Round to a multiple of ``unit``, halves away from zero."""
    q = (abs(value) + unit // 2) // unit * unit
    return q if value >= 0 else -q


def restrict(v: "Interval", fields: int = FULL_RANGE, precision: int | None = None
             ) -> "Interval":
    """An interval under a typmod (AdjustIntervalForTypmod): fields below the qualifier's
    lowest one dropped, seconds rounded to ``precision`` digits."""
    months, days, micros = v.months, v.days, v.micros
    if fields != FULL_RANGE:
        lowest = _lowest_unit(fields)
        if lowest == "year":
            months = int(months / 12) * 12
        if lowest in ("year", "month"):
            days = micros = 0
        elif lowest == "day":
            micros = 0
        elif lowest in ("hour", "minute"):
            unit = 3600 * USECS_PER_SEC if lowest == "hour" else 60 * USECS_PER_SEC
            micros = int(micros / unit) * unit
    if precision is not None and 0 <= precision < 6:
        micros = _round_to(micros, 10 ** (6 - precision))
    return Interval(months, days, micros)


# -- arithmetic as PostgreSQL does it ------------------------------------------------------
def _tsround(x: float) -> float:
    return round(x * 1e6) / 1e6


def interval_mul(v, factor: float) -> Interval:
    """interval_mul (timestamp.c): month and day fractions cascade down to days and time."""
    return _scale(v, factor, lambda x: x * factor)


def interval_div(v, factor: float) -> Interval:
    """interval_div: as interval_mul, dividing each field (a zero factor is the caller's)."""
    return _scale(v, factor, lambda x: x / factor)


def _scale(v, factor: float, by) -> Interval:
    v = as_interval(v)
    if math.isnan(factor) or math.isinf(factor):
        raise OverflowError("interval out of range")
    month = int(by(v.months))
    day = int(by(v.days))
    month_rem_days = _tsround((by(v.months) - month) * DAYS_PER_MONTH)
    sec_rem = _tsround((by(v.days) - day + month_rem_days - int(month_rem_days)) * 86400)
    if abs(sec_rem) >= 86400:
        day += int(sec_rem / 86400)
        sec_rem -= int(sec_rem / 86400) * 86400
    day += int(month_rem_days)
    micros = round(by(v.micros) + sec_rem * USECS_PER_SEC)
    return Interval(month, day, int(micros))


def _one_sign(big: int, small: int, unit: int) -> tuple[int, int]:
    """Give ``small`` the sign of ``big`` by borrowing one ``unit`` from it."""
    if big > 0 and small < 0:
        return big - 1, small + unit
    if big < 0 and small > 0:
        return big + 1, small - unit
    return big, small


def justify_hours(v) -> Interval:
    v = as_interval(v)
    whole, time = _trunc_div(v.micros, USECS_PER_DAY)
    day, time = _one_sign(v.days + whole, time, USECS_PER_DAY)
    return Interval(v.months, day, time)


def justify_days(v) -> Interval:
    v = as_interval(v)
    whole, day = _trunc_div(v.days, DAYS_PER_MONTH)
    month, day = _one_sign(v.months + whole, day, DAYS_PER_MONTH)
    return Interval(month, day, v.micros)


def justify_interval(v) -> Interval:
    v = as_interval(v)
    month, day, time = v.months, v.days, v.micros
    if (day > 0 and time > 0) or (day < 0 and time < 0):
        whole, day = _trunc_div(day, DAYS_PER_MONTH)
        month += whole
    whole, time = _trunc_div(time, USECS_PER_DAY)
    day += whole
    whole, day = _trunc_div(day, DAYS_PER_MONTH)
    month += whole
    if month > 0 and (day < 0 or (day == 0 and time < 0)):
        day += DAYS_PER_MONTH
        month -= 1
    elif month < 0 and (day > 0 or (day == 0 and time > 0)):
        day -= DAYS_PER_MONTH
        month += 1
    day, time = _one_sign(day, time, USECS_PER_DAY)
    return Interval(month, day, time)


def add_months(ts, months: int):
    """A date or timestamp moved by whole months, the day clamped to the month's end
    (``2024-01-31 + 1 mon`` is ``2024-02-29``), as timestamp_pl_interval does."""
    if not months:
        return ts
    years, month0 = divmod(ts.month - 1 + months, 12)
    year, month = ts.year + years, month0 + 1
    if not 1 <= year <= 9999:
        raise OverflowError("timestamp out of range")
    return ts.replace(year=year, month=month, day=min(ts.day, _month_days(year, month)))


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def shift(ts, v, sign: int = 1):
    """timestamp ± interval: months first (clamped), then days, then microseconds."""
    v = as_interval(v)
    ts = add_months(ts, sign * v.months)
    return ts + timedelta(days=sign * v.days, microseconds=sign * v.micros)


def difference(a, b) -> Interval:
    """timestamp - timestamp: microseconds, then justify_hours (days + time)."""
    return justify_hours(Interval(0, 0, (a - b) // timedelta(microseconds=1)))


def age(a, b) -> Interval:
    """age(a, b): field-wise difference borrowing from the next field up (timestamp_age)."""
    fields = [a.microsecond - b.microsecond, a.second - b.second, a.minute - b.minute,
              a.hour - b.hour, a.day - b.day, a.month - b.month, a.year - b.year]
    neg = a < b
    if neg:
        fields = [-f for f in fields]
    limits = (USECS_PER_SEC, 60, 60, 24)
    for i, lim in enumerate(limits):
        while fields[i] < 0:
            fields[i] += lim
            fields[i + 1] -= 1
    ref = a if neg else b
    while fields[4] < 0:
        fields[4] += _month_days(ref.year, ref.month)
        fields[5] -= 1
    while fields[5] < 0:
        fields[5] += 12
        fields[6] -= 1
    if neg:
        fields = [-f for f in fields]
    usec, sec, minute, hour, day, month, year = fields
    return Interval(year * 12 + month, day,
                    ((hour * 60 + minute) * 60 + sec) * USECS_PER_SEC + usec)
