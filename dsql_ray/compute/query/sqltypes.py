"""Types for the query engine: categories, common-type resolution, casts and text output.

Values are plain Python objects: int (int2/int4/int8), decimal.Decimal (numeric), float
(float4/float8), str (text), bool, datetime.date / datetime.datetime, timedelta
(interval), list (arrays). ``None`` is NULL.
"""
from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import math
import json
import re
import struct
import uuid
from typing import Any

from pglast import ast

from ...errors import (CannotCoerce, DatatypeMismatch, DatetimeFieldOverflow, DivisionByZero,
                       DsqlError, FeatureNotSupported, InvalidArgumentForPowerFunction,
                       InvalidParameterValue, InvalidTextRepresentation, NumericOutOfRange,
                       ParseError)
from ...frontend.pgwire import net_text, record_text, zone_text
from ...frontend.types import array_items, bytea_input
from ...interval import FULL_RANGE, Interval, as_interval, restrict
from ...interval import interval_text as _interval_text
from ...interval import parse_interval as _parse_interval
from .. import types as T

INTS = (T.INT2, T.INT4, T.OID, T.INT8)      # oid: the catalogs' unsigned 32-bit ids
NUMERIC_ORDER = [T.INT2, T.INT4, T.OID, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8]
NUMERICS = frozenset(NUMERIC_ORDER)
STRINGS = frozenset({T.TEXT, T.VARCHAR, T.BPCHAR})
DATETIMES = frozenset({T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ})
UNKNOWN = T.UNKNOWN

#: array type OIDs for array_agg results
ARRAY_OF = {T.INT2: 1005, T.INT4: 1007, T.INT8: 1016, T.TEXT: 1009, T.NUMERIC: 1231,
            T.FLOAT8: 1022, T.FLOAT4: 1021, T.BOOL: 1000, T.VARCHAR: 1015, T.DATE: 1182,
            T.TIMESTAMP: 1115, T.TIMESTAMPTZ: 1185, T.OID: 1028, T.UUID: 2951,
            T.BYTEA: 1001, T.BPCHAR: 1014, T.TIME: 1183, T.INTERVAL: 1187, T.JSON: 199,
            T.JSONB: 3807, T.TIMETZ: 1270}

#: element type per array type (the inverse of ARRAY_OF)
ELEMENT_OF = {a: e for e, a in ARRAY_OF.items()}

#: arrays of catalog-only element types (name[], "char"[]: system/tables.py adds them)
#: → the type their elements read as
CATALOG_ARRAYS: dict[int, int] = {}


#: int2vector and oidvector: arrays whose subscripts start at 0 (system catalogs)
VECTORS = {22: T.INT2, 30: T.OID}
CATALOG_ARRAYS.update(VECTORS)


def first_subscript(oid: int) -> int:
    """An array's lower bound: 0 for int2vector/oidvector, else 1."""
    return 0 if oid in VECTORS else 1


def vector_text(v: list | None) -> str | None:
    """int2vector / oidvector text output: the elements, space-separated."""
    return None if v is None else " ".join(str(x) for x in v)


def element_type(oid: int) -> int | None:
    return ELEMENT_OF.get(oid) or CATALOG_ARRAYS.get(oid)

#: anonymous composite (record) types the engine builds, e.g. the (x, n) rows of
#: information_schema._pg_expandarray: type oid → ((field name, field type oid), ...).
#: Their oids are private (above PostgreSQL's fixed range); on the wire they are record.
_COMPOSITES: dict[int, tuple[tuple[str, int], ...]] = {}
_COMPOSITE_OIDS: dict[tuple[tuple[str, int], ...], int] = {}
_FIRST_COMPOSITE_OID = 0x7FFF0000
RECORD = 2249


def composite_type(fields: tuple[tuple[str, int], ...]) -> int:
    """The oid of the anonymous composite type with these (name, oid) fields."""
    oid = _COMPOSITE_OIDS.get(fields)
    if oid is None:
        oid = _COMPOSITE_OIDS.setdefault(fields, _FIRST_COMPOSITE_OID + len(_COMPOSITE_OIDS))
        _COMPOSITES[oid] = fields
    return oid


