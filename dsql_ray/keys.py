"""Order-preserving encoding of key tuples into bytes.

Rows and secondary-index entries share one ordered key space: a key is
``table_prefix(table_id, index_id) + encode_key(values)``, and comparing two
keys bytewise gives the same answer as comparing their tuples. A key range is
therefore a contiguous byte slice, and shards split by byte range.

Byte format. Every element is a one-byte type tag followed by a payload that
is self-delimiting, so ``encode_key(t[:k])`` is a byte prefix of
``encode_key(t)`` and every key whose tuple starts with ``p`` lies in
``[encode_key(p), prefix_end(encode_key(p)))``.

=========  ====  ===========================================================
type       tag   payload
=========  ====  ===========================================================
bool       0x10  0x00 / 0x01
int        0x20  8 bytes big-endian of ``v + 2**63`` (64-bit signed only)
float      0x21  8 bytes: IEEE bits, sign bit flipped if positive, all bits
                 flipped if negative; -0.0 is stored as 0.0, every NaN as
                 the one NaN above +inf
Decimal    0x22  class byte (-inf 0x00, < 0 0x01, 0 0x02, > 0 0x03, +inf
                 0x04, NaN 0x05); for nonzero finite values 0.DDD x 10**E:
                 4-byte biased E, then the digits D without trailing zeros as
                 ASCII ending in 0x00 if positive; if negative E and digits
                 are complemented (digit d -> '9' - d) and end in 0xff
str        0x30  UTF-8 with 0x00 escaped as 0x00 0xff, ending in 0x00
bytes      0x31  the same escaping as str
date       0x40  4 bytes: proleptic Gregorian ordinal
time       0x41  8 bytes: microseconds since midnight (naive times only)
datetime   0x42  naive: 8 bytes of microseconds since 1970-01-01, biased
                 like int
datetime   0x43  aware: the same, of the UTC instant (decodes as UTC)
timedelta  0x44  4 bytes ``days + 2**31``, 8 bytes of microseconds in the day
time+tz    0x46  8 bytes of the UTC time in microseconds, biased like int (PostgreSQL
                 compares timetz so), then 4 bytes of the offset in seconds ``+ 2**31``
Interval   0x44  its span (months as 30 days, days as 24 hours) as the timedelta of
                 that span: the bytes a stored timedelta had, ordered and equal as
                 PostgreSQL compares intervals ('1 mon' = '30 days'); decodes as
                 that timedelta (rows keep the Interval itself)
Interval   0x45  a span beyond ±2**31 days: 16 bytes of it ``+ 2**127``, then 4
                 bytes each of months and days ``+ 2**31``
UUID       0x50  the 16 bytes of the UUID
None       0xf0  (none); NULL sorts after every value (ASC NULLS LAST)
=========  ====  ===========================================================

Python ints and floats carry no SQL width, so smallint/integer/bigint values
share one encoding, as do real/double precision values. Decimals encode their
numeric value, not their scale: ``Decimal("1.50")`` decodes as
``Decimal("1.5")``. No tag is 0xff, so a string terminator 0x00 is never
followed by 0xff and decoding is unambiguous.
"""
from __future__ import annotations

import struct
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from .interval import USECS_PER_DAY, Interval

__all__ = ["encode_key", "decode_key", "prefix_end", "table_prefix", "row_key",
           "decode_row_key"]

_BOOL, _INT, _FLOAT, _DECIMAL = 0x10, 0x20, 0x21, 0x22
_STR, _BYTES = 0x30, 0x31
_DATE, _TIME, _TIMESTAMP, _TIMESTAMPTZ, _INTERVAL = 0x40, 0x41, 0x42, 0x43, 0x44
_SPAN, _TIMETZ = 0x45, 0x46
_UUID, _NULL = 0x50, 0xF0

# Decimal class bytes, in numeric order.
_NUM_NEG_INF, _NUM_NEG, _NUM_ZERO, _NUM_POS, _NUM_POS_INF, _NUM_NAN = range(6)

_BIAS64 = 1 << 63
_BIAS32 = 1 << 31
_U64_MASK = (1 << 64) - 1
_U32_MASK = (1 << 32) - 1

