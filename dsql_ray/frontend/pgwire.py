"""PostgreSQL v3 wire protocol codec: no I/O, only bytes in and bytes out.

* Frontend messages: the startup packet (StartupMessage, SSLRequest, GSSENCRequest,
  CancelRequest) and the typed messages a session serves (``parse_*`` below take the
  message *body*, i.e. what follows the type byte and the Int32 length).
* Backend messages: builders returning complete frames (type byte, length, payload).
* Values: encoding of Python values to the text or binary format of a type OID, and
  decoding of Bind parameters.

Message formats: https://www.postgresql.org/docs/current/protocol-message-formats.html

Python value conventions: bool, int, float, Decimal (numeric), str (text types and json,
holding the JSON text), bytes (bytea), UUID, date, time, datetime (timestamp naive,
timestamptz aware, sent in UTC), Interval (interval; an older timedelta too). Text
output matches PostgreSQL's
with ``DateStyle=ISO``, ``IntervalStyle=postgres``, ``TimeZone=UTC``,
``extra_float_digits=1`` (the PostgreSQL 12+ default: shortest exact float output).
"""
from __future__ import annotations

import functools
import ipaddress
import math
import re
import struct
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from ..errors import DsqlError, ProtocolError
from ..interval import Interval, as_interval, interval_text, parse_interval
from ..limits import MiB
from .backend import Column
from .types import (BOOL, BPCHAR, BYTEA, DATE, FLOAT4, FLOAT8, INT2, INT4, INT8, INTERVAL, JSON,
                    JSONB, NUMERIC, OID, OID_TO_NAME, TEXT, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ,
                    INET, CIDR,
                    TYPE_SIZE, UNKNOWN, UUID, VARCHAR, array_items, bytea_input)

MAX_MESSAGE_LEN = 64 * MiB        # default bound on one frontend message
MAX_STARTUP_LEN = 10_000          # bound on the startup packet (as PostgreSQL)
MAX_AUTH_LEN = 65_535             # bound on a PasswordMessage (PG_MAX_AUTH_TOKEN_LENGTH)

PROTOCOL_3_0 = 3 << 16            # 196608
SSL_REQUEST_CODE = 80877103       # 1234 << 16 | 5679
GSSENC_REQUEST_CODE = 80877104    # 1234 << 16 | 5680
CANCEL_REQUEST_CODE = 80877102    # 1234 << 16 | 5678
TLS_HANDSHAKE_BYTE = 0x16         # first byte of a TLS record: direct TLS (PostgreSQL 17+)

TEXT_FORMAT, BINARY_FORMAT = 0, 1

_I16 = struct.Struct("!h")
_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_I64 = struct.Struct("!q")
_F32 = struct.Struct("!f")
_F64 = struct.Struct("!d")
_U32_PAIR = struct.Struct("!II")
_FIELD = struct.Struct("!IhIhih")      # RowDescription field after its name
_INTERVAL = struct.Struct("!qii")      # microseconds, days, months
_TIMETZ = struct.Struct("!qi")         # microseconds, zone (seconds west of UTC)
_NUMERIC_HEAD = struct.Struct("!HhHH")  # ndigits, weight, sign, dscale
_array_struct = functools.lru_cache(maxsize=256)(struct.Struct)   # "!{n}h" and the like


# ---------------------------------------------------------------------------------------
# Frontend messages

@dataclass(frozen=True, slots=True)
class StartupMessage:
    """StartupMessage: Int32 protocol version, then name/value C-string pairs, then \\0."""
    major: int
    minor: int
    params: dict[str, str]

    @property
    def user(self) -> str | None:
        return self.params.get("user")

    @property
    def database(self) -> str | None:
        return self.params.get("database") or self.user

    @property
    def protocol_options(self) -> list[str]:
        """``_pq_.*`` options: protocol extensions we must report as unrecognized."""
        return [name for name in self.params if name.startswith("_pq_.")]

    @property
    def settings(self) -> dict[str, str]:
        """Run-time settings requested: the extra parameters plus ``options`` switches."""
        settings = {name: value for name, value in self.params.items()
                    if name not in ("user", "database", "options")
                    and not name.startswith("_pq_.")}
        settings.update(parse_options(self.params.get("options", "")))
        return settings


@dataclass(frozen=True, slots=True)
class SSLRequest:
    pass


@dataclass(frozen=True, slots=True)
class GSSENCRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pid: int
    secret: int


@dataclass(frozen=True, slots=True)
class Parse:
    name: str
    query: str
    param_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: list[bytes | None] = field(repr=False)
    result_formats: tuple[int, ...]