def composite_fields(oid: int) -> tuple[tuple[str, int], ...] | None:
    return _COMPOSITES.get(oid)


_INTERFACES = (ipaddress.IPv4Interface, ipaddress.IPv6Interface)
_NETWORK_VALUES = (ipaddress.IPv4Network, ipaddress.IPv6Network) + _INTERFACES
_INT_RANGE = {T.INT2: (-2**15, 2**15 - 1, "smallint"), T.INT4: (-2**31, 2**31 - 1, "integer"),
              T.INT8: (-2**63, 2**63 - 1, "bigint"), T.OID: (0, 2**32 - 1, "oid")}

#: decimal arithmetic context: wide enough for exact numeric sums and products
NUMERIC_CONTEXT = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP,
                                  Emax=999999, Emin=-999999)
_F32 = struct.Struct("!f")


def type_name(oid: int) -> str:
    if oid in ARRAY_OF.values():
        base = next(k for k, v in ARRAY_OF.items() if v == oid)
        return T.OID_TO_NAME.get(base, str(base)) + "[]"
    return T.OID_TO_NAME.get(oid, str(oid))


def category(oid: int) -> str:
    if oid in NUMERICS:
        return "N"
    if oid in STRINGS:
        return "S"
    if oid == T.BOOL:
        return "B"
    if oid in DATETIMES:
        return "D"
    if oid == T.INTERVAL:
        return "T"
    if oid == UNKNOWN or oid == 0:
        return "X"
    return f"U{oid}"


def common_type(oids: list[int], context: str = "UNION") -> int:
    """PostgreSQL's UNION/CASE/COALESCE type resolution for the usual cases."""
    known = [o for o in oids if o not in (UNKNOWN, 0)]
    if not known:
        return T.TEXT
    first = known[0]
    cat = category(first)
    for o in known[1:]:
        if category(o) != cat:
            raise DatatypeMismatch(f"{context} types {type_name(first)} and {type_name(o)} cannot "
                                   "be matched")
    if cat == "N":
        return max(known, key=NUMERIC_ORDER.index)
    if cat == "S":
        return first if all(o == first for o in known) else T.TEXT
    if cat == "D":
        if T.TIMESTAMPTZ in known:
            return T.TIMESTAMPTZ
        return T.TIMESTAMP if T.TIMESTAMP in known else T.DATE
    return first


# -- numeric helpers -----------------------------------------------------------------
def dscale(d: decimal.Decimal) -> int:
    exp = d.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def _weight_first(d: decimal.Decimal) -> tuple[int, int]:
    """Base-10000 weight and first base-10000 digit of a nonzero numeric, as PG stores it."""
    d = abs(d)
    if d == 0:
        return 0, 0
    exp = d.adjusted()                       # base-10 exponent of the leading digit
    weight = exp // 4
    first = int(d.scaleb(-4 * weight, NUMERIC_CONTEXT))  # leading base-10000 digit
    return weight, first