_TAG_U64 = struct.Struct(">BQ")
_TAG_U32 = struct.Struct(">BI")
_TAG_INTERVAL = struct.Struct(">BIQ")
_DEC_HEAD = struct.Struct(">BBI")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_DAYS_MICROS = struct.Struct(">IQ")
_DAYS_MONTHS = struct.Struct(">II")
_F64 = struct.Struct(">d")
_PREFIX = struct.Struct(">II")

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_US_PER_SECOND = 1_000_000

# Digit values 0..9 to ASCII, for positive and (complemented) negative decimals.
_POS_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")
_NEG_DIGITS = bytes.maketrans(bytes(range(10)), b"9876543210")
_UNNEGATE = bytes.maketrans(b"9876543210", b"0123456789")

_NULL_BYTES = bytes((_NULL,))
_FALSE_BYTES = bytes((_BOOL, 0))
_TRUE_BYTES = bytes((_BOOL, 1))
_STR_TAG = bytes((_STR,))
_BYTES_TAG = bytes((_BYTES,))
_UUID_TAG = bytes((_UUID,))


# --- encoders: value -> tagged bytes -----------------------------------------

def _biased64(tag: int, v: int) -> bytes:
    try:
        return _TAG_U64.pack(tag, v + _BIAS64)
    except struct.error:
        raise ValueError(f"key integer out of 64-bit range: {v}") from None


def _enc_int(v: int) -> bytes:
    return _biased64(_INT, v)


def _enc_bool(v: bool) -> bytes:
    return _TRUE_BYTES if v else _FALSE_BYTES


def _enc_float(v: float) -> bytes:
    if v != v:
        v = float("nan")  # one canonical (positive, quiet) NaN
    elif v == 0.0:
        v = 0.0  # -0.0 == 0.0
    bits = _U64.unpack(_F64.pack(v))[0]
    bits = bits ^ _U64_MASK if bits >> 63 else bits | _BIAS64
    return _TAG_U64.pack(_FLOAT, bits)


def _enc_decimal(v: Decimal) -> bytes:
    if v.is_nan():
        return bytes((_DECIMAL, _NUM_NAN))
    if v.is_infinite():
        return bytes((_DECIMAL, _NUM_NEG_INF if v.is_signed() else _NUM_POS_INF))
    if not v:
        return bytes((_DECIMAL, _NUM_ZERO))
    sign, digits, _ = v.as_tuple()
    exponent = v.adjusted() + 1 + _BIAS32  # value = 0.digits * 10**(adjusted+1)
    if not 0 <= exponent <= _U32_MASK:
        raise ValueError(f"key decimal exponent out of range: {v}")
    if sign:
        return (_DEC_HEAD.pack(_DECIMAL, _NUM_NEG, _U32_MASK - exponent)
                + bytes(digits).translate(_NEG_DIGITS).rstrip(b"9") + b"\xff")
    return (_DEC_HEAD.pack(_DECIMAL, _NUM_POS, exponent)
            + bytes(digits).translate(_POS_DIGITS).rstrip(b"0") + b"\x00")


def _enc_str(v: str) -> bytes:
    return _STR_TAG + v.encode().replace(b"\x00", b"\x00\xff") + b"\x00"


def _enc_bytes(v: bytes) -> bytes:
    return _BYTES_TAG + bytes(v).replace(b"\x00", b"\x00\xff") + b"\x00"


def _enc_date(v: date) -> bytes:
    return _TAG_U32.pack(_DATE, v.toordinal())


def _enc_time(v: time) -> bytes:
    if v.tzinfo is not None:
        off = int(v.utcoffset().total_seconds())
        local = ((v.hour * 60 + v.minute) * 60 + v.second) * _US_PER_SECOND + v.microsecond
        return _biased64(_TIMETZ, local - off * _US_PER_SECOND) + _U32.pack(off + _BIAS32)
    seconds = (v.hour * 60 + v.minute) * 60 + v.second
    return _TAG_U64.pack(_TIME, seconds * _US_PER_SECOND + v.microsecond)