class _Body:
    """Cursor over a message body; running past the end is a ProtocolError."""
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolError("invalid string in message")
        raw, self.pos = self.data[self.pos:end], end + 1
        return _utf8(raw)

    def unpack(self, st: struct.Struct) -> tuple:
        try:
            values = st.unpack_from(self.data, self.pos)
        except struct.error:
            raise ProtocolError("insufficient data left in message") from None
        self.pos += st.size
        return values

    def int16s(self, count: int) -> tuple[int, ...]:
        return self.unpack(_array_struct(f"!{count}h")) if count else ()

    def count_and_int16s(self) -> tuple[int, ...]:
        """Int16 n, then Int16[n] (format codes)."""
        data, pos = self.data, self.pos
        try:
            (count,) = _U16.unpack_from(data, pos)
            codes = _array_struct(f"!{count}h").unpack_from(data, pos + 2) if count else ()
        except struct.error:
            raise ProtocolError("insufficient data left in message") from None
        self.pos = pos + 2 + 2 * count
        return codes

    def uint32s(self, count: int) -> tuple[int, ...]:
        return self.unpack(_array_struct(f"!{count}I"))

    def value(self) -> bytes | None:
        """A length-prefixed value (Int32 length, -1 for NULL, then the bytes)."""
        return self.values(1)[0]

    def values(self, count: int) -> list[bytes | None]:
        """``count`` length-prefixed values (Int32 length, -1 for NULL, then the bytes)."""
        data, pos, size, out = self.data, self.pos, len(self.data), []
        for _ in range(count):
            if pos + 4 > size:
                raise ProtocolError("insufficient data left in message")
            (length,) = _I32.unpack_from(data, pos)
            pos += 4
            if length == -1:
                out.append(None)
                continue
            end = pos + length
            if length < 0 or end > size:
                raise ProtocolError("insufficient data left in message")
            out.append(data[pos:end])
            pos = end
        self.pos = pos
        return out

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError("invalid message format")


def parse_startup_packet(packet: bytes) -> StartupMessage | SSLRequest | GSSENCRequest \
        | CancelRequest:
    """Parse a startup packet given without its leading Int32 length."""
    body = _Body(packet)
    (code,) = body.unpack(_U32)
    if code == SSL_REQUEST_CODE:
        body.finish()
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        body.finish()
        return GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        pid, secret = body.unpack(_U32_PAIR)
        body.finish()
        return CancelRequest(pid, secret)
    major, minor = code >> 16, code & 0xFFFF
    if major != 3:
        raise ProtocolError(f"unsupported frontend protocol {major}.{minor}: server "
                            "supports 3.0 to 3.0", sqlstate="0A000")
    params: dict[str, str] = {}
    while (name := body.cstr()):
        params[name] = body.cstr()
    body.finish()
    return StartupMessage(major, minor, params)


def parse_options(options: str) -> dict[str, str]:
    """The ``options`` startup parameter: ``-c name=value`` / ``--name=value`` switches,
    separated by whitespace; a backslash makes the next character literal."""
    words = [re.sub(r"\\(.)", r"\1", w) for w in re.findall(r"(?:\\.|\S)+", options)]
    settings: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            i += 1
            word = words[i]
        elif word.startswith("-c"):
            word = word[2:]
        elif word.startswith("--"):
            word = word[2:]
        else:
            raise ProtocolError(f"invalid command-line argument for server process: {word}",
                                sqlstate="42601")
        name, eq, value = word.partition("=")
        if not eq or not name:
            raise ProtocolError(f"invalid command-line argument for server process: {word}",
                                sqlstate="42601")
        settings[name.replace("-", "_")] = value
        i += 1
    return settings


def parse_query(body: bytes) -> str:
    """Query ('Q'): String query."""
    b = _Body(body)
    sql = b.cstr()
    b.finish()
    return sql


def parse_password(body: bytes) -> str:
    """PasswordMessage ('p'): String password."""
    return parse_query(body)


def parse_parse(body: bytes) -> Parse:
    """Parse ('P'): String name, String query, Int16 n, Int32[n] parameter type OIDs."""
    b = _Body(body)
    name, query = b.cstr(), b.cstr()
    (count,) = b.unpack(_U16)
    oids = b.uint32s(count)
    b.finish()
    return Parse(name, query, oids)


def parse_bind(body: bytes) -> Bind:
    """Bind ('B'): String portal, String statement, Int16 n, Int16[n] parameter format
    codes, Int16 m, m × (Int32 length (-1 = NULL), Byte[length]), Int16 r, Int16[r]
    result format codes."""
    b = _Body(body)
    portal, statement = b.cstr(), b.cstr()
    param_formats = b.count_and_int16s()
    (count,) = b.unpack(_U16)
    params = b.values(count)
    result_formats = b.count_and_int16s()
    b.finish()
    return Bind(portal, statement, param_formats, params, result_formats)


def parse_describe(body: bytes) -> tuple[str, str]:
    """Describe ('D') and Close ('C'): Byte1 'S' (statement) or 'P' (portal), String
    name. Returns (kind, name)."""
    if not body or body[0] not in b"SP":
        raise ProtocolError(f"invalid DESCRIBE/CLOSE message subtype {body[:1].hex()}")
    b = _Body(body)
    b.pos = 1
    name = b.cstr()
    b.finish()
    return chr(body[0]), name


parse_close = parse_describe


def parse_execute(body: bytes) -> tuple[str, int]:
    """Execute ('E'): String portal, Int32 maximum rows (0 = no limit)."""
    b = _Body(body)
    portal = b.cstr()
    (max_rows,) = b.unpack(_I32)
    b.finish()
    return portal, max_rows


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DsqlError('invalid byte sequence for encoding "UTF8"',
                        sqlstate="22021") from None


# ---------------------------------------------------------------------------------------
# Backend messages