def numeric_div(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    """numeric / numeric with PostgreSQL's result scale (select_div_scale)."""
    if b == 0:
        raise DivisionByZero("division by zero")
    w1, f1 = _weight_first(a)
    w2, f2 = _weight_first(b)
    qweight = w1 - w2
    if f1 <= f2:
        qweight -= 1
    rscale = 16 - qweight * 4
    rscale = max(rscale, dscale(a), dscale(b), 0)
    rscale = min(rscale, 1000)
    q = NUMERIC_CONTEXT.divide(a, b)
    return q.quantize(decimal.Decimal(1).scaleb(-rscale), context=NUMERIC_CONTEXT,
                      rounding=decimal.ROUND_HALF_UP)


def numeric_sqrt(a: decimal.Decimal) -> decimal.Decimal:
    if a < 0:
        raise InvalidArgumentForPowerFunction("cannot take square root of a negative number")
    w, _ = _weight_first(a) if a != 0 else (0, 0)
    sweight = (w + 1) * 4 // 2 - 1
    rscale = max(16 - sweight, dscale(a), 0)
    r = NUMERIC_CONTEXT.sqrt(a)
    return r.quantize(decimal.Decimal(1).scaleb(-rscale), context=NUMERIC_CONTEXT,
                      rounding=decimal.ROUND_HALF_UP)


def round_numeric(d: decimal.Decimal, places: int = 0) -> decimal.Decimal:
    if not d.is_finite():
        return d
    return d.quantize(decimal.Decimal(1).scaleb(-places), context=NUMERIC_CONTEXT,
                      rounding=decimal.ROUND_HALF_UP) if places >= 0 else \
        d.scaleb(places).quantize(decimal.Decimal(1), context=NUMERIC_CONTEXT,
                                  rounding=decimal.ROUND_HALF_UP).scaleb(-places)


def check_int(value: int, oid: int) -> int:
    lo, hi, name = _INT_RANGE[oid]
    if not lo <= value <= hi:
        raise NumericOutOfRange(f"{name} out of range")
    return value


def check_float(value: float) -> float:
    if math.isinf(value):
        raise NumericOutOfRange("value out of range: overflow")
    return value


# -- text output ---------------------------------------------------------------------
def float_text(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    r = repr(v)
    mant = r.partition("e")[0]
    digits = mant.replace("-", "").replace(".", "").lstrip("0").rstrip("0") or "0"
    e10 = decimal.Decimal(r).adjusted()         # decimal exponent of the leading digit
    sign = "-" if v < 0 else ""
    if -4 <= e10 < 15:
        d = decimal.Decimal(r)
        s = format(abs(d), "f")
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        return sign + s
    m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{m}e{'+' if e10 >= 0 else '-'}{abs(e10):02d}"


def numeric_text(d: decimal.Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    return format(d, "f")


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, decimal.Decimal):
        return numeric_text(value)
    if isinstance(value, dt.datetime):
        s = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            s += f".{value.microsecond:06d}".rstrip("0")
        if value.tzinfo is not None:
            off = value.utcoffset() or dt.timedelta(0)
            mins = int(off.total_seconds()) // 60
            s += f"{'+' if mins >= 0 else '-'}{abs(mins) // 60:02d}"
            if mins % 60:
                s += f":{abs(mins) % 60:02d}"
        return s
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        t = value.strftime("%H:%M:%S")
        t = t + f".{value.microsecond:06d}".rstrip("0") if value.microsecond else t
        return t if value.tzinfo is None else t + zone_text(value.utcoffset()).decode()
    if isinstance(value, (Interval, dt.timedelta)):
        return _interval_text(value)
    if isinstance(value, list):
        return "{" + ",".join("NULL" if v is None else _array_elem(to_text(v))
                              for v in value) + "}"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, _NETWORK_VALUES):
        return net_text(value)
    if isinstance(value, tuple):                # a record: (a,b), NULL fields empty
        return record_text(value).decode()
    return str(value)


def _array_elem(s: str) -> str:
    if s == "" or any(c in s for c in ' ,{}"\\') or s.upper() == "NULL":
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def interval_text(v) -> str:
    return _interval_text(v)


# -- parsing text -----------------------------------------------------------------------
def invalid_text(oid: int, text: str) -> DsqlError:
    return InvalidTextRepresentation(f'invalid input syntax for type {type_name(oid)}: "{text}"')


_TRUE = {"t", "true", "yes", "on", "1", "y", "tr", "tru", "ye"}
_FALSE = {"f", "false", "no", "off", "0", "n", "fa", "fal", "fals", "of"}
_TS_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
                    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$", re.I)


def invalid_datetime(oid: int, text: str) -> DsqlError:
    """Date/time input PostgreSQL cannot read: 22007, not the generic 22P02."""
    return DsqlError(f'invalid input syntax for type {type_name(oid)}: "{text}"',
                     sqlstate="22007")


_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?\s*$")


def parse_time(text: str) -> dt.time:
    m = _TIME_RE.match(text)
    if not m:
        raise invalid_datetime(T.TIME, text)
    h, mi, s, frac = m.groups()
    try:
        return dt.time(int(h), int(mi), int(s or 0), int((frac or "0").ljust(6, "0")))
    except ValueError:
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{text}"') from None


_TIMETZ_RE = re.compile(r"^\s*(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*"
                        r"(?:(Z|UTC|GMT)|([+-])(\d{1,2})(?::?(\d{2}))?(?::(\d{2}))?)?\s*$", re.I)


def parse_timetz(text: str) -> dt.time:
    """time with time zone input: '10:00:00+02', '10:00-03:30', '10:00' (the session's
    zone, UTC)."""
    m = _TIMETZ_RE.match(text)
    if not m:
        raise invalid_datetime(T.TIMETZ, text)
    t = parse_time(m[1])
    offset = dt.timedelta(0)
    if m[3]:
        offset = dt.timedelta(hours=int(m[4]), minutes=int(m[5] or 0), seconds=int(m[6] or 0))
        if offset > dt.timedelta(hours=15, minutes=59, seconds=59):
            raise DsqlError(f'time zone displacement out of range: "{text}"', sqlstate="22009")
        offset = -offset if m[3] == "-" else offset
    return t.replace(tzinfo=dt.timezone(offset))


def parse_timestamp(text: str, oid: int) -> dt.datetime | dt.date:
    m = _TS_RE.match(text)
    if not m:
        low = text.strip().lower()
        if low in ("epoch",):
            base = dt.datetime(1970, 1, 1)
            return base.date() if oid == T.DATE else base
        raise invalid_datetime(oid, text)
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        if oid == T.DATE:
            return dt.date(int(y), int(mo), int(d))
        value = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                            int((frac or "0").ljust(6, "0")))
    except ValueError:
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{text}"') from None
    if oid == T.TIMESTAMPTZ:
        offset = dt.timedelta(0)
        if tz and tz.upper() != "Z":
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        value = (value - offset).replace(tzinfo=dt.timezone.utc)
    return value


