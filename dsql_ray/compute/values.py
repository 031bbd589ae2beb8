"""Casting values between SQL types with PostgreSQL's errors."""
from __future__ import annotations

import decimal
import math
from typing import Any

from ..errors import DsqlError
from . import types as T

_INT_RANGE = {T.INT2: (-2**15, 2**15 - 1, "smallint"), T.INT4: (-2**31, 2**31 - 1, "integer"),
              T.INT8: (-2**63, 2**63 - 1, "bigint")}
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
    if isinstance(value, bool):
        raise DsqlError("cannot cast type boolean to double precision", sqlstate="42846")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid_text(oid, str(value)) from None


def _numeric(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise DsqlError("cannot cast type boolean to numeric", sqlstate="42846")
    try:
        return decimal.Decimal(value.strip() if isinstance(value, str) else value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise invalid_text(T.NUMERIC, str(value)) from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cast(value: Any, oid: int) -> Any:
    """Convert ``value`` to the Python representation of SQL type ``oid``."""
    if value is None:
        return None
    if oid in _INT_RANGE:
        return _int(value, oid)
    if oid in (T.TEXT, T.VARCHAR, T.BPCHAR, T.UNKNOWN, T.JSON, T.JSONB):
        return _text(value)
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
            return bytes.fromhex(value[2:]) if value.startswith("\\x") else value.encode()
    raise DsqlError(f"type {T.OID_TO_NAME.get(oid, oid)} is not supported yet", sqlstate="0A000")


def value_type(value: Any) -> int:
    """The SQL type a Python value has when it appears as a literal."""
    if value is None:
        return T.UNKNOWN
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, int):
        return T.INT4 if -2**31 <= value < 2**31 else T.INT8
    if isinstance(value, float):
        return T.FLOAT8
    if isinstance(value, decimal.Decimal):
        return T.NUMERIC
    if isinstance(value, bytes):
        return T.BYTEA
    return T.TEXT