def _frame(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + _I32.pack(len(payload) + 4) + payload


def _cstr(text: str) -> bytes:
    return text.replace("\0", "").encode("utf-8", "replace") + b"\0"


AUTHENTICATION_OK = _frame(b"R", _I32.pack(0))
AUTHENTICATION_CLEARTEXT_PASSWORD = _frame(b"R", _I32.pack(3))
EMPTY_QUERY_RESPONSE = _frame(b"I")
PARSE_COMPLETE = _frame(b"1")
BIND_COMPLETE = _frame(b"2")
CLOSE_COMPLETE = _frame(b"3")
NO_DATA = _frame(b"n")
PORTAL_SUSPENDED = _frame(b"s")
_READY_FOR_QUERY = {status: _frame(b"Z", status.encode()) for status in "ITE"}


def ready_for_query(txn_status: str) -> bytes:
    """ReadyForQuery ('Z'): 'I' idle, 'T' in a transaction, 'E' in a failed one."""
    return _READY_FOR_QUERY[txn_status]


def parameter_status(name: str, value: str) -> bytes:
    return _frame(b"S", _cstr(name) + _cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return _frame(b"K", _U32_PAIR.pack(pid, secret))


def negotiate_protocol_version(newest_version: int, unrecognized: Sequence[str]) -> bytes:
    """NegotiateProtocolVersion ('v'): Int32 newest protocol version supported (the
    documentation says "minor version", but PostgreSQL sends major << 16 | minor and
    libpq requires it), Int32 n, n × String unrecognized ``_pq_.`` option."""
    payload = _U32_PAIR.pack(newest_version, len(unrecognized))
    return _frame(b"v", payload + b"".join(_cstr(name) for name in unrecognized))


def command_complete(tag: str) -> bytes:
    return _frame(b"C", _cstr(tag))


def parameter_description(type_oids: Sequence[int]) -> bytes:
    return _frame(b"t", _U16.pack(len(type_oids)) + b"".join(map(_U32.pack, type_oids)))


def row_description(columns: Sequence[Column],
                    formats: Sequence[int] | None = None) -> bytes:
    """RowDescription ('T'): Int16 n, then per field: String name, Int32 table OID,
    Int16 column number, Int32 type OID, Int16 type size, Int32 type modifier,
    Int16 format code (default: all text)."""
    formats = formats or (TEXT_FORMAT,) * len(columns)
    parts = [_U16.pack(len(columns))]
    for col, fmt in zip(columns, formats):
        size = col.type_size if col.type_size != -1 else TYPE_SIZE.get(col.type_oid, -1)
        parts.append(_cstr(col.name))
        parts.append(_FIELD.pack(0, 0, col.type_oid, size, col.type_modifier, fmt))
    return _frame(b"T", b"".join(parts))


def error_response(error: DsqlError, *, severity: str | None = None) -> bytes:
    """ErrorResponse ('E') with fields S/V severity, C SQLSTATE, M message, D detail,
    H hint, and W context when the error carries one (COPY's ``COPY t, line 3``)."""
    fields = _notice_fields(severity or error.severity, error.sqlstate, error.message,
                            error.detail, error.hint)
    context = getattr(error, "context", None)
    if context:
        fields = fields[:-1] + b"W" + _cstr(context) + b"\0"
    return _frame(b"E", fields)


def notice_response(message: str, *, severity: str = "NOTICE", sqlstate: str = "00000",
                    detail: str | None = None, hint: str | None = None) -> bytes:
    """NoticeResponse ('N'): the same fields as ErrorResponse."""
    return _frame(b"N", _notice_fields(severity, sqlstate, message, detail, hint))


def _notice_fields(severity: str, sqlstate: str, message: str, detail: str | None,
                   hint: str | None) -> bytes:
    parts = [b"S", _cstr(severity), b"V", _cstr(severity), b"C", _cstr(sqlstate),
             b"M", _cstr(message)]
    if detail:
        parts += [b"D", _cstr(detail)]
    if hint:
        parts += [b"H", _cstr(hint)]
    parts.append(b"\0")
    return b"".join(parts)


_NULL = _I32.pack(-1)


def append_data_rows(out: bytearray, rows: Iterable[Sequence[Any]],
                     encoders: Sequence[Callable[[Any], bytes]]) -> None:
    """Append one DataRow ('D': Int16 n, n × (Int32 length or -1 for NULL, bytes)) per
    row to ``out``; ``encoders`` come from :func:`column_encoders`. A row of the wrong
    width is a ValueError (``out`` then ends in a partial row: the caller truncates)."""
    width = len(encoders)
    head = b"D\0\0\0\0" + _U16.pack(width)
    pack_len, pack_len_into = _I32.pack, _I32.pack_into
    for row in rows:
        if len(row) != width:
            raise ValueError(f"result row has {len(row)} values for {width} columns")
        start = len(out)
        out += head
        for value, encode in zip(row, encoders):
            if value is None:
                out += _NULL
            else:
                raw = encode(value)
                out += pack_len(len(raw))
                out += raw
        pack_len_into(out, start + 1, len(out) - start - 1)


# ---------------------------------------------------------------------------------------
# Value encoding (results)

_PG_EPOCH_DATE = date(2000, 1, 1)
_PG_EPOCH_ORDINAL = _PG_EPOCH_DATE.toordinal()
_PG_EPOCH = datetime(2000, 1, 1)
_PG_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=timezone.utc)
_USEC = timedelta(microseconds=1)


def _shortest_float_text(shortest: str, fixed_below_exp: int) -> bytes:
    """Lay out shortest round-trip digits as PostgreSQL 12+ does (Ryu, src/common/d2s.c
    and f2s.c): fixed notation when the decimal exponent is in [-4, fixed_below_exp),
    else ``d.ddde±XX``. ``shortest`` is such digits in any Python float notation."""
    sign = "-" if shortest[0] == "-" else ""
    mantissa, _, exp = shortest.lstrip("-").partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    exp10 = len(whole) - 1 + int(exp or 0) - (len(whole + frac) - len(digits))
    digits = digits.rstrip("0") or "0"
    if -4 <= exp10 < fixed_below_exp:
        if exp10 < 0:
            text = "0." + "0" * (-exp10 - 1) + digits
        else:
            text = digits[:exp10 + 1].ljust(exp10 + 1, "0")
            if len(digits) > exp10 + 1:
                text += "." + digits[exp10 + 1:]
    else:
        text = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text += f"e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return (sign + text).encode()


def _float_special(v: float) -> bytes | None:
    if v != v:
        return b"NaN"
    if v in (math.inf, -math.inf):
        return b"Infinity" if v > 0 else b"-Infinity"
    if v == 0:
        return b"-0" if math.copysign(1.0, v) < 0 else b"0"
    return None


def _float8_text(v: float) -> bytes:
    special = _float_special(v)
    if special is not None:
        return special
    text = repr(float(v))
    if "e" not in text and -1e15 < v < 1e15:     # the common case: repr already fits
        return (text[:-2] if text.endswith(".0") else text).encode()
    return _shortest_float_text(text, 15)


def _float4_text(v: float) -> bytes:
    (single,) = _F32.unpack(_F32.pack(v))
    special = _float_special(single)
    if special is not None:
        return special
    for precision in range(9):          # shortest digits that round-trip through float4
        text = "%.*e" % (precision, single)
        if _F32.unpack(_F32.pack(float(text)))[0] == single:
            break
    return _shortest_float_text(text, 6)


def _numeric_text(v: Decimal) -> bytes:
    if v.is_nan():
        return b"NaN"
    if v.is_infinite():
        return b"-Infinity" if v < 0 else b"Infinity"
    if not v and v.is_signed():     # PostgreSQL has no negative zero
        v = v.copy_abs()
    return format(v, "f").encode()


def _fraction(usecs: int) -> str:
    """Fractional seconds as PostgreSQL prints them: no trailing zeros, nothing for 0."""
    return ("." + f"{usecs:06d}".rstrip("0")) if usecs else ""


def _time_text(v: time) -> bytes:
    return f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}{_fraction(v.microsecond)}".encode()