def parse_interval(text: str, fields: int = FULL_RANGE) -> Interval:
    try:
        return _parse_interval(text, fields)
    except ValueError:
        raise invalid_datetime(T.INTERVAL, text) from None
    except OverflowError:
        raise DsqlError(f'interval field value out of range: "{text}"',
                        sqlstate="22015") from None


# -- casts ---------------------------------------------------------------------------------
def _to_int(value: Any, oid: int) -> int:
    name = _INT_RANGE[oid][2]
    if isinstance(value, bool):
        if oid == T.INT4:
            return int(value)
        raise CannotCoerce(f"cannot cast type boolean to {name}")
    if isinstance(value, int):
        out = value
    elif isinstance(value, str):
        s = value.strip()
        if not re.fullmatch(r"[+-]?\d+", s):
            raise invalid_text(oid, value)
        out = int(s)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NumericOutOfRange(f"{name} out of range")
        out = round(value)                       # rint: half to even
    elif isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise FeatureNotSupported(f"cannot convert {numeric_text(value)} to {name}")
        out = int(value.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP,
                                 context=NUMERIC_CONTEXT))
    else:
        raise CannotCoerce(f"cannot cast type {type(value).__name__} to {name}")
    return check_int(out, oid)


def _to_numeric(value: Any, typmod: tuple[int, ...] | None = None) -> decimal.Decimal:
    if isinstance(value, bool):
        raise CannotCoerce("cannot cast type boolean to numeric")
    if isinstance(value, decimal.Decimal):
        out = value
    elif isinstance(value, int):
        out = decimal.Decimal(value)
    elif isinstance(value, float):
        if math.isnan(value):
            out = decimal.Decimal("NaN")
        elif math.isinf(value):
            out = decimal.Decimal("Infinity") if value > 0 else decimal.Decimal("-Infinity")
        else:
            out = decimal.Decimal(format(value, ".15g"))
            if out == out.to_integral_value() and "e" not in format(value, ".15g"):
                out = out.quantize(decimal.Decimal(1))
    elif isinstance(value, str):
        s = value.strip()
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(NaN|Infinity|inf)", s,
                            re.I):
            raise invalid_text(T.NUMERIC, value)
        out = decimal.Decimal(s)
        if out.is_finite() and out.as_tuple().exponent > 0:
            out = out.quantize(decimal.Decimal(1), context=NUMERIC_CONTEXT)
    else:
        raise CannotCoerce(f"cannot cast {type(value).__name__} to numeric")
    if typmod:
        precision, scale = typmod[0], (typmod[1] if len(typmod) > 1 else 0)
        if out.is_finite():
            out = round_numeric(out, scale)
            if out != 0 and out.adjusted() >= precision - scale:
                raise NumericOutOfRange(
                    "numeric field overflow",
                    detail=f"A field with precision {precision}, scale {scale} "
                    f"must round to an absolute value less than "
                    f"10^{precision - scale}.")
    return out


