"""The PostgreSQL wire layer: codec unit tests, then end-to-end sessions served by
``serve_connection`` to real clients (psycopg 3, psql, raw sockets) over a toy
in-test backend, and a fuzz test with malformed byte streams."""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import math
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from decimal import Decimal
from typing import Any, Sequence

import psycopg
import psycopg.errors
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.pq import TransactionStatus
from psycopg.types.json import Json

from dsql_ray.compute import types as t
from dsql_ray.compute.result import Column, PreparedInfo, QueryResult
from dsql_ray.compute.query.sqltypes import cast
from dsql_ray.errors import AuthError, DsqlError, ProtocolError, TransactionAborted
from dsql_ray.frontend import pgwire
from dsql_ray.frontend.pgwire import BINARY_FORMAT, TEXT_FORMAT, decode_value, encode_value
from dsql_ray.frontend.session import serve_connection, server_ssl_context
from dsql_ray.interval import Interval

UTC = dt.timezone.utc
PLUS_2 = dt.timezone(dt.timedelta(hours=2))
BACKEND_KEY = (4242, 3_000_000_000)


# =======================================================================================
# Codec

TEXT_OUTPUT = [   # (type OID, Python value, PostgreSQL 15 output), checked against a server
    (t.BOOL, True, "t"), (t.BOOL, False, "f"),
    (t.INT2, -32768, "-32768"), (t.INT4, 42, "42"),
    (t.INT8, 2 ** 63 - 1, "9223372036854775807"),
    (t.OID, 4_000_000_000, "4000000000"),
    (t.FLOAT8, 1e15, "1e+15"), (t.FLOAT8, 1e14, "100000000000000"),
    (t.FLOAT8, 123456789012345.6, "123456789012345.6"), (t.FLOAT8, 1.5e-5, "1.5e-05"),
    (t.FLOAT8, 0.0001, "0.0001"), (t.FLOAT8, -0.0, "-0"), (t.FLOAT8, 1.0, "1"),
    (t.FLOAT8, 0.1, "0.1"), (t.FLOAT8, 1 / 3, "0.3333333333333333"),
    (t.FLOAT8, 1e300, "1e+300"), (t.FLOAT8, 1234567890123456.0, "1.234567890123456e+15"),
    (t.FLOAT8, math.inf, "Infinity"), (t.FLOAT8, -math.inf, "-Infinity"),
    (t.FLOAT8, math.nan, "NaN"),
    (t.FLOAT4, 1e6, "1e+06"), (t.FLOAT4, 1e5, "100000"), (t.FLOAT4, 0.1, "0.1"),
    (t.FLOAT4, 3.4e38, "3.4e+38"), (t.FLOAT4, 1 / 3, "0.33333334"),
    (t.FLOAT4, 1e-40, "1e-40"),
    (t.FLOAT4, 123456789012345.6, "1.2345679e+14"), (t.FLOAT4, 16777217.0, "1.6777216e+07"),
    (t.NUMERIC, Decimal("1.50"), "1.50"), (t.NUMERIC, Decimal("1E+3"), "1000"),
    (t.NUMERIC, Decimal("-0.00"), "0.00"), (t.NUMERIC, Decimal("NaN"), "NaN"),
    (t.NUMERIC, Decimal("Infinity"), "Infinity"),
    (t.NUMERIC, Decimal("-12.345"), "-12.345"),
    (t.TEXT, "héllo", "héllo"), (t.VARCHAR, "", ""), (t.BPCHAR, "ab ", "ab "),
    (t.JSON, '{"a":1}', '{"a":1}'), (t.JSONB, '{"a": 1}', '{"a": 1}'),
    (t.BYTEA, b"\x00\xff", "\\x00ff"), (t.BYTEA, b"", "\\x"),
    (t.UUID, uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    (t.DATE, dt.date(2024, 1, 2), "2024-01-02"),
    (t.DATE, dt.date(99, 12, 31), "0099-12-31"),
    (t.TIME, dt.time(12, 0, 0, 500000), "12:00:00.5"),
    (t.TIME, dt.time(1, 2, 3), "01:02:03"),
    (t.TIMESTAMP, dt.datetime(2024, 1, 2, 3, 4, 5, 1), "2024-01-02 03:04:05.000001"),
    (t.TIMESTAMP, dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
    (t.TIMESTAMPTZ, dt.datetime(2024, 1, 2, 3, 4, 5, 120000, UTC),
     "2024-01-02 03:04:05.12+00"),
    (t.TIMESTAMPTZ, dt.datetime(2024, 1, 2, 3, 4, 5, 123456, UTC),
     "2024-01-02 03:04:05.123456+00"),
    (t.TIMESTAMPTZ, dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=PLUS_2),
     "2024-01-02 03:04:05+00"),
    (t.INTERVAL, dt.timedelta(hours=-1), "-01:00:00"),
    (t.INTERVAL, dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5), "1 day 02:03:04.5"),
    (t.INTERVAL, -dt.timedelta(days=1, hours=2), "-1 days -02:00:00"),
    (t.INTERVAL, dt.timedelta(0), "00:00:00"),
    (t.INTERVAL, dt.timedelta(days=-1), "-1 days"),
    (t.INTERVAL, dt.timedelta(days=2), "2 days"),
    (t.INTERVAL, dt.timedelta(days=1), "1 day"),
    (t.INTERVAL, dt.timedelta(microseconds=1), "00:00:00.000001"),
    (t.INTERVAL, dt.timedelta(seconds=-0.5), "-00:00:00.5"),
    (t.INTERVAL, Interval(14, -3, 3_600_000_000), "1 year 2 mons -3 days +01:00:00"),
    (t.INTERVAL, Interval(-1, 0, 0), "-1 mons"),
    (t.TIMETZ, dt.time(10, 0, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30))),
     "10:00:00-03:30"),
    (t.INET, ipaddress.ip_interface("192.168.1.5/32"), "192.168.1.5"),
    (t.INET, ipaddress.ip_interface("192.168.1.5/24"), "192.168.1.5/24"),
    (t.CIDR, ipaddress.ip_network("10.0.0.0/32"), "10.0.0.0/32"),
]


@pytest.mark.parametrize("oid, value, expected", TEXT_OUTPUT)
def test_text_output_matches_postgresql(oid, value, expected):
    assert encode_value(value, oid, TEXT_FORMAT) == expected.encode()