def _enc_datetime(v: datetime) -> bytes:
    if v.tzinfo is None:
        return _biased64(_TIMESTAMP, (v - _EPOCH) // _US)
    return _biased64(_TIMESTAMPTZ, (v - _EPOCH_UTC) // _US)


def _enc_timedelta(v: timedelta) -> bytes:
    # timedelta normalises to days (signed) + seconds and microseconds (>= 0).
    return _TAG_INTERVAL.pack(_INTERVAL, v.days + _BIAS32,
                              v.seconds * _US_PER_SECOND + v.microseconds)


def _enc_interval(v: Interval) -> bytes:
    days, micros = divmod(v.span(), USECS_PER_DAY)
    if -_BIAS32 <= days < _BIAS32:
        return _TAG_INTERVAL.pack(_INTERVAL, days + _BIAS32, micros)
    span = v.span() + (1 << 127)
    return bytes((_SPAN,)) + span.to_bytes(16, "big") + _DAYS_MONTHS.pack(
        v.months + _BIAS32, v.days + _BIAS32)


def _enc_uuid(v: uuid.UUID) -> bytes:
    return _UUID_TAG + v.bytes


def _enc_null(_: None) -> bytes:
    return _NULL_BYTES


# Checked in order for subclasses; bool before int, datetime before date.
_ENCODER_LIST = (
    (type(None), _enc_null), (bool, _enc_bool), (int, _enc_int), (float, _enc_float),
    (Decimal, _enc_decimal), (str, _enc_str), (bytes, _enc_bytes),
    (bytearray, _enc_bytes), (datetime, _enc_datetime), (date, _enc_date),
    (time, _enc_time), (timedelta, _enc_timedelta), (Interval, _enc_interval),
    (uuid.UUID, _enc_uuid),
)
_ENCODERS = dict(_ENCODER_LIST)  # exact-type fast path


def _encoder_for(v: object):
    for cls, encoder in _ENCODER_LIST:
        if isinstance(v, cls):
            return encoder
    raise TypeError(f"unsupported key type: {type(v).__name__}")


def encode_key(values: tuple) -> bytes:
    """Encode a tuple so that bytewise order equals tuple order (NULLs last)."""
    encoders = _ENCODERS
    return b"".join((encoders.get(type(v)) or _encoder_for(v))(v) for v in values)


# --- decoders: (data, position after the tag) -> (value, next position) -------

def _read_escaped(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\x00", pos)
    while end >= 0 and data[end + 1:end + 2] == b"\xff":
        end = data.find(b"\x00", end + 2)
    if end < 0:
        raise ValueError("unterminated string in key")
    return data[pos:end].replace(b"\x00\xff", b"\x00"), end + 1


def _dec_null(data: bytes, pos: int) -> tuple[None, int]:
    return None, pos


def _dec_bool(data: bytes, pos: int) -> tuple[bool, int]:
    return data[pos] != 0, pos + 1


def _dec_int(data: bytes, pos: int) -> tuple[int, int]:
    return _U64.unpack_from(data, pos)[0] - _BIAS64, pos + 8


def _dec_float(data: bytes, pos: int) -> tuple[float, int]:
    bits = _U64.unpack_from(data, pos)[0]
    bits = bits ^ _BIAS64 if bits >> 63 else bits ^ _U64_MASK
    return _F64.unpack(_U64.pack(bits))[0], pos + 8


_SPECIAL_DECIMALS = {_NUM_NEG_INF: Decimal("-Infinity"), _NUM_ZERO: Decimal(0),
                     _NUM_POS_INF: Decimal("Infinity"), _NUM_NAN: Decimal("NaN")}


def _dec_decimal(data: bytes, pos: int) -> tuple[Decimal, int]:
    kind = data[pos]
    if kind in _SPECIAL_DECIMALS:
        return _SPECIAL_DECIMALS[kind], pos + 1
    exponent = _U32.unpack_from(data, pos + 1)[0]
    start = pos + 5
    if kind == _NUM_POS:
        end = data.index(b"\x00", start)
        digits, sign = data[start:end], ""
    elif kind == _NUM_NEG:
        end = data.index(b"\xff", start)
        digits, sign = data[start:end].translate(_UNNEGATE), "-"
        exponent = _U32_MASK - exponent
    else:
        raise ValueError(f"bad decimal class byte in key: {kind:#x}")
    return Decimal(f"{sign}0.{digits.decode('ascii')}E{exponent - _BIAS32}"), end + 1


def _dec_str(data: bytes, pos: int) -> tuple[str, int]:
    raw, pos = _read_escaped(data, pos)
    return raw.decode(), pos


def _dec_date(data: bytes, pos: int) -> tuple[date, int]:
    return date.fromordinal(_U32.unpack_from(data, pos)[0]), pos + 4


def _dec_time(data: bytes, pos: int) -> tuple[time, int]:
    seconds, micros = divmod(_U64.unpack_from(data, pos)[0], _US_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micros), pos + 8


def _dec_timestamp(data: bytes, pos: int) -> tuple[datetime, int]:
    return _EPOCH + _US * (_U64.unpack_from(data, pos)[0] - _BIAS64), pos + 8


def _dec_timestamptz(data: bytes, pos: int) -> tuple[datetime, int]:
    return _EPOCH_UTC + _US * (_U64.unpack_from(data, pos)[0] - _BIAS64), pos + 8


def _dec_timedelta(data: bytes, pos: int) -> tuple[timedelta, int]:
    days, micros = _DAYS_MICROS.unpack_from(data, pos)
    return timedelta(days=days - _BIAS32, microseconds=micros), pos + 12


def _dec_timetz(data: bytes, pos: int) -> tuple[time, int]:
    utc = _U64.unpack_from(data, pos)[0] - _BIAS64
    off = _U32.unpack_from(data, pos + 8)[0] - _BIAS32
    local, _ = _dec_time(_U64.pack(utc + off * _US_PER_SECOND), 0)
    return local.replace(tzinfo=timezone(timedelta(seconds=off))), pos + 12


def _dec_interval(data: bytes, pos: int) -> tuple[Interval, int]:
    span = int.from_bytes(data[pos:pos + 16], "big") - (1 << 127)
    months, days = _DAYS_MONTHS.unpack_from(data, pos + 16)
    months, days = months - _BIAS32, days - _BIAS32
    return Interval(months, days, span - (months * 30 + days) * USECS_PER_DAY), pos + 24


def _dec_uuid(data: bytes, pos: int) -> tuple[uuid.UUID, int]:
    if len(data) < pos + 16:
        raise ValueError("truncated uuid in key")
    return uuid.UUID(bytes=bytes(data[pos:pos + 16])), pos + 16


_DECODERS = {
    _NULL: _dec_null, _BOOL: _dec_bool, _INT: _dec_int, _FLOAT: _dec_float,
    _DECIMAL: _dec_decimal, _STR: _dec_str, _BYTES: _read_escaped, _DATE: _dec_date,
    _TIME: _dec_time, _TIMESTAMP: _dec_timestamp, _TIMESTAMPTZ: _dec_timestamptz,
    _INTERVAL: _dec_timedelta, _SPAN: _dec_interval, _TIMETZ: _dec_timetz, _UUID: _dec_uuid,
}


def _decode(data: bytes, pos: int) -> tuple:
    values = []
    try:
        while pos < len(data):
            decoder = _DECODERS.get(data[pos])
            if decoder is None:
                raise ValueError(f"unknown key type tag {data[pos]:#x} at byte {pos}")
            value, pos = decoder(data, pos + 1)
            values.append(value)
    except (struct.error, IndexError, UnicodeDecodeError, ArithmeticError) as exc:
        raise ValueError(f"malformed key: {exc}") from None
    return tuple(values)


def decode_key(data: bytes) -> tuple:
    """Inverse of :func:`encode_key` (up to Decimal scale and the UTC zone)."""
    return _decode(data, 0)


# --- key space ------------------------------------------------------------------

def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix.

    None if there is none (prefix is empty or all 0xff)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))


def table_prefix(table_id: int, index_id: int = 0) -> bytes:
    """Prefix of every key of one index (0 = the primary index) of one table.

    8 bytes, two unsigned 32-bit big-endian integers, so prefixes sort by
    (table_id, index_id)."""
    try:
        return _PREFIX.pack(table_id, index_id)
    except struct.error:
        raise ValueError(f"table/index id out of range: {table_id}, {index_id}") from None


def row_key(table_id: int, pk: tuple, index_id: int = 0) -> bytes:
    """The key of a row (index_id 0) or secondary-index entry."""
    return table_prefix(table_id, index_id) + encode_key(pk)


def decode_row_key(key: bytes) -> tuple[int, int, tuple]:
    """Split a :func:`row_key` into (table_id, index_id, key tuple)."""
    if len(key) < _PREFIX.size:
        raise ValueError("key shorter than a table prefix")
    table_id, index_id = _PREFIX.unpack_from(key)
    return table_id, index_id, _decode(key, _PREFIX.size)