def _to_float(value: Any, oid: int) -> float:
    """float8, or float4 rounded to single precision (stored as PostgreSQL stores it);
    22003 when a finite input does not fit."""
    if isinstance(value, bool):
        raise CannotCoerce(f"cannot cast type boolean to {type_name(oid)}")
    if isinstance(value, str):
        s = value.strip().lower()
        special = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf,
                   "inf": math.inf, "-inf": -math.inf, "+infinity": math.inf}
        if s in special:
            return special[s]
        try:
            out = float(s)
        except ValueError:
            raise invalid_text(oid, value) from None
    elif isinstance(value, (int, float, decimal.Decimal)):
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
    else:
        raise CannotCoerce(f"cannot cast to {type_name(oid)}")
    if math.isinf(out) and not (isinstance(value, float) or
                                isinstance(value, decimal.Decimal) and value.is_infinite()):
        raise _float_out_of_range(value, oid)
    if oid == T.FLOAT4 and math.isfinite(out):
        try:
            (out,) = _F32.unpack(_F32.pack(out))
        except OverflowError:
            raise _float_out_of_range(value, oid) from None
    return out


def _float_out_of_range(value: Any, oid: int) -> DsqlError:
    return NumericOutOfRange(f'"{value}" is out of range for type {T.OID_TO_NAME[oid]}')


def _to_datetime(value: str | dt.date, oid: int) -> dt.date:
    """A date, timestamp or timestamptz from text or another date/time value."""
    if isinstance(value, str):
        return parse_timestamp(value, oid)
    if isinstance(value, dt.datetime):
        if oid == T.DATE:
            return value.date()
        if oid == T.TIMESTAMP:
            return value.replace(tzinfo=None)
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if oid == T.DATE:
        return value
    out = dt.datetime(value.year, value.month, value.day)
    return out.replace(tzinfo=dt.timezone.utc) if oid == T.TIMESTAMPTZ else out


def _to_interval(value: Any, typmod: tuple[int, ...] | None) -> Interval:
    """An interval, restricted by a typmod (range qualifier, seconds precision)."""
    fields = typmod[0] if typmod else FULL_RANGE
    precision = typmod[1] if typmod and len(typmod) > 1 else None
    if isinstance(value, str):
        out = parse_interval(value, fields)
    elif isinstance(value, (Interval, dt.timedelta)):
        out = as_interval(value)
    elif isinstance(value, dt.time):
        out = Interval(0, 0, ((value.hour * 60 + value.minute) * 60 + value.second)
                       * 1000000 + value.microsecond)
    else:
        raise CannotCoerce("cannot cast value to type interval")
    return restrict(out, fields, precision) if typmod else out


