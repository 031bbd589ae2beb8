"""Casting values between SQL types with PostgreSQL's errors, and storing them in columns.

``cast`` converts a value to the Python representation of a type (int, float, Decimal,
str, bool, bytes, date, time, datetime, timedelta, UUID); the types this module does not
convert itself (date/time, interval, uuid) go through the engine's casts in
``query/sqltypes.py``. ``type_modifier`` reads a column's declared modifier
(``varchar(n)``, ``char(n)``, ``numeric(p, s)``, ``timestamp(p)``) in PostgreSQL's atttypmod
encoding, and ``assign`` applies it when a value is stored (PostgreSQL's assignment cast:
22001 for a string too long, 22003 for a numeric overflow).
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import struct
from typing import Any

from pglast import ast

from ..errors import DsqlError
from ..frontend.types import bytea_input
from . import types as T
from .query import sqltypes as S

_INT_RANGE = {T.INT2: (-2**15, 2**15 - 1, "smallint"), T.INT4: (-2**31, 2**31 - 1, "integer"),
              T.INT8: (-2**63, 2**63 - 1, "bigint")}
_F32 = struct.Struct("!f")
_TRUE = {"t", "true", "yes", "on", "1", "y"}
_FALSE = {"f", "false", "no", "off", "0", "n"}


def invalid_text(type_oid: int, text: str) -> DsqlError:
    return DsqlError(f'invalid input syntax for type {T.OID_TO_NAME.get(type_oid, type_oid)}: '
                     f'"{text}"', sqlstate="22P02")


def _int(value: Any, oid: int) -> int:
    lo, hi, name = _INT_RANGE[oid]
    if isinstance(value, bool):
        raise DsqlError(f"cannot cast type boolean to {name}", sqlstate="42846")
    if isinstance(value, int):
        out = value
    elif isinstance(value, str):
        try:
            out = int(value.strip())
        except ValueError:
            raise invalid_text(oid, value) from None
    elif isinstance(value, (float, decimal.Decimal)):
        if isinstance(value, float) and not math.isfinite(value) or \
                isinstance(value, decimal.Decimal) and not value.is_finite():
            raise DsqlError(f"{name} out of range", sqlstate="22003")
        # numeric → int rounds half away from zero (Decimal's ROUND_HALF_UP does that)
        out = int(decimal.Decimal(value).quantize(decimal.Decimal(1),
                                                  rounding=decimal.ROUND_HALF_UP))
        if isinstance(value, float):   # float → int rounds half to even in PostgreSQL
            out = round(value)
    else:
        raise DsqlError(f"cannot cast {type(value).__name__} to {name}", sqlstate="42846")
    if not lo <= out <= hi:
        raise DsqlError(f"{name} out of range", sqlstate="22003")
    return out


def _bool(value: Any) -> bool:
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
    raise DsqlError(f"cannot cast {type(value).__name__} to boolean", sqlstate="42846")


def _float(value: Any, oid: int) -> float:
    """float8, or float4 rounded to single precision (stored as PostgreSQL stores it)."""
    if isinstance(value, bool):
        raise DsqlError("cannot cast type boolean to double precision", sqlstate="42846")
    try:
        out = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise invalid_text(oid, str(value)) from None
    except OverflowError:
        out = math.inf
    if math.isinf(out) and not (isinstance(value, float) or "inf" in str(value).lower()):
        raise _float_out_of_range(value, oid)
    if oid == T.FLOAT4 and math.isfinite(out):
        try:
            (out,) = _F32.unpack(_F32.pack(out))
        except OverflowError:
            raise _float_out_of_range(value, oid) from None
    return out


def _float_out_of_range(value: Any, oid: int) -> DsqlError:
    return DsqlError(f'"{value}" is out of range for type {T.OID_TO_NAME[oid]}',
                     sqlstate="22003")


def _numeric(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise DsqlError("cannot cast type boolean to numeric", sqlstate="42846")
    try:
        return decimal.Decimal(value.strip() if isinstance(value, str) else value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise invalid_text(T.NUMERIC, str(value)) from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else S.to_text(value)


def cast(value: Any, oid: int) -> Any:
    """Convert ``value`` to the Python representation of SQL type ``oid``."""
    if value is None:
        return None
    if oid in _INT_RANGE:
        return _int(value, oid)
    if oid in (T.TEXT, T.VARCHAR, T.UNKNOWN):
        return _text(value)
    if oid == T.BPCHAR:           # kept without trailing blanks, as sqltypes.cast does
        return _text(value).rstrip(" ")
    if oid in (T.JSON, T.JSONB):
        return _json(value, oid)
    if oid == T.BOOL:
        return _bool(value)
    if oid in (T.FLOAT4, T.FLOAT8):
        return _float(value, oid)
    if oid == T.NUMERIC:
        return _numeric(value)
    if oid == T.BYTEA:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return bytea_input(value)
    return S.cast(value, oid)


def _json(value: Any, oid: int) -> str:
    """json keeps the input text once it is valid JSON; jsonb is normalized the way
    PostgreSQL prints it (duplicate keys: the last wins; keys shortest first, then
    bytewise; ``", "`` and ``": "`` separators; numbers as numeric)."""
    text = _text(value)
    try:
        parsed = json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal,
                            parse_constant=_no_json_constant)
    except (ValueError, RecursionError):
        raise DsqlError("invalid input syntax for type json", sqlstate="22P02",
                        detail=f"Token \"{text[:40]}\" is invalid.") from None
    return text if oid == T.JSON else _jsonb_text(parsed)


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
        return S.to_text(value)
    if isinstance(value, dt.datetime):
        return json.dumps(value.isoformat())
    return json.dumps(S.to_text(value), ensure_ascii=False)


def json_build_object(pairs: list[tuple[str, Any, int]], oid: int) -> str:
    """json_build_object / jsonb_build_object from (key, value, value type) pairs."""
    if oid == T.JSONB:
        return _jsonb_text({k: json.loads(to_json(v, t), parse_float=decimal.Decimal,
                                          parse_int=decimal.Decimal) for k, v, t in pairs})
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} : {to_json(v, t)}"
                           for k, v, t in pairs) + "}"


def _no_json_constant(name: str):
    raise ValueError(name)


def _jsonb_text(v: Any) -> str:
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(v[k])}"
                               for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_jsonb_text(x) for x in v) + "]"
    if isinstance(v, decimal.Decimal):
        return S.numeric_text(v)
    return json.dumps(v, ensure_ascii=False)




# -- column type modifiers ----------------------------------------------------------------
VARHDRSZ = 4                           # PostgreSQL adds it to character and numeric typmods
_PRECISION_TYPES = {T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ}


def type_modifier(type_name: ast.TypeName, oid: int) -> int:
    """atttypmod of a declared column type: varchar(n)/char(n) → n + 4, numeric(p, s) →
    (p << 16 | s) + 4, time/timestamp(p) → p; -1 when there is none. ``char`` alone is
    char(1). Bad modifiers get PostgreSQL's errors."""
    mods = []
    for m in type_name.typmods or ():
        val = getattr(m, "val", None)
        if not isinstance(val, ast.Integer):
            raise DsqlError("type modifiers must be simple constants or identifiers",
                            sqlstate="22023")
        mods.append(val.ival)
    name = T.OID_TO_NAME.get(oid, str(oid))
    if oid in (T.VARCHAR, T.BPCHAR):
        if not mods:
            return 1 + VARHDRSZ if oid == T.BPCHAR else -1
        short = "varchar" if oid == T.VARCHAR else "char"
        if len(mods) > 1:
            raise DsqlError("invalid type modifier", sqlstate="42601")
        if mods[0] < 1:
            raise DsqlError(f"length for type {short} must be at least 1", sqlstate="22023")
        if mods[0] > 10485760:
            raise DsqlError(f"length for type {short} cannot exceed 10485760",
                            sqlstate="22023")
        return mods[0] + VARHDRSZ
    if oid == T.NUMERIC and mods:
        precision, scale = mods[0], (mods[1] if len(mods) > 1 else 0)
        if len(mods) > 2:
            raise DsqlError("invalid NUMERIC type modifier", sqlstate="22023")
        if not 1 <= precision <= 1000:
            raise DsqlError(f"NUMERIC precision {precision} must be between 1 and 1000",
                            sqlstate="22023")
        if not -1000 <= scale <= 1000:
            raise DsqlError(f"NUMERIC scale {scale} must be between -1000 and 1000",
                            sqlstate="22023")
        return ((precision << 16) | (scale & 0xFFFF)) + VARHDRSZ
    if oid in _PRECISION_TYPES and mods:
        if len(mods) > 1 or mods[0] < 0:
            raise DsqlError(f"invalid type modifier for type {name}", sqlstate="22023")
        return min(mods[0], 6)
    if mods:
        raise DsqlError(f"type modifier is not allowed for type \"{name}\"",
                        sqlstate="42601")
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
        return S.cast(value, T.NUMERIC, numeric_typmod(typmod))
    if oid in _PRECISION_TYPES and typmod < 6:
        return _round_fraction(value, typmod)
    return value


def _round_fraction(value: dt.time | dt.datetime, digits: int) -> Any:
    """Round the fractional seconds to ``digits`` places (half away from zero)."""
    unit = 10 ** (6 - digits)
    micro = (value.microsecond + unit // 2) // unit * unit
    if isinstance(value, dt.time):
        full = dt.datetime.combine(dt.date(2000, 1, 1), value.replace(microsecond=0))
        return (full + dt.timedelta(microseconds=micro)).time()
    return value.replace(microsecond=0) + dt.timedelta(microseconds=micro)


def value_type(value: Any) -> int:
    """The SQL type a Python value has when it appears as a literal."""
    return S.value_oid(value)
