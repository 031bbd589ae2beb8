"""Data type formatting functions (PostgreSQL 16 manual §9.8): to_char of dates,
timestamps and numbers, to_date and to_timestamp(text, format), to_timestamp(double
precision)."""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

from ...errors import DatetimeFieldOverflow, DsqlError
from .. import types as T
from . import sqltypes as S
from .datetimes import _float_arg, _from_epoch
from .functions import _arity, no_function, register, strict


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


@register("to_timestamp")
def _to_timestamp(c, args, name):
    _arity(name, args, 1, 2)
    if len(args) == 2:
        return _to_timestamp_text(c, args, name)
    return strict(_from_epoch, [_float_arg(c, name, args, args[0])], T.TIMESTAMPTZ)


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