def _to_net(value: Any, oid: int) -> Any:
    """inet (an ``ipaddress`` interface) or cidr (a network) from text or the other."""
    try:
        if oid == T.CIDR:
            if isinstance(value, _INTERFACES):
                return value.network
            if isinstance(value, str):
                return ipaddress.ip_network(value.strip())
            return value
        if isinstance(value, str):
            return ipaddress.ip_interface(value.strip())
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return ipaddress.ip_interface(f"{value.network_address}/{value.prefixlen}")
        return value
    except ValueError:
        detail = "Value has bits set to right of mask." if oid == T.CIDR and \
            isinstance(value, str) and _is_interface(value) else None
        raise InvalidTextRepresentation(f'invalid input syntax for type {type_name(oid)}: '
                                        f'"{value}"', detail=detail) from None


def _is_interface(text: str) -> bool:
    try:
        ipaddress.ip_interface(text.strip())
        return True
    except ValueError:
        return False


def _to_timetz(value: Any) -> dt.time:
    if isinstance(value, str):
        return parse_timetz(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).timetz()
    if isinstance(value, dt.time):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    raise CannotCoerce("cannot cast value to type time with time zone")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise invalid_text(T.BOOL, value)
    if isinstance(value, int):
        return value != 0
    raise CannotCoerce("cannot cast to boolean")


def cast(value: Any, oid: int, typmod: tuple[int, ...] | None = None) -> Any:
    """Convert ``value`` to the Python representation of SQL type ``oid``."""
    if value is None:
        return None
    if oid in _INT_RANGE:
        return _to_int(value, oid)
    if oid in (T.TEXT, T.UNKNOWN):
        return to_text(value)
    if oid in (T.JSON, T.JSONB):
        return _to_json(value, oid)
    if oid in (T.VARCHAR, T.BPCHAR):
        s = to_text(value)
        if typmod:
            s = s[:typmod[0]]
        # character(n) values are kept without their trailing blanks, which PostgreSQL
        # ignores in comparisons and drops when converting to text
        return s.rstrip(" ") if oid == T.BPCHAR else s
    if oid == T.BOOL:
        return _to_bool(value)
    if oid in (T.FLOAT4, T.FLOAT8):
        return _to_float(value, oid)
    if oid == T.NUMERIC:
        return _to_numeric(value, typmod)
    if oid in DATETIMES and isinstance(value, (str, dt.date)):
        return _to_datetime(value, oid)
    if oid == T.INTERVAL:
        return _to_interval(value, typmod)
    if oid == T.TIMETZ:
        return _to_timetz(value)
    if oid in (T.INET, T.CIDR):
        return _to_net(value, oid)
    if oid == T.TIME:
        if isinstance(value, str):
            return parse_time(value)
        if isinstance(value, dt.datetime):
            return value.time()
        if isinstance(value, dt.time):
            return value.replace(tzinfo=None)
    if oid == T.UUID:
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            try:
                return uuid.UUID(value.strip())
            except ValueError:
                raise invalid_text(oid, value) from None
    if oid == T.BYTEA:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return bytea_input(value)
    if oid in VECTORS and isinstance(value, (list, str)):       # int2vector: '1 2'
        items = value.split() if isinstance(value, str) else value
        return [cast(v, VECTORS[oid]) for v in items]
    if oid in ARRAY_OF.values() and isinstance(value, (list, str)):
        elem = next(e for e, a in ARRAY_OF.items() if a == oid)
        items = array_items(value) if isinstance(value, str) else value
        return [cast(v, elem) for v in items]
    raise CannotCoerce(f"cannot cast value to type {type_name(oid)}")


#: explicit casts PostgreSQL refuses between categories (from, to) → allowed?
def can_cast(src: int, dst: int) -> bool:
    if src == dst or src in (UNKNOWN, 0) or dst in (T.TEXT, T.VARCHAR, T.BPCHAR):
        return True
    cs, cd = category(src), category(dst)
    if cs == "S":
        return True
    if cs == cd:
        return True
    if src == T.TIME and dst == T.INTERVAL:
        return True
    if T.TIMETZ in (src, dst) and {src, dst} <= {T.TIMETZ, T.TIME, T.TIMESTAMPTZ}:
        return True
    if {src, dst} == {T.INET, T.CIDR}:
        return True
    if {cs, cd} == {"N", "B"}:
        return (src == T.INT4 and dst == T.BOOL) or (src == T.BOOL and dst == T.INT4)
    elements = {**{a: e for e, a in ARRAY_OF.items()}, **VECTORS}
    if src in elements and dst in elements:          # int2[] → int4[], oid[] → int8[]
        return can_cast(elements[src], elements[dst])
    return False