def zone_text(off: timedelta | None) -> bytes:
    """A UTC offset as PostgreSQL prints it: +02, -03:30, +05:45:10."""
    secs = int((off or timedelta(0)).total_seconds())
    h, rem = divmod(abs(secs), 3600)
    m, s = divmod(rem, 60)
    text = f"{'+' if secs >= 0 else '-'}{h:02d}" + (f":{m:02d}" if m or s else "") + \
        (f":{s:02d}" if s else "")
    return text.encode()


def net_text(v) -> str:
    """inet and cidr output: an inet host address without its /32 (/128), a cidr always
    with its length."""
    if isinstance(v, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return str(v.ip) if v.network.prefixlen == v.max_prefixlen else str(v)
    return str(v)


def _net_binary(v) -> bytes:
    """inet_send / cidr_send: family (2 IPv4, 3 IPv6), bits, is_cidr, length, address."""
    iface = isinstance(v, (ipaddress.IPv4Interface, ipaddress.IPv6Interface))
    addr = v.ip if iface else v.network_address
    bits = v.network.prefixlen if iface else v.prefixlen
    packed = addr.packed
    return bytes((2 if v.version == 4 else 3, bits, 0 if iface else 1, len(packed))) + packed


def _net_from_binary(raw: bytes):
    family, bits, is_cidr, length = raw[:4]
    addr = ipaddress.ip_address(raw[4:4 + length])
    if family not in (2, 3) or len(raw) != 4 + length:
        raise ValueError("invalid inet value")
    if is_cidr:
        return ipaddress.ip_network(f"{addr}/{bits}")
    return ipaddress.ip_interface(f"{addr}/{bits}")


def _timetz_text(v: time) -> bytes:
    return _time_text(v) + zone_text(v.utcoffset())


def _timetz_binary(v: time) -> bytes:
    """timetz_send: Int64 microseconds of the local time, Int32 zone (seconds WEST)."""
    usecs = ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
    return _TIMETZ.pack(usecs, -int((v.utcoffset() or timedelta(0)).total_seconds()))


def _timetz_from_binary(raw: bytes) -> time:
    usecs, zone = _TIMETZ.unpack(raw)
    return _time_from_usecs(usecs).replace(tzinfo=timezone(timedelta(seconds=-zone)))


def _timestamp_text(v: datetime) -> bytes:
    if v.tzinfo is not None:
        v = v.replace(tzinfo=None)
    text = v.isoformat(" ")
    return (text.rstrip("0") if v.microsecond else text).encode()


def _as_utc(v: datetime) -> datetime:
    """timestamptz values are sent in UTC; a naive value is taken to be UTC already."""
    if v.tzinfo is None or v.tzinfo is timezone.utc:
        return v
    return v.astimezone(timezone.utc)


def _timestamptz_text(v: datetime) -> bytes:
    return _timestamp_text(_as_utc(v)) + b"+00"


def _interval_text(v) -> bytes:
    """IntervalStyle ``postgres`` (EncodeInterval in datetime.c): '1 year 3 days 04:05:06.5'."""
    return interval_text(v).encode()


def _interval_binary(v) -> bytes:
    """interval_send: Int64 microseconds, Int32 days, Int32 months."""
    v = as_interval(v)
    return _INTERVAL.pack(v.micros, v.days, v.months)


def _numeric_binary(v: Decimal) -> bytes:
    """numeric_send: Int16 ndigits, Int16 weight (of the first base-10000 digit),
    UInt16 sign (0 +, 0x4000 -, 0xC000 NaN, 0xD000 +Inf, 0xF000 -Inf), Int16 dscale,
    Int16[ndigits] base-10000 digits."""
    if v.is_nan():
        return _NUMERIC_HEAD.pack(0, 0, 0xC000, 0)
    if v.is_infinite():
        return _NUMERIC_HEAD.pack(0, 0, 0xF000 if v < 0 else 0xD000, 0)
    sign, digit_tuple, exp = v.as_tuple()
    dscale = max(0, -exp)
    digits = "".join(map(str, digit_tuple)) + "0" * max(0, exp)
    frac_len = dscale + (-dscale) % 4                # fraction padded to whole groups
    digits += "0" * (frac_len - dscale)
    digits = "0" * (-len(digits) % 4) + digits       # integer part padded likewise
    groups = [int(digits[i:i + 4]) for i in range(0, len(digits), 4)]
    weight = (len(digits) - frac_len) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        return _NUMERIC_HEAD.pack(0, 0, 0, dscale)
    return (_NUMERIC_HEAD.pack(len(groups), weight, 0x4000 if sign else 0, dscale)
            + _array_struct(f"!{len(groups)}H").pack(*groups))


def _utf8_bytes(v: str) -> bytes:
    return v.encode("utf-8")


_TEXT_TYPES = (TEXT, VARCHAR, BPCHAR, JSON, JSONB, UNKNOWN)

_TEXT_ENCODERS: dict[int, Callable[[Any], bytes]] = {
    BOOL: lambda v: b"t" if v else b"f",
    INT2: lambda v: b"%d" % v, INT4: lambda v: b"%d" % v, INT8: lambda v: b"%d" % v,
    OID: lambda v: b"%d" % v,
    FLOAT4: _float4_text, FLOAT8: _float8_text, NUMERIC: _numeric_text,
    BYTEA: lambda v: b"\\x" + bytes(v).hex().encode(),
    UUID: lambda v: str(v).encode(),
    DATE: lambda v: v.isoformat().encode(),
    TIME: _time_text, TIMESTAMP: _timestamp_text, TIMESTAMPTZ: _timestamptz_text,
    TIMETZ: _timetz_text, INET: lambda v: net_text(v).encode(),
    CIDR: lambda v: net_text(v).encode(),
    INTERVAL: _interval_text,
    **{oid: _utf8_bytes for oid in _TEXT_TYPES},
}

def _fallback_text(v: Any) -> bytes:
    if isinstance(v, tuple):
        return record_text(v)
    return str(v).encode("utf-8")


_VALUE_TEXT: tuple[tuple[type, Callable[[Any], bytes]], ...] = (
    (bool, lambda v: b"t" if v else b"f"), (int, lambda v: b"%d" % v),
    (float, _float8_text), (Decimal, _numeric_text), (str, _utf8_bytes),
    (bytes, lambda v: b"\\x" + v.hex().encode()), (datetime, lambda v: _timestamp_text(v)
                                                    if v.tzinfo is None else
                                                    _timestamptz_text(v)),
    (date, lambda v: v.isoformat().encode()),
    (time, lambda v: _time_text(v) if v.tzinfo is None else _timetz_text(v)),
    (Interval, _interval_text), (timedelta, _interval_text),
)
_RECORD_SPECIAL = frozenset('",\\() \t\n\r\v\f')


def _value_text(v: Any) -> bytes:
    """A value's text output, by its Python type (the fields of an anonymous record)."""
    for cls, encode in _VALUE_TEXT:
        if isinstance(v, cls):
            return encode(v)
    if isinstance(v, list):
        return _array_text(TEXT)([None if x is None else _value_text(x).decode()
                                  for x in v])
    return _fallback_text(v)


def _composite_text(values, encode: Callable[[Any], bytes], null: bytes, special: frozenset,
                    quote: bytes) -> list[bytes]:
    """The items of an array or record: NULL as ``null``; empty, NULL-like or special
    items in double quotes with backslashes doubled and each double quote as ``quote``
    (``\\"`` in arrays, ``""`` in records)."""
    parts = []
    for v in values:
        if v is None:
            parts.append(null)
            continue
        item = encode(v)
        text = item.decode("utf-8")
        if not text or (null and text.upper() == "NULL") or any(c in special for c in text):
            item = b'"' + item.replace(b"\\", b"\\\\").replace(b'"', quote) + b'"'
        parts.append(item)
    return parts


def record_text(values: tuple) -> bytes:
    """record_out: ``(1,a,,"x y")``: NULL fields empty, fields with specials quoted."""
    return b"(" + b",".join(_composite_text(values, _value_text, b"", _RECORD_SPECIAL,
                                            b'""')) + b")"


#: one-dimensional array types: array OID → element OID
ARRAY_ELEMENT = {1000: BOOL, 1005: INT2, 1007: INT4, 1016: INT8, 1028: OID, 1009: TEXT,
                 1015: VARCHAR, 1014: BPCHAR, 1021: FLOAT4, 1022: FLOAT8, 1231: NUMERIC,
                 1182: DATE, 1115: TIMESTAMP, 1185: TIMESTAMPTZ, 1001: BYTEA, 1183: TIME,
                 1187: INTERVAL, 2951: UUID, 199: JSON, 3807: JSONB, 1270: TIMETZ}
_ARRAY_SPECIAL = frozenset('{}",\\ \t\n\r\v\f')


def _array_text(element_oid: int) -> Callable[[Any], bytes]:
    """array_out: ``{a,b,NULL}``, quoting elements that are empty, NULL-like or special."""
    encode = _TEXT_ENCODERS.get(element_oid, _fallback_text)

    def out(values) -> bytes:
        return b"{" + b",".join(_composite_text(values, encode, b"NULL", _ARRAY_SPECIAL,
                                                b'\\"')) + b"}"
    return out


_TEXT_ENCODERS.update({oid: _array_text(elem) for oid, elem in ARRAY_ELEMENT.items()})
#: int2vector and oidvector (pg_index.indkey, indclass): ``1 2``, space-separated
INT2VECTOR, OIDVECTOR = 22, 30
_TEXT_ENCODERS.update({oid: (lambda v: b" ".join(b"%d" % x for x in v))
                       for oid in (INT2VECTOR, OIDVECTOR)})

_BINARY_ENCODERS: dict[int, Callable[[Any], bytes]] = {
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: _I16.pack, INT4: _I32.pack, INT8: _I64.pack, OID: _U32.pack,
    FLOAT4: _F32.pack, FLOAT8: _F64.pack, NUMERIC: _numeric_binary,
    BYTEA: bytes,
    UUID: lambda v: v.bytes,
    DATE: lambda v: _I32.pack(v.toordinal() - _PG_EPOCH_ORDINAL),
    TIME: lambda v: _I64.pack(((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000
                              + v.microsecond),
    TIMESTAMP: lambda v: _I64.pack((v.replace(tzinfo=None) - _PG_EPOCH) // _USEC),
    TIMESTAMPTZ: lambda v: _I64.pack((_as_utc(v).replace(tzinfo=None) - _PG_EPOCH)
                                     // _USEC),
    INTERVAL: _interval_binary, TIMETZ: _timetz_binary, INET: _net_binary, CIDR: _net_binary,
    JSONB: lambda v: b"\x01" + v.encode("utf-8"),   # jsonb_send: version 1, then text
    **{oid: _utf8_bytes for oid in (TEXT, VARCHAR, BPCHAR, JSON, UNKNOWN)},
}


_ARRAY_HEAD = struct.Struct("!iiI")       # ndim, has-null flag, element type OID
_ARRAY_DIM = struct.Struct("!ii")         # size, lower bound


def _array_binary(element_oid: int) -> Callable[[Any], bytes]:
    """array_send of a one-dimensional array (lower bound 1; none at all when empty)."""
    encode = _BINARY_ENCODERS.get(element_oid, _fallback_text)

    def out(values) -> bytes:
        if not values:
            return _ARRAY_HEAD.pack(0, 0, element_oid)
        parts = [_ARRAY_HEAD.pack(1, any(v is None for v in values), element_oid),
                 _ARRAY_DIM.pack(len(values), 1)]
        for v in values:
            if v is None:
                parts.append(_NULL)
            else:
                raw = encode(v)
                parts += (_I32.pack(len(raw)), raw)
        return b"".join(parts)
    return out


_BINARY_ENCODERS.update({oid: _array_binary(elem) for oid, elem in ARRAY_ELEMENT.items()})

RECORD = 2249
_VALUE_OIDS: tuple[tuple[type, int], ...] = (
    (bool, BOOL), (float, FLOAT8), (Decimal, NUMERIC), (str, TEXT), (bytes, BYTEA),
    (date, DATE), (Interval, INTERVAL), (timedelta, INTERVAL), (uuid.UUID, UUID))


def _field_oid(v: Any) -> int:
    """The type a record field is sent as, from its Python value."""
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT4 if -2**31 <= v < 2**31 else INT8
    if isinstance(v, datetime):
        return TIMESTAMP if v.tzinfo is None else TIMESTAMPTZ
    if isinstance(v, time):
        return TIME if v.tzinfo is None else TIMETZ
    return next((oid for cls, oid in _VALUE_OIDS if isinstance(v, cls)), TEXT)


def record_binary(values: tuple) -> bytes:
    """record_send: Int32 field count, then per field its type OID, Int32 length (-1 for
    NULL) and binary value."""
    out = bytearray(_I32.pack(len(values)))
    for v in values:
        if v is None:
            out += _U32.pack(TEXT) + _I32.pack(-1)
            continue
        oid = _field_oid(v)
        raw = _BINARY_ENCODERS[oid](v)
        out += _U32.pack(oid) + _I32.pack(len(raw)) + raw
    return bytes(out)


_BINARY_ENCODERS[RECORD] = record_binary
_TEXT_ENCODERS[RECORD] = record_text


def column_encoders(columns: Sequence[Column],
                    formats: Sequence[int] | None = None) -> list[Callable[[Any], bytes]]:
    """One encoder per column for :func:`append_data_rows` (formats default to text).
    Types without a codec are sent as their ``str()`` in either format, which is what
    PostgreSQL's text-like types send in binary too."""
    formats = formats or (TEXT_FORMAT,) * len(columns)
    out = []
    for col, fmt in zip(columns, formats):
        enc = (_BINARY_ENCODERS if fmt == BINARY_FORMAT else _TEXT_ENCODERS).get(
            col.type_oid, _fallback_text)
        if col.type_oid == BPCHAR and col.type_modifier > VARHDRSZ:
            enc = _padded(enc, col.type_modifier - VARHDRSZ)
        out.append(enc)
    return out


VARHDRSZ = 4           # a character type's typmod is its length + 4


def _padded(enc: Callable[[Any], bytes], n: int) -> Callable[[Any], bytes]:
    """character(n) values are kept without trailing blanks; on output PostgreSQL shows
    them blank-padded to n."""
    return lambda v: enc(v.ljust(n) if isinstance(v, str) else v)


def encode_value(value: Any, type_oid: int, fmt: int = TEXT_FORMAT) -> bytes:
    """Encode one non-NULL value in the text (0) or binary (1) format of ``type_oid``."""
    encoders = _BINARY_ENCODERS if fmt == BINARY_FORMAT else _TEXT_ENCODERS
    return encoders.get(type_oid, _fallback_text)(value)


def expand_format_codes(codes: Sequence[int], count: int, what: str) -> Sequence[int]:
    """Apply the Bind format-code rule: no code means all text, one code applies to all
    ``count`` values, otherwise there must be one per value. ``what`` is "parameter" or
    "result" (for the error message)."""
    if len(codes) != count:
        if len(codes) > 1:
            if what == "parameter":
                message = f"bind message has {len(codes)} parameter formats but " \
                          f"{count} parameters"
            else:
                message = f"bind message has {len(codes)} result formats but query " \
                          f"has {count} columns"
            raise DsqlError(message, sqlstate="08P01")
        codes = (codes[0] if codes else TEXT_FORMAT,) * count
    for code in codes:
        if code not in (TEXT_FORMAT, BINARY_FORMAT):
            raise DsqlError(f"unsupported format code: {code}", sqlstate="22023")
    return codes


# ---------------------------------------------------------------------------------------
# Value decoding (Bind parameters)

def _out_of_range(text: str, oid: int) -> DsqlError:
    return DsqlError(f'value "{text}" is out of range for type {OID_TO_NAME[oid]}',
                     sqlstate="22003")


def _int_from_text(oid: int, lo: int, hi: int) -> Callable[[str], int]:
    def decode(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise _out_of_range(text, oid)
        return value
    return decode


def _float8_from_text(text: str) -> float:
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise _out_of_range(text, FLOAT8)
    return value


def _float4_from_text(text: str) -> float:
    value = _float8_from_text(text)
    try:
        return _F32.unpack(_F32.pack(value))[0]
    except OverflowError:
        raise _out_of_range(text, FLOAT4) from None


_BOOL_WORDS = {**{w: True for w in ("t", "tr", "tru", "true", "y", "ye", "yes", "on", "1")},
               **{w: False for w in ("f", "fa", "fal", "fals", "false", "n", "no", "of",
                                     "off", "0")}}


def _bool_from_text(text: str) -> bool:
    return _BOOL_WORDS[text.strip().lower()]


def _timestamp_from_text(text: str) -> datetime:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=None)


def _timestamptz_from_text(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:                    # the session time zone is UTC
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _interval_from_text(text: str) -> Interval:
    """Interval input in the forms clients send: PostgreSQL style ('1 year 2 mons 3 days
    02:03:04', '3 hours ago'), ISO 8601 and Python's str(timedelta) ('-1 day, 23:00:00')."""
    return parse_interval(text)


def _jsonb_from_binary(raw: bytes) -> str:
    if raw[:1] != b"\x01":
        raise ValueError("unsupported jsonb version number")
    return raw[1:].decode("utf-8")


def _numeric_from_binary(raw: bytes) -> Decimal:
    ndigits, weight, sign, dscale = _NUMERIC_HEAD.unpack_from(raw)
    groups = _array_struct(f"!{ndigits}H").unpack(raw[_NUMERIC_HEAD.size:])
    if sign == 0xC000:
        return Decimal("NaN")
    if sign in (0xD000, 0xF000):
        return Decimal("-Infinity" if sign == 0xF000 else "Infinity")
    if sign not in (0, 0x4000) or any(g > 9999 for g in groups):
        raise ValueError("invalid numeric")
    coefficient = 0
    for group in groups:
        coefficient = coefficient * 10000 + group
    shift = 4 * (weight - ndigits + 1) + dscale     # coefficient × 10^shift × 10^-dscale
    coefficient = coefficient * 10 ** shift if shift >= 0 else coefficient // 10 ** -shift
    return Decimal(f"{'-' if sign else ''}{coefficient}E-{dscale}")


def _time_from_usecs(usecs: int) -> time:
    secs, micro = divmod(usecs, 1_000_000)
    minutes, secs = divmod(secs, 60)
    return time(*divmod(minutes, 60), secs, micro)


def _interval_from_binary(raw: bytes) -> Interval:
    usecs, days, months = _INTERVAL.unpack(raw)
    return Interval(months, days, usecs)


def _unpack1(st: struct.Struct) -> Callable[[bytes], Any]:
    return lambda raw: st.unpack(raw)[0]


def _bool_from_binary(raw: bytes) -> bool:
    if len(raw) != 1:
        raise ValueError("invalid bool")
    return raw != b"\x00"


_TEXT_DECODERS: dict[int, Callable[[str], Any]] = {
    BOOL: _bool_from_text,
    INT2: _int_from_text(INT2, -2 ** 15, 2 ** 15 - 1),
    INT4: _int_from_text(INT4, -2 ** 31, 2 ** 31 - 1),
    INT8: _int_from_text(INT8, -2 ** 63, 2 ** 63 - 1),
    OID: _int_from_text(OID, 0, 2 ** 32 - 1),
    FLOAT4: _float4_from_text, FLOAT8: _float8_from_text, NUMERIC: Decimal,
    BYTEA: bytea_input, UUID: uuid.UUID,
    DATE: lambda t: date.fromisoformat(t.strip()),
    TIME: lambda t: time.fromisoformat(t.strip()).replace(tzinfo=None),
    TIMESTAMP: _timestamp_from_text, TIMESTAMPTZ: _timestamptz_from_text,
    INTERVAL: _interval_from_text, TIMETZ: lambda t: time.fromisoformat(t.strip()),
    INET: lambda t: ipaddress.ip_interface(t.strip()),
    CIDR: lambda t: ipaddress.ip_network(t.strip()),
    **{oid: str for oid in _TEXT_TYPES},
}

_BINARY_DECODERS: dict[int, Callable[[bytes], Any]] = {
    BOOL: _bool_from_binary,
    INT2: _unpack1(_I16), INT4: _unpack1(_I32), INT8: _unpack1(_I64), OID: _unpack1(_U32),
    FLOAT4: _unpack1(_F32), FLOAT8: _unpack1(_F64), NUMERIC: _numeric_from_binary,
    BYTEA: bytes, UUID: lambda raw: uuid.UUID(bytes=raw),
    DATE: lambda raw: date.fromordinal(_PG_EPOCH_ORDINAL + _I32.unpack(raw)[0]),
    TIME: lambda raw: _time_from_usecs(_I64.unpack(raw)[0]),
    TIMESTAMP: lambda raw: _PG_EPOCH + _I64.unpack(raw)[0] * _USEC,
    TIMESTAMPTZ: lambda raw: _PG_EPOCH_UTC + _I64.unpack(raw)[0] * _USEC,
    INTERVAL: _interval_from_binary, TIMETZ: _timetz_from_binary,
    INET: _net_from_binary, CIDR: _net_from_binary,
    JSONB: _jsonb_from_binary,
    **{oid: lambda raw: raw.decode("utf-8") for oid in (TEXT, VARCHAR, BPCHAR, JSON,
                                                        UNKNOWN)},
}


def _array_from_binary(element_oid: int) -> Callable[[bytes], list]:
    """array_recv of a one-dimensional array (an empty one has no dimensions)."""
    def decode(raw: bytes) -> list:
        try:
            return read(_Body(raw))
        except ProtocolError:                       # ran past the end of the value
            raise ValueError("invalid array") from None

    def read(b: _Body) -> list:
        ndim, _, elem = b.unpack(_ARRAY_HEAD)
        if ndim == 0:
            b.finish()
            return []
        if ndim != 1:
            raise DsqlError("multidimensional arrays are not supported", sqlstate="0A000")
        if elem != element_oid:
            raise ValueError("wrong element type")
        size, _ = b.unpack(_ARRAY_DIM)
        if size < 0 or size > len(b.data):
            raise ValueError("invalid array size")
        decode_one = _BINARY_DECODERS[element_oid]
        values = [None if (v := b.value()) is None else decode_one(v) for _ in range(size)]
        b.finish()
        return values
    return decode


def _array_from_text(element_oid: int) -> Callable[[str], list]:
    """array_in of a one-dimensional array: ``{1,2,NULL}``, ``{"a b","q\\"x"}``."""
    def decode(text: str) -> list:
        decode_one = _TEXT_DECODERS.get(element_oid, str)
        return [None if v is None else decode_one(v) for v in array_items(text)]
    return decode


_BINARY_DECODERS.update({oid: _array_from_binary(elem) for oid, elem in ARRAY_ELEMENT.items()})
_TEXT_DECODERS.update({oid: _array_from_text(elem) for oid, elem in ARRAY_ELEMENT.items()})


#: The backend's SQL input function (text, type OID) → value, for the date/time forms
#: the wire's fast decoders do not read; it tells a bad format (22007) from a field out
#: of range (22008). Compute passes its casts.
TextInput = Callable[[str, int], Any]


def decode_value(raw: bytes, type_oid: int, fmt: int = TEXT_FORMAT,
                 text_input: TextInput | None = None) -> Any:
    """Decode one non-NULL Bind parameter. In text format a type without a decoder (and
    OID 0, "unspecified") yields the str unchanged, for the backend to interpret; so
    does a date/time text the fast decoders cannot read when no ``text_input`` is
    given (the backend casts it when the statement runs)."""
    if fmt == BINARY_FORMAT:
        decoder = _BINARY_DECODERS.get(type_oid)
        if decoder is None:
            raise DsqlError("no binary input function available for type "
                            f"{OID_TO_NAME.get(type_oid, type_oid)}", sqlstate="42883")
        try:
            return decoder(raw)
        except UnicodeDecodeError:
            raise DsqlError('invalid byte sequence for encoding "UTF8"',
                            sqlstate="22021") from None
        except (ValueError, ArithmeticError, struct.error):
            raise DsqlError("incorrect binary data format in bind parameter",
                            sqlstate="22P03") from None
    text = _utf8(raw)
    decoder = _TEXT_DECODERS.get(type_oid)
    if decoder is None:
        return text
    try:
        return decoder(text)
    except (ValueError, ArithmeticError, KeyError):
        if type_oid in _DATETIME_OIDS:
            # the SQL casts tell a bad format (22007) from a field out of range (22008),
            # and read a few forms the fast decoders above do not
            return text if text_input is None else text_input(text, type_oid)
        name = OID_TO_NAME.get(type_oid) or \
            f"{OID_TO_NAME.get(ARRAY_ELEMENT.get(type_oid), type_oid)}[]"
        if type_oid in ARRAY_ELEMENT:
            raise DsqlError(f'malformed array literal: "{text}"', sqlstate="22P02") from None
        raise DsqlError(f'invalid input syntax for type {name}: "{text}"',
                        sqlstate="22P02") from None


_DATETIME_OIDS = frozenset({DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ})