BINARY_OUTPUT = [  # (type OID, value, PostgreSQL's *_send output)
    (t.INT4, 1, "00000001"), (t.INT2, -2, "fffe"), (t.BOOL, True, "01"),
    (t.FLOAT4, 0.1, "3dcccccd"),
    (t.NUMERIC, Decimal("12345.678"), "0003000100000003000109291a7c"),
    (t.NUMERIC, Decimal("0.00001"), "0001fffe0000000503e8"),
    (t.NUMERIC, Decimal("-0.00"), "0000000000000002"),
    (t.NUMERIC, Decimal("123456789012345678901234567890.123456789"),
     "000b000700000009000c0d801ed204d2162e23340d801ed204d2162e2328"),
    (t.DATE, dt.date(2000, 1, 2), "00000001"),
    (t.TIMESTAMP, dt.datetime(2000, 1, 1, 0, 0, 1), "00000000000f4240"),
    (t.TIMESTAMPTZ, dt.datetime(1999, 12, 31, 23, 0, tzinfo=UTC), "ffffffff296c5c00"),
    (t.INTERVAL, dt.timedelta(days=1, microseconds=5), "00000000000000050000000100000000"),
    (t.INTERVAL, Interval(14, 3, 5), "0000000000000005000000030000000e"),
    (t.TIMETZ, dt.time(0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "00000000000f4240ffffe3e0"),
    (t.INET, ipaddress.ip_interface("10.0.0.1/8"), "020800040a000001"),
    (t.CIDR, ipaddress.ip_network("10.0.0.0/8"), "020801040a000000"),
    (t.JSONB, "[]", "015b5d"),
]


@pytest.mark.parametrize("oid, value, expected", BINARY_OUTPUT)
def test_binary_output_matches_postgresql(oid, value, expected):
    assert encode_value(value, oid, BINARY_FORMAT).hex() == expected


ROUND_TRIP = [
    (t.BOOL, True), (t.BOOL, False), (t.INT2, -32768), (t.INT4, 2 ** 31 - 1),
    (t.INT8, -2 ** 63), (t.OID, 2 ** 32 - 1), (t.FLOAT8, 1 / 3), (t.FLOAT8, -1e-300),
    (t.FLOAT8, math.inf), (t.FLOAT4, 0.5), (t.FLOAT4, -3.25),
    (t.NUMERIC, Decimal("12345.678")), (t.NUMERIC, Decimal("-0.000100")),
    (t.NUMERIC, Decimal("1E+20")), (t.NUMERIC, Decimal("0")),
    (t.NUMERIC, Decimal("9999.9999")),
    (t.NUMERIC, Decimal("-Infinity")),
    (t.TEXT, "ünï\ncode"), (t.VARCHAR, "v"), (t.BPCHAR, "c"), (t.UNKNOWN, "u"),
    (t.JSON, '{"a": [1, 2]}'), (t.JSONB, '{"a": [1, 2]}'),
    (t.BYTEA, bytes(range(256))), (t.UUID, uuid.uuid4()),
    (t.DATE, dt.date(1, 1, 1)), (t.DATE, dt.date(9999, 12, 31)),
    (t.TIME, dt.time(23, 59, 59, 999999)), (t.TIME, dt.time(0, 0)),
    (t.TIMESTAMP, dt.datetime(1970, 1, 1, 0, 0, 0, 1)),
    (t.TIMESTAMP, dt.datetime(2100, 6, 30)),
    (t.TIMESTAMPTZ, dt.datetime(2024, 2, 29, 12, 0, 0, 250000, UTC)),
    (t.INTERVAL, Interval(0, 3, 4_000_005)), (t.INTERVAL, Interval(0, 0, -3_600_000_000)),
    (t.INTERVAL, Interval(0, -2, -250_000)), (t.INTERVAL, Interval(0, 0, 360_000_000_000)),
    (t.INTERVAL, Interval(14, 3, 14_706_000_000)), (t.INTERVAL, Interval(-14, 5, -1)),
    (t.TIMETZ, dt.time(10, 0, 5, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    (t.TIMETZ, dt.time(23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30)))),
    (t.INET, ipaddress.ip_interface("192.168.1.5/24")), (t.INET, ipaddress.ip_interface("::1")),
    (t.CIDR, ipaddress.ip_network("10.1.0.0/16")), (t.CIDR, ipaddress.ip_network("2001:db8::/32")),
]


def test_every_type_has_a_round_trip_case():
    assert set(t.OID_TO_NAME) == {oid for oid, _ in ROUND_TRIP}


@pytest.mark.parametrize("fmt", [TEXT_FORMAT, BINARY_FORMAT], ids=["text", "binary"])
@pytest.mark.parametrize("oid, value", ROUND_TRIP)
def test_round_trip(oid, value, fmt):
    decoded = decode_value(encode_value(value, oid, fmt), oid, fmt)
    assert decoded == value and type(decoded) is type(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float8_text_is_shortest_exact(value):
    text = encode_value(value, t.FLOAT8).decode()
    assert float(text) == value
    exponent = int(math.floor(math.log10(abs(value)))) if value else 0
    assert ("e" in text) == (not -4 <= exponent < 15)
    assert not text.endswith(".0")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_numeric_round_trips_in_both_formats(value):
    for fmt in (TEXT_FORMAT, BINARY_FORMAT):
        decoded = decode_value(encode_value(value, t.NUMERIC, fmt), t.NUMERIC, fmt)
        assert decoded == value
        assert decoded.as_tuple().exponent == min(0, value.as_tuple().exponent)  # scale


@given(st.datetimes(timezones=st.just(UTC)), st.timedeltas())
def test_datetimes_round_trip_in_both_formats(when, delta):
    for fmt in (TEXT_FORMAT, BINARY_FORMAT):
        for oid, value in ((t.TIMESTAMPTZ, when), (t.INTERVAL, delta)):
            assert decode_value(encode_value(value, oid, fmt), oid, fmt) == value


@pytest.mark.parametrize("oid, text, value", [
    (t.BOOL, "yes", True), (t.BOOL, " OFF ", False), (t.BOOL, "tr", True),
    (t.INT4, " 12 ", 12), (t.FLOAT8, "-Infinity", -math.inf),
    (t.BYTEA, "a\\000\\\\b", b"a\x00\\b"), (t.BYTEA, "\\x00 ff", b"\x00\xff"),
    (t.TIMESTAMPTZ, "2024-01-02 03:04:05+02", dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
    (t.TIMESTAMPTZ, "2024-01-02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (t.TIMESTAMP, "2024-01-02 03:04:05.5+02", dt.datetime(2024, 1, 2, 3, 4, 5, 500000)),
    (t.INTERVAL, "1 day, 2:03:04", dt.timedelta(days=1, seconds=7384)),     # str(timedelta)
    (t.INTERVAL, "-1 day, 23:00:00", dt.timedelta(hours=-1)),
    (t.INTERVAL, "3 hours ago", dt.timedelta(hours=-3)),
    (t.INTERVAL, "1 mon 2 weeks 1.5 days", Interval(1, 15, 43_200_000_000)),
    (t.INTERVAL, "1 year 2 mons -3 days", Interval(14, -3, 0)),
    (t.INTERVAL, "-1 days +23:00:00", dt.timedelta(hours=-1)),
    (0, "anything at all", "anything at all"),        # unspecified type: passed through
    (600, "(1,2)", "(1,2)"),                          # type without a codec: likewise
    (1009, '{a,"b c",NULL,"NULL"}', ["a", "b c", None, "NULL"]),
    (1007, " { 1 , -2 } ", [1, -2]), (1016, "{}", []),
])
def test_text_parameter_decoding(oid, text, value):
    # with compute's SQL input function, as compute serves the wire
    assert decode_value(text.encode(), oid, TEXT_FORMAT, cast) == value


@pytest.mark.parametrize("oid, raw, fmt, sqlstate", [
    (t.INT2, b"40000", TEXT_FORMAT, "22003"), (t.INT4, b"abc", TEXT_FORMAT, "22P02"),
    (t.FLOAT8, b"1e400", TEXT_FORMAT, "22003"), (t.FLOAT4, b"1e39", TEXT_FORMAT, "22003"),
    (t.BOOL, b"maybe", TEXT_FORMAT, "22P02"),
    (t.INTERVAL, b"3 parsecs", TEXT_FORMAT, "22007"),
    (t.DATE, b"someday", TEXT_FORMAT, "22007"), (t.DATE, b"2024-13-45", TEXT_FORMAT, "22008"),
    (t.UUID, b"not-a-uuid", TEXT_FORMAT, "22P02"),
    (t.TEXT, b"\xff", TEXT_FORMAT, "22021"), (t.INT4, b"\x00\x01", BINARY_FORMAT, "22P03"),
    (t.UUID, b"short", BINARY_FORMAT, "22P03"),
    (t.JSONB, b"\x02{}", BINARY_FORMAT, "22P03"),
    (t.NUMERIC, b"\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", BINARY_FORMAT, "22P03"),
    (600, b"", BINARY_FORMAT, "42883"), (1009, b"", BINARY_FORMAT, "22P03"),
    (1007, b"{1,2", TEXT_FORMAT, "22P02"), (1007, b"{{1},{2}}", TEXT_FORMAT, "0A000"),
])
def test_bad_parameters_are_sql_errors(oid, raw, fmt, sqlstate):
    with pytest.raises(DsqlError) as info:
        decode_value(raw, oid, fmt, cast)       # compute's SQL input function, as served
    assert info.value.sqlstate == sqlstate and info.value.severity == "ERROR"


def test_datetime_text_the_wire_cannot_read_goes_to_the_backend():
    """Without the backend's input function, a date/time text the fast decoders cannot
    read reaches the backend unchanged (compute casts str parameters when it runs)."""
    assert decode_value(b"someday", t.DATE, TEXT_FORMAT) == "someday"
    assert decode_value(b"2024-06-30", t.DATE, TEXT_FORMAT) == dt.date(2024, 6, 30)


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def startup_packet(params: dict[str, str], version: int = pgwire.PROTOCOL_3_0) -> bytes:
    payload = struct.pack("!I", version) + b"".join(cstr(k) + cstr(v)
                                                    for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(payload) + 4) + payload


def bind_body(portal="", statement="", params: Sequence[bytes | None] = (),
              param_formats=(), result_formats=()) -> bytes:
    body = cstr(portal) + cstr(statement)
    body += struct.pack(f"!H{len(param_formats)}h", len(param_formats), *param_formats)
    body += struct.pack("!H", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    return body + struct.pack(f"!H{len(result_formats)}h", len(result_formats),
                              *result_formats)


def test_parse_bind_and_its_malformations():
    body = bind_body("p", "s", [b"12", None], (1,), (0, 1))
    msg = pgwire.parse_bind(body)
    assert (msg.portal, msg.statement, msg.param_formats, msg.params, msg.result_formats) \
        == ("p", "s", (1,), [b"12", None], (0, 1))
    for bad in (body[:-1], body + b"\0", body[:3], cstr("p") + cstr("s") + b"\0\x01\0\x01"
                + b"\0\x01" + struct.pack("!i", 1000) + b"x"):
        with pytest.raises(ProtocolError):
            pgwire.parse_bind(bad)
    assert pgwire.expand_format_codes((), 2, "parameter") == (0, 0)
    assert pgwire.expand_format_codes((1,), 3, "result") == (1, 1, 1)
    with pytest.raises(DsqlError, match="2 result formats but query has 3 columns"):
        pgwire.expand_format_codes((0, 1), 3, "result")
    with pytest.raises(DsqlError, match="unsupported format code: 2"):
        pgwire.expand_format_codes((2,), 1, "parameter")


def test_startup_packets():
    options = r"-c search_path=a\ b --statement-timeout=5 -cx=y"
    packet = startup_packet({"user": "bob", "options": options, "application_name": "app"})
    startup = pgwire.parse_startup_packet(packet[4:])
    assert (startup.user, startup.database) == ("bob", "bob")
    assert startup.settings == {"search_path": "a b", "statement_timeout": "5", "x": "y",
                                "application_name": "app"}
    assert pgwire.parse_startup_packet(b"\x04\xd2\x16\x2f") == pgwire.SSLRequest()
    assert pgwire.parse_startup_packet(b"\x04\xd2\x16\x30") == pgwire.GSSENCRequest()
    assert pgwire.parse_startup_packet(struct.pack("!III", 80877102, 7, 9)) \
        == pgwire.CancelRequest(7, 9)
    with pytest.raises(ProtocolError) as info:
        pgwire.parse_startup_packet(struct.pack("!I", 2 << 16) + b"\0")
    assert info.value.sqlstate == "0A000"
    with pytest.raises(ProtocolError):
        pgwire.parse_startup_packet(struct.pack("!I", pgwire.PROTOCOL_3_0) + cstr("user"))


def test_backend_messages():
    cols = [Column("a", t.INT4), Column("b", t.TEXT)]
    assert pgwire.row_description(cols, (0, 1)) == frame(
        b"T", b"\0\x02" + b"a\0" + struct.pack("!IhIhih", 0, 0, 23, 4, -1, 0)
        + b"b\0" + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 1))
    out = bytearray()
    pgwire.append_data_rows(out, [(1, None), (2, "x")], pgwire.column_encoders(cols))
    assert bytes(out) == (frame(b"D", b"\0\x02\0\0\0\x011\xff\xff\xff\xff")
                          + frame(b"D", b"\0\x02\0\0\0\x012\0\0\0\x01x"))
    with pytest.raises(ValueError, match="1 values for 2 columns"):
        pgwire.append_data_rows(out, [(1,)], pgwire.column_encoders(cols))
    err = pgwire.error_response(DsqlError("bad\0thing", sqlstate="22012", hint="h"))
    assert err == frame(b"E", b"SERROR\0VERROR\0C22012\0Mbadthing\0Hh\0\0")
    assert pgwire.notice_response("hi") == frame(b"N", b"SNOTICE\0VNOTICE\0C00000\0Mhi\0\0")
    assert pgwire.ready_for_query("T") == b"Z\0\0\0\x05T"


# =======================================================================================
# A toy backend: a dict and just enough SQL to exercise the wire layer

STATUS = {"server_version": "16.0", "server_encoding": "UTF8", "client_encoding": "UTF8",
          "DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "TimeZone": "UTC",
          "integer_datetimes": "on", "standard_conforming_strings": "on"}
_ITEM = re.compile(r"""(?:(?P<int>-?\d+) | '(?P<str>[^']*)' | \$(?P<param>\d+)
                       | (?P<div>1/0) | (?P<crash>crash\(\)) | (?P<badrow>badrow\(\))
                       | series\((?P<series>\d+)\))
                       (?:::(?P<cast>[a-z0-9 ]+?))? (?:\s+as\s+(?P<alias>\w+))?""", re.X)


class DictBackend:
    """A SessionBackend over a shared dict (key → value) with a tiny SQL dialect:
    BEGIN/COMMIT/ROLLBACK, SET, ``insert into kv values (k, v)``,
    ``select v from kv where k = x``, and ``select item, ...`` where an item is an
    integer, a 'string'[::type], a $n[::type], 1/0, crash(), series(n) (rows 1..n) or
    badrow() (a row of the wrong width, a backend bug)."""

    def __init__(self, store: dict, calls: list, settings: dict):
        self.txn_status = "I"
        self.store, self.calls, self.settings = store, calls, settings
        self.closed = False
        self.notices: list[str] = []

    def abort_block(self) -> None:
        if self.txn_status == "T":
            self.txn_status = "E"

    def parameter_status(self) -> dict[str, str]:
        return dict(STATUS)

    async def execute_simple(self, sql: str) -> list[QueryResult]:
        self.calls.append("simple")
        results: list[QueryResult] = []
        for stmt in filter(None, (s.strip() for s in sql.split(";"))):
            try:
                results.append(self._run(stmt, ()))
            except DsqlError as exc:
                exc.partial_results = results
                raise
        return results

    async def prepare(self, sql: str, param_type_oids: Sequence[int]) -> PreparedInfo:
        self.calls.append("prepare")
        columns, oids, _ = self._plan(sql, param_type_oids)
        return PreparedInfo(oids, columns)

    async def execute_prepared(self, sql, param_type_oids, params, max_rows=0):
        self.calls.append("execute")
        return self._run(sql, params, param_type_oids)

    async def close(self) -> None:
        self.closed = True

    def _run(self, sql: str, params: Sequence[Any], oids: Sequence[int] = ()
             ) -> QueryResult:
        word = sql.split()[0].lower() if sql.split() else ""
        if self.txn_status == "E" and word not in ("rollback", "commit"):
            raise TransactionAborted()
        try:
            columns, oids, run = self._plan(sql, oids)
            if len(params) < len(oids):
                raise DsqlError(f"there is no parameter ${len(params) + 1}",
                                sqlstate="42P02")
            return run(columns, params)
        except DsqlError:
            if self.txn_status == "T":
                self.txn_status = "E"
            raise

    def _plan(self, sql: str, oids: Sequence[int]):
        text = sql.strip().rstrip(";").strip()
        low = text.lower()
        if low in ("begin", "start transaction", "commit", "rollback"):
            return None, [], lambda c, p: self._txn(low)
        if low.startswith("set "):
            return None, [], lambda c, p: QueryResult("SET")
        numbers = [int(n) for n in re.findall(r"\$(\d+)", text)]
        if 0 in numbers:
            raise DsqlError("there is no parameter $0", sqlstate="42P02")
        nparams = max(numbers, default=0)
        casts = {int(n): self._type(name)
                 for n, name in re.findall(r"\$(\d+)::([a-z0-9]+)", text)}
        oids = [o or casts.get(n, t.TEXT)
                for n, o in enumerate((list(oids) + [0] * nparams)[:nparams], 1)]
        if m := re.fullmatch(r"insert into kv values \((.+), (.+)\)", text, re.I):
            key, value = m.groups()
            return None, oids, lambda c, p: self._insert(self._scalar(key, p),
                                                        self._scalar(value, p))
        if m := re.fullmatch(r"select v from kv where k = (.+)", text, re.I):
            return [Column("v", t.TEXT)], oids, \
                lambda c, p: self._lookup(self._scalar(m[1], p))
        if low.startswith("select "):
            items = [_ITEM.fullmatch(item.strip()) for item in text[7:].split(",")]
            if all(items):
                columns = [self._column(item, oids) for item in items]
                return columns, oids, lambda c, p: self._select(items, c, p)
        raise DsqlError(f'syntax error at or near "{text[:20]}"', sqlstate="42601")

    @staticmethod
    def _type(name: str) -> int:
        if name not in t.NAME_TO_OID:
            raise DsqlError(f'type "{name}" does not exist', sqlstate="42704")
        return t.NAME_TO_OID[name]

    def _txn(self, word: str) -> QueryResult:
        if word in ("begin", "start transaction"):
            self.txn_status = "T"
            return QueryResult("BEGIN")
        tag = "ROLLBACK" if word == "rollback" or self.txn_status == "E" else "COMMIT"
        self.txn_status = "I"
        return QueryResult(tag)

    @staticmethod
    def _scalar(token: str, params: Sequence[Any]) -> Any:
        token = token.strip()
        if token.startswith("$"):
            return params[int(token[1:]) - 1]
        return token.strip("'")

    def _insert(self, key, value) -> QueryResult:
        self.store[key] = value
        return QueryResult("INSERT 0 1")

    def _lookup(self, key) -> QueryResult:
        rows = [(self.store[key],)] if key in self.store else []
        return QueryResult(f"SELECT {len(rows)}", [Column("v", t.TEXT)], rows)

    def _column(self, item: re.Match, oids: Sequence[int]) -> Column:
        if item["cast"]:
            oid = self._type(item["cast"])
        elif item["param"]:
            oid = oids[int(item["param"]) - 1]
        else:
            oid = t.TEXT if item["str"] is not None else t.INT4
        name = item["alias"] or ("series" if item["series"] else "?column?")
        return Column(name, oid)

    @staticmethod
    def _select(items: list[re.Match], columns: list[Column], params) -> QueryResult:
        row: list[Any] = []
        for item, col in zip(items, columns):
            if item["div"]:
                raise DsqlError("division by zero", sqlstate="22012")
            if item["crash"]:
                raise RuntimeError("the backend tripped")
            if item["badrow"]:
                return QueryResult("SELECT 1", columns, [(1, 2)])
            if item["series"]:
                rows = [(i,) for i in range(1, int(item["series"]) + 1)]
                return QueryResult(f"SELECT {len(rows)}", columns, rows)
            if item["param"]:
                row.append(params[int(item["param"]) - 1])
            elif item["str"] is not None:
                row.append(decode_value(item["str"].encode(), col.type_oid))
            else:
                row.append(int(item["int"]))
        return QueryResult("SELECT 1", columns, [tuple(row)])


# =======================================================================================
# Servers on a background event loop

class Server:
    """``serve_connection`` under ``asyncio.start_server`` on 127.0.0.1."""

    def __init__(self, loop: asyncio.AbstractEventLoop, **options):
        self.loop = loop
        self.store: dict = {}
        self.calls: list[str] = []
        self.backends: list[DictBackend] = []
        self.cancels: list[tuple[int, int]] = []
        self.escaped: list[Exception] = []

        async def factory(user: str, database: str, settings: dict) -> DictBackend:
            if database == "nosuchdb":
                raise DsqlError('database "nosuchdb" does not exist', sqlstate="3D000")
            backend = DictBackend(self.store, self.calls, settings)
            self.backends.append(backend)
            return backend

        async def handle(reader, writer):
            try:
                await serve_connection(reader, writer, factory, backend_key=BACKEND_KEY,
                                       on_cancel=lambda *key: self.cancels.append(key),
                                       **options)
            except Exception as exc:        # serve_connection must never raise
                self.escaped.append(exc)

        self.server = self.run(asyncio.start_server(handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def dsn(self, **params) -> str:
        params = {"host": "127.0.0.1", "port": self.port, "user": "admin",
                  "dbname": "postgres", "sslmode": "disable", "connect_timeout": 5} | params
        return " ".join(f"{key}={value}" for key, value in params.items())

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn(), autocommit=True, **kwargs)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        assert not self.escaped


async def _cancel_all_tasks() -> None:
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    asyncio.run_coroutine_threadsafe(_cancel_all_tasks(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture(scope="module")
def server(loop):
    srv = Server(loop)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return server_ssl_context(str(directory / "cert.pem"), str(directory / "key.pem"))


@pytest.fixture(scope="module")
def tls_server(loop, tls_context):
    srv = Server(loop, ssl_context=tls_context, require_tls=True)
    yield srv
    srv.close()


# =======================================================================================
# A raw protocol client, for what drivers do not expose

class Raw:
    def __init__(self, port: int, *, startup: bool = True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        if startup:
            self.startup({"user": "admin", "database": "postgres"})
            assert self.until()[-1] == (b"Z", b"I")

    def send(self, *messages: bytes) -> None:
        self.sock.sendall(b"".join(messages))

    def startup(self, params: dict[str, str], version: int = pgwire.PROTOCOL_3_0) -> None:
        self.send(startup_packet(params, version))

    def _recv(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read(self) -> tuple[bytes, bytes]:
        kind = self._recv(1)
        (length,) = struct.unpack("!i", self._recv(4))
        return kind, self._recv(length - 4)

    def until(self, kind: bytes = b"Z") -> list[tuple[bytes, bytes]]:
        messages = [self.read()]
        while messages[-1][0] != kind:
            messages.append(self.read())
        return messages

    def at_eof(self) -> bool:
        try:
            self.read()
        except EOFError:
            return True
        return False


@pytest.fixture
def raw_client(server):
    """Raw clients of the plain server, closed after the test."""
    clients: list[Raw] = []

    def connect(**kwargs) -> Raw:
        clients.append(Raw(server.port, **kwargs))
        return clients[-1]

    yield connect
    for client in clients:
        client.sock.close()


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def kinds(messages) -> str:
    return "".join(kind.decode() for kind, _ in messages)


def error_fields(body: bytes) -> dict[str, str]:
    return {f[:1]: f[1:] for f in body.rstrip(b"\0").decode().split("\0")}


def q(sql: str) -> bytes:
    return frame(b"Q", cstr(sql))


def parse(sql: str, name: str = "", oids: Sequence[int] = ()) -> bytes:
    oid_list = struct.pack(f"!H{len(oids)}I", len(oids), *oids)
    return frame(b"P", cstr(name) + cstr(sql) + oid_list)


def bind(**kw) -> bytes:
    return frame(b"B", bind_body(**kw))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return frame(b"E", cstr(portal) + struct.pack("!i", max_rows))


def describe(kind: str, name: str = "") -> bytes:
    return frame(b"D", kind.encode() + cstr(name))


def close(kind: str, name: str = "") -> bytes:
    return frame(b"C", kind.encode() + cstr(name))


SYNC, FLUSH, TERMINATE = frame(b"S"), frame(b"H"), frame(b"X")


# =======================================================================================
# End to end: psycopg, psql

def test_simple_query(server):
    server.calls.clear()
    with server.connect() as conn:
        assert conn.execute("select 1, 'two'").fetchone() == (1, "two")
        assert conn.execute("select 1 as a").description[0].name == "a"
    assert "simple" in server.calls and "prepare" not in server.calls
    wait_for(lambda: server.backends[-1].closed)


def test_several_statements_in_one_query(server):
    with server.connect() as conn:
        cur = conn.execute("insert into kv values ('k1', 'v1');"
                           " select v from kv where k = 'k1'; select series(3)")
        assert cur.statusmessage == "INSERT 0 1"
        assert cur.nextset() and cur.fetchall() == [("v1",)]
        assert cur.nextset() and cur.fetchall() == [(1,), (2,), (3,)]
        assert cur.nextset() is None


VALUES = [True, 42, -2 ** 40, 1.5, -math.inf, Decimal("12345.678"), Decimal("-0.001"),
          "hello ünïcode", b"\x00\xff bytes",
          uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
          dt.date(2024, 1, 2), dt.time(12, 34, 56, 789),
          dt.datetime(2024, 1, 2, 3, 4, 5, 6),
          dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
          dt.timedelta(days=1, seconds=3723, microseconds=5), dt.timedelta(hours=-1), None]


@pytest.mark.parametrize("placeholder, binary", [("%t", False), ("%t", True), ("%b", False),
                                                 ("%b", True)])
def test_server_side_parameters(server, placeholder, binary):
    server.calls.clear()
    with server.connect(prepare_threshold=0) as conn:
        for value in VALUES:
            row = conn.execute(f"select {placeholder}", [value], binary=binary).fetchone()
            assert row == (value,), value
        row = conn.execute(f"select {placeholder}, 7", [Json({"a": [1, 2]})],
                           binary=binary).fetchone()
        assert row == ({"a": [1, 2]}, 7)
        conn.execute("insert into kv values (%s, %s)", ["pk", "pv"])
        assert conn.execute("select v from kv where k = %s", ["pk"]).fetchall() == [("pv",)]
    assert {"prepare", "execute"} <= set(server.calls) and "simple" not in server.calls


@pytest.mark.parametrize("prepare_threshold", [None, 0])
def test_errors_leave_the_session_usable(server, prepare_threshold):
    with server.connect(prepare_threshold=prepare_threshold) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero) as info:
            conn.execute("select %s, 1/0" if prepare_threshold == 0 else "select 1/0",
                         [1] if prepare_threshold == 0 else None)
        assert info.value.sqlstate == "22012"
        assert info.value.diag.message_primary == "division by zero"
        with pytest.raises(psycopg.errors.InternalError_) as info:
            conn.execute("select crash()")
        assert info.value.sqlstate == "XX000" and "tripped" in str(info.value)
        with pytest.raises(psycopg.errors.InternalError_, match="2 values for 1 columns"):
            conn.execute("select badrow()")
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("selectt 1")
        assert conn.execute("select 5").fetchone() == (5,)


def test_results_larger_than_the_output_buffer(server):
    with server.connect(prepare_threshold=0) as conn:
        assert conn.execute("select series(100000)").fetchall()[-1] == (100000,)
        rows = conn.execute("select series(100000)", binary=True).fetchall()
        assert len(rows) == 100000 and rows[-1] == (100000,)


def test_transaction_status(server):
    with psycopg.connect(server.dsn()) as conn:     # not autocommit: psycopg sends BEGIN
        assert conn.info.transaction_status == TransactionStatus.IDLE
        conn.execute("select 1")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("select 1/0")
        assert conn.info.transaction_status == TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert conn.execute("select 2").fetchone() == (2,)


def test_startup_settings_and_refusal(server):
    with psycopg.connect(server.dsn(options="'-c search_path=s1'", application_name="x")):
        assert server.backends[-1].settings == {"search_path": "s1",
                                                "application_name": "x"}
    with pytest.raises(psycopg.OperationalError,
                       match='database "nosuchdb" does not exist'):
        psycopg.connect(server.dsn(dbname="nosuchdb"))


def test_newer_protocol_is_negotiated_down(server):
    with psycopg.connect(server.dsn(max_protocol_version="latest")) as conn:
        assert conn.info.pgconn.protocol_version == 3
        assert conn.execute("select 1").fetchone() == (1,)


def test_cancel_request(server):
    with server.connect() as conn:
        assert conn.info.backend_pid == BACKEND_KEY[0]
        server.cancels.clear()
        conn.cancel_safe(timeout=5)
        assert server.cancels == [BACKEND_KEY]
        assert conn.execute("select 1").fetchone() == (1,)


def test_psql(server):
    out = subprocess.run(
        ["psql", "-X", "-At", server.dsn(), "-c", "select 1", "-c", "select 'a', 2"],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1", "a|2"]
    out = subprocess.run(["psql", "-X", server.dsn(), "-c", "select 1/0"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 1 and "ERROR:  division by zero" in out.stderr


def test_password_authentication(loop):
    async def authenticate(user, database, password):
        if password != "sekret":
            raise AuthError(f'password authentication failed for user "{user}"',
                            sqlstate="28P01")

    srv = Server(loop, authenticate=authenticate)
    try:
        with psycopg.connect(srv.dsn(password="sekret")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError,
                           match="password authentication failed"):
            psycopg.connect(srv.dsn(password="wrong"))
    finally:
        srv.close()


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_tls(tls_server, negotiation):
    dsn = tls_server.dsn(sslmode="require", sslnegotiation=negotiation)
    with psycopg.connect(dsn) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("select %s::text", ["secure"]).fetchone() == ("secure",)


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_tls_on_streams_made_by_open_connection(loop, tls_context, negotiation):
    """As the compute service makes them: an accepted socket, then open_connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)

    async def serve_one():
        client, _ = await asyncio.get_running_loop().sock_accept(listener)
        reader, writer = await asyncio.open_connection(sock=client)
        await serve_connection(reader, writer, toy_factory, ssl_context=tls_context)

    served = asyncio.run_coroutine_threadsafe(serve_one(), loop)
    port = listener.getsockname()[1]
    dsn = f"host=127.0.0.1 port={port} user=admin sslmode=require " \
          f"sslnegotiation={negotiation}"
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.pgconn.ssl_in_use and conn.execute("select 1").fetchone() == (1,)
        served.result(5)
    finally:
        listener.close()


def test_tls_is_required(tls_server):
    with pytest.raises(psycopg.OperationalError, match="SSL/TLS required"):
        psycopg.connect(tls_server.dsn(sslmode="disable"))


def test_direct_tls_requires_alpn(tls_server):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as sock, \
            context.wrap_socket(sock) as tls:
        raw = Raw.__new__(Raw)
        raw.sock, raw.buf = tls, b""
        kind, body = raw.read()
        assert kind == b"E" and error_fields(body)["C"] == "08P01"
        assert "ALPN" in error_fields(body)["M"]


def _tls_raw(port: int) -> "Raw":
    """A raw client over a real TLS socket, negotiated by SSLRequest as libpq does."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(struct.pack("!II", 8, 80877103))
    assert sock.recv(1) == b"S"
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    raw = Raw.__new__(Raw)
    raw.sock, raw.buf = context.wrap_socket(sock), b""
    return raw


#: garbage right after a valid StartupMessage, in the same TLS write: a message type the
#: server does not expect there, with a plausible length whose body never comes
GARBAGE_AFTER_STARTUP = [b"\x17\x00\x00\x00\x40garbage", b"?\x00\x00\x01\x00", b"\xff\xfe"]


@pytest.mark.parametrize("garbage", GARBAGE_AFTER_STARTUP)
@pytest.mark.parametrize("password", [True, False], ids=["password", "trust"])
def test_garbage_after_the_startup_message_over_tls_is_refused_at_once(
        loop, tls_context, garbage, password):
    """PostgreSQL reads a message's type byte first and refuses an unexpected one at once
    (FATAL 08P01, then close); the server must not wait for the rest of the garbage
    (it used to: until the 60 s startup timeout, or for ever after login). The client
    keeps its socket open: only the server's answer and close end the exchange, and the
    socket's 5 s timeout fails the test if they do not come."""
    async def authenticate(user, database, pw):
        if pw != "secret":
            raise DsqlError("password authentication failed", sqlstate="28P01")

    srv = Server(loop, ssl_context=tls_context, require_tls=True,
                 **({"authenticate": authenticate} if password else {}))
    try:
        raw = _tls_raw(srv.port)
        with raw.sock:
            raw.send(startup_packet({"user": "admin", "database": "postgres"}) + garbage)
            messages = [raw.read()]
            while messages[-1][0] != b"E":
                messages.append(raw.read())
            assert messages[0][0] == b"R"            # AuthenticationCleartextPassword / Ok
            if password:
                assert messages[0][1] == struct.pack("!i", 3)
            else:
                assert messages[-2][0] == b"Z"          # logged in, then the garbage
            fields = error_fields(messages[-1][1])
            assert (fields["S"], fields["C"]) == ("FATAL", "08P01"), fields
            assert raw.at_eof()                          # and the server closed
        raw = _tls_raw(srv.port)                         # the server serves on
        with raw.sock:
            raw.send(startup_packet({"user": "admin", "database": "postgres"}))
            if password:
                assert raw.read()[0] == b"R"
                raw.send(frame(b"p", cstr("secret")))
            assert raw.until()[-1] == (b"Z", b"I")
    finally:
        srv.close()


# =======================================================================================
# End to end: raw protocol

def test_execute_with_row_limit_suspends_the_portal(raw_client):
    raw = raw_client()
    raw.send(parse("select series(5)"), bind(result_formats=(1,)), describe("P"),
             execute(max_rows=2), execute(max_rows=2), execute(max_rows=2), SYNC)
    messages = raw.until()
    assert kinds(messages) == "12TDDsDDsDCZ"
    assert messages[2][1].endswith(struct.pack("!h", 1))            # binary format column
    assert [struct.unpack("!i", body[-4:])[0] for kind, body in messages if kind == b"D"] \
        == [1, 2, 3, 4, 5]
    assert messages[-2][1] == cstr("SELECT 1")


def test_named_statements_and_portals(raw_client):
    raw = raw_client()
    raw.send(parse("select $1::int8, $2", "s1", (0, t.TEXT)), describe("S", "s1"), SYNC)
    messages = raw.until()
    assert kinds(messages) == "1tTZ"
    assert messages[1][1] == struct.pack("!HII", 2, t.INT8, t.TEXT)
    raw.send(bind(portal="p1", statement="s1", params=[b"\0" * 7 + b"\x05", b"x"],
                  param_formats=(1, 0)),
             bind(portal="p2", statement="s1", params=[b"6", None]),
             execute("p1"), execute("p2"), close("P", "p1"), SYNC)
    messages = raw.until()
    assert kinds(messages) == "22DCDC3Z"
    assert messages[2][1] == b"\0\x02\0\0\0\x015\0\0\0\x01x"
    assert messages[4][1] == b"\0\x02\0\0\0\x016\xff\xff\xff\xff"
    raw.send(parse("select 1", "s1"), bind(statement="s1"), SYNC)  # re-Parse, then skipped
    messages = raw.until()
    assert kinds(messages) == "EZ" and error_fields(messages[0][1])["C"] == "42P05"
    raw.send(close("S", "s1"), bind(statement="s1"), SYNC)
    messages = raw.until()
    assert kinds(messages) == "3EZ" and error_fields(messages[1][1])["C"] == "26000"
    raw.send(execute("p2"), SYNC)                                    # portals die at Sync
    assert error_fields(raw.until()[0][1])["C"] == "34000"


def test_portals_live_until_the_transaction_ends(raw_client):
    raw = raw_client()
    raw.send(q("begin"))
    assert raw.until()[-1] == (b"Z", b"T")
    raw.send(parse("select series(3)"), bind(portal="c"), execute("c", 1), SYNC)
    assert kinds(raw.until()) == "12DsZ"
    raw.send(execute("c", 0), SYNC)
    assert kinds(raw.until()) == "DDCZ"
    raw.send(q("commit"), execute("c", 0), SYNC)
    assert kinds(raw.until()) == "CZ" and error_fields(raw.until()[0][1])["C"] == "34000"


def test_errors_skip_to_sync_and_flush_sends_early(raw_client):
    raw = raw_client()
    raw.send(parse("select 1/0"), bind(), execute(),
             parse("select 1"), bind(), execute(), SYNC)
    messages = raw.until()
    assert kinds(messages) == "12EZ" and error_fields(messages[2][1])["C"] == "22012"
    raw.send(parse("select 1"), FLUSH)
    assert raw.read() == (b"1", b"")                                 # no Sync needed
    raw.send(bind(params=[b"1"]), SYNC)
    messages = raw.until()
    assert kinds(messages) == "EZ" and "supplies 1 parameters" in error_fields(
        messages[0][1])["M"]
    raw.send(bind(params=[b"x"], param_formats=(0, 1)), SYNC)
    assert error_fields(raw.until()[0][1])["C"] == "08P01"


def test_an_error_is_sent_without_waiting_for_sync(raw_client):
    """asyncpg waits for the ErrorResponse of a failed Bind before it sends Sync."""
    raw = raw_client()
    raw.send(parse("select 1/0"), bind(), execute(), FLUSH)
    messages = raw.until(b"E")
    assert kinds(messages) == "12E" and error_fields(messages[2][1])["C"] == "22012"
    raw.send(SYNC)
    assert raw.until() == [(b"Z", b"I")]


def test_empty_queries(raw_client):
    raw = raw_client()
    raw.send(q(""))
    assert kinds(raw.until()) == "IZ"
    raw.send(parse(" ; "), bind(), describe("P"), execute(), SYNC)
    assert kinds(raw.until()) == "12nIZ"


def test_partial_results_then_error(raw_client):
    raw = raw_client()
    raw.send(q("select 1; select 1/0; select 2"))
    messages = raw.until()
    assert kinds(messages) == "TDCEZ"


def test_pre_startup_negotiation_and_cancel(server, raw_client):
    raw = raw_client(startup=False)
    raw.send(struct.pack("!iI", 8, pgwire.GSSENC_REQUEST_CODE))
    assert raw._recv(1) == b"N"
    raw.send(struct.pack("!iI", 8, pgwire.SSL_REQUEST_CODE))
    assert raw._recv(1) == b"N"
    raw.startup({"user": "u", "_pq_.frob": "1"}, version=pgwire.PROTOCOL_3_0 | 2)
    messages = raw.until()
    assert kinds(messages).startswith("vR") and kinds(messages).endswith("KZ")
    assert messages[0][1] == struct.pack("!II", pgwire.PROTOCOL_3_0, 1) + cstr("_pq_.frob")
    assert messages[-2][1] == struct.pack("!II", *BACKEND_KEY)
    server.cancels.clear()
    cancel = raw_client(startup=False)
    cancel.send(struct.pack("!iIII", 16, pgwire.CANCEL_REQUEST_CODE, 1, 2))
    assert cancel.at_eof() and server.cancels == [(1, 2)]


@pytest.mark.parametrize("stream, sqlstate", [
    (frame(b"?", b"garbage"), "08P01"),                                  # unknown type
    (b"Q" + struct.pack("!i", 2 ** 31 - 1), "08P01"),                    # too long
    (b"Q\0\0\0\x02", "08P01"),                                           # too short
    (frame(b"Q", b"select 1"), "08P01"),                                 # no terminator
    (frame(b"P", cstr("") + cstr("select 1") + b"\0\x05"), "08P01"),     # truncated body
    (frame(b"D", b"Zx\0"), "08P01"),                                     # bad subtype
])
def test_protocol_violations_are_fatal(raw_client, stream, sqlstate):
    raw = raw_client()
    raw.send(stream)
    kind, body = raw.read()
    assert kind == b"E"
    assert error_fields(body)["S"] == "FATAL" and error_fields(body)["C"] == sqlstate
    assert raw.at_eof()


def test_startup_is_bounded_in_time(loop):
    srv = Server(loop, startup_timeout=0.2)
    raw = Raw(srv.port, startup=False)
    try:
        raw.send(STARTUP[:10])                  # and then nothing
        assert raw.at_eof()
    finally:
        raw.sock.close()
        srv.close()


async def toy_factory(user: str, database: str, settings: dict) -> DictBackend:
    return DictBackend({}, [], settings)


def test_first_bytes_already_read_by_the_caller(loop):
    async def handle(reader, writer):      # e.g. a listener that sniffed the first bytes
        first_bytes = await reader.readexactly(6)
        await serve_connection(reader, writer, toy_factory, first_bytes=first_bytes)

    srv = asyncio.run_coroutine_threadsafe(asyncio.start_server(handle, "127.0.0.1", 0),
                                           loop).result(5)
    port = srv.sockets[0].getsockname()[1]
    dsn = f"host=127.0.0.1 port={port} user=admin dbname=postgres sslmode=disable"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    loop.call_soon_threadsafe(srv.close)


def test_bad_startup_packets(raw_client):
    for packet, message in [
            (struct.pack("!iI", 8, 2 << 16), "unsupported frontend protocol"),
            (struct.pack("!i", 100_000), "invalid length of startup packet"),
            (struct.pack("!iI", 9, pgwire.PROTOCOL_3_0) + b"\0", "user name")]:
        raw = raw_client(startup=False)
        raw.send(packet)
        kind, body = raw.read()
        assert kind == b"E" and message in error_fields(body)["M"] and raw.at_eof()


# =======================================================================================
# Fuzzing: no byte stream may crash or hang the server

STARTUP = startup_packet({"user": "admin", "database": "postgres"})
SESSION = STARTUP + q("select 1; select 'x'") + parse("select $1::int4", "s", (t.INT4,)) \
    + bind(statement="s", params=[b"\0\0\0\x07"], param_formats=(1,), result_formats=(1,)) \
    + describe("P") + execute(max_rows=1) + close("S", "s") + SYNC + q("begin") + TERMINATE


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    out = bytearray(data)
    for position, byte in edits:
        out[position % len(out)] = byte
    return bytes(out[:cut])


streams = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda tail: STARTUP + tail),
    st.builds(_mutate, st.just(SESSION),
              st.lists(st.tuples(st.integers(0, len(SESSION)), st.integers(0, 255)),
                       max_size=4),
              st.integers(0, len(SESSION))),
    st.lists(st.tuples(st.sampled_from(list(b"QPBDESHCpdcfFz")), st.binary(max_size=40)),
             max_size=8).map(lambda msgs: STARTUP + b"".join(frame(bytes([k]), body)
                                                             for k, body in msgs)),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams)
def test_garbage_never_breaks_the_server(server, stream, caplog):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            sock.sendall(stream)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):       # the server must answer and close, not hang
                pass
        except ConnectionResetError:
            pass
    assert not server.escaped
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "unexpected error"
    with server.connect(prepare_threshold=0) as conn:
        assert conn.execute("select %s::int4", [3]).fetchone() == (3,)