def value_oid(value: Any) -> int:
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, int):
        return T.INT4 if -2**31 <= value < 2**31 else T.INT8
    if isinstance(value, float):
        return T.FLOAT8
    if isinstance(value, decimal.Decimal):
        return T.NUMERIC
    if isinstance(value, dt.datetime):
        return T.TIMESTAMPTZ if value.tzinfo else T.TIMESTAMP
    if isinstance(value, dt.date):
        return T.DATE
    if isinstance(value, (Interval, dt.timedelta)):
        return T.INTERVAL
    if isinstance(value, dt.time):
        return T.TIME if value.tzinfo is None else T.TIMETZ
    if isinstance(value, uuid.UUID):
        return T.UUID
    if isinstance(value, _INTERFACES):
        return T.INET
    if isinstance(value, _NETWORK_VALUES):
        return T.CIDR
    if isinstance(value, bytes):
        return T.BYTEA
    return T.TEXT


# -- json input ---------------------------------------------------------------
def _to_json(value: Any, oid: int) -> str:
    """json keeps the input text once it is valid JSON; jsonb is normalized the way
    PostgreSQL prints it (duplicate keys: the last wins; keys shortest first, then
    bytewise; ``", "`` and ``": "`` separators; numbers as numeric)."""
    text = to_text(value)
    try:
        parsed = json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal,
                            parse_constant=_no_json_constant)
    except (ValueError, RecursionError):
        raise InvalidTextRepresentation("invalid input syntax for type json",
                                        detail=f"Token \"{text[:40]}\" is invalid.") from None
    return text if oid == T.JSON else jsonb_text(parsed)


def to_json(value: Any, oid: int) -> str:
    """A SQL value as a JSON value (to_json): numbers and booleans bare, json as is,
    date/time in ISO 8601, everything else as a JSON string of its text."""
    if value is None:
        return "null"
    if oid in (T.JSON, T.JSONB):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)) or \
            isinstance(value, float) and math.isfinite(value):
        return to_text(value)
    if isinstance(value, dt.datetime):
        return json.dumps(value.isoformat())
    return json.dumps(to_text(value), ensure_ascii=False)


def json_build_object(pairs: list[tuple[str, Any, int]], oid: int) -> str:
    """json_build_object / jsonb_build_object from (key, value, value type) pairs."""
    if oid == T.JSONB:
        return jsonb_text({k: json.loads(to_json(v, t), parse_float=decimal.Decimal,
                                          parse_int=decimal.Decimal) for k, v, t in pairs})
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} : {to_json(v, t)}"
                           for k, v, t in pairs) + "}"


def _no_json_constant(name: str):
    raise ValueError(name)


def jsonb_text(v: Any) -> str:
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(v[k])}"
                               for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(jsonb_text(x) for x in v) + "]"
    if isinstance(v, decimal.Decimal):
        return numeric_text(v)
    return json.dumps(v, ensure_ascii=False)


# -- column type modifiers ----------------------------------------------------------------
VARHDRSZ = 4                           # PostgreSQL adds it to character and numeric typmods
_PRECISION_TYPES = {T.TIME, T.TIMETZ, T.TIMESTAMP, T.TIMESTAMPTZ}


def type_modifier(type_name: ast.TypeName, oid: int) -> int:
    """atttypmod of a declared column type: varchar(n)/char(n) → n + 4, numeric(p, s) →
    (p << 16 | s) + 4, time/timestamp(p) → p; -1 when there is none. ``char`` alone is
    char(1). Bad modifiers get PostgreSQL's errors."""
    mods = []
    for m in type_name.typmods or ():
        val = getattr(m, "val", None)
        if not isinstance(val, ast.Integer):
            raise InvalidParameterValue("type modifiers must be simple constants or identifiers")
        mods.append(val.ival)
    name = T.OID_TO_NAME.get(oid, str(oid))
    if oid in (T.VARCHAR, T.BPCHAR):
        if not mods:
            return 1 + VARHDRSZ if oid == T.BPCHAR else -1
        short = "varchar" if oid == T.VARCHAR else "char"
        if len(mods) > 1:
            raise ParseError("invalid type modifier")
        if mods[0] < 1:
            raise InvalidParameterValue(f"length for type {short} must be at least 1")
        if mods[0] > 10485760:
            raise InvalidParameterValue(f"length for type {short} cannot exceed 10485760")
        return mods[0] + VARHDRSZ
    if oid == T.NUMERIC and mods:
        precision, scale = mods[0], (mods[1] if len(mods) > 1 else 0)
        if len(mods) > 2:
            raise InvalidParameterValue("invalid NUMERIC type modifier")
        if not 1 <= precision <= 1000:
            raise InvalidParameterValue(
                f"NUMERIC precision {precision} must be between 1 and 1000")
        if not -1000 <= scale <= 1000:
            raise InvalidParameterValue(f"NUMERIC scale {scale} must be between -1000 and 1000")
        return ((precision << 16) | (scale & 0xFFFF)) + VARHDRSZ
    if oid == T.INTERVAL and mods:           # (range << 16) | precision, as PostgreSQL
        precision = mods[1] if len(mods) > 1 else 0xFFFF
        if precision != 0xFFFF and not 0 <= precision <= 6:
            raise InvalidParameterValue(f"INTERVAL({precision}) precision must be between 0 "
                                        "and 6")
        return ((mods[0] & FULL_RANGE) << 16) | precision
    if oid in _PRECISION_TYPES and mods:
        if len(mods) > 1 or mods[0] < 0:
            raise InvalidParameterValue(f"invalid type modifier for type {name}")
        return min(mods[0], 6)
    if mods:
        raise ParseError(f"type modifier is not allowed for type \"{name}\"")
    return -1


def numeric_typmod(typmod: int) -> tuple[int, int]:
    """(precision, scale) of a numeric atttypmod."""
    raw = typmod - VARHDRSZ
    scale = raw & 0xFFFF
    return raw >> 16, scale - 0x10000 if scale & 0x8000 else scale


def assign(value: Any, oid: int, typmod: int = -1) -> Any:
    """A value of type ``oid`` stored into a column declared with ``typmod``."""
    if value is None or typmod < 0:
        return value
    if oid in (T.VARCHAR, T.BPCHAR):
        length = typmod - VARHDRSZ
        if len(value) > length:
            if value[length:].strip(" "):
                kind = "character varying" if oid == T.VARCHAR else "character"
                raise DsqlError(f"value too long for type {kind}({length})",
                                sqlstate="22001")
            value = value[:length]
        return value
    if oid == T.NUMERIC:
        return cast(value, T.NUMERIC, numeric_typmod(typmod))
    if oid == T.INTERVAL:
        precision = typmod & 0xFFFF
        return restrict(as_interval(value), (typmod >> 16) & FULL_RANGE,
                        None if precision == 0xFFFF else precision)
    if oid in _PRECISION_TYPES and typmod < 6:
        return _round_fraction(value, typmod)
    return value


def _round_fraction(value: dt.time | dt.datetime, digits: int) -> Any:
    """Round the fractional seconds to ``digits`` places (half away from zero)."""
    unit = 10 ** (6 - digits)
    micro = (value.microsecond + unit // 2) // unit * unit
    if isinstance(value, dt.time):
        full = dt.datetime.combine(dt.date(2000, 1, 1), value.replace(microsecond=0))
        return (full + dt.timedelta(microseconds=micro)).timetz()
    return value.replace(microsecond=0) + dt.timedelta(microseconds=micro)
