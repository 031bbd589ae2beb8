"""Fuzzing the frontend-message decoders: any bytes either decode or raise a DsqlError
(which the session turns into an ErrorResponse with its SQLSTATE), never anything else
(which would reach the client as an internal error, XX000)."""
from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings, strategies as st

from dsql_ray.compute import types as T
from dsql_ray.errors import DsqlError
from dsql_ray.frontend import pgwire

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

DECODERS = [pgwire.parse_startup_packet, pgwire.parse_query, pgwire.parse_password,
            pgwire.parse_parse, pgwire.parse_bind, pgwire.parse_describe,
            pgwire.parse_close, pgwire.parse_execute]

VALUE_OIDS = [T.BOOL, T.INT2, T.INT4, T.INT8, T.OID, T.FLOAT4, T.FLOAT8, T.NUMERIC,
              T.BYTEA, T.UUID, T.DATE, T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL,
              T.TEXT, T.VARCHAR, T.BPCHAR, T.JSON, T.JSONB, T.UNKNOWN, 999_999]


def decodes_or_refuses(decode, *args) -> None:
    try:
        decode(*args)
    except DsqlError as exc:
        assert exc.sqlstate != "XX000", exc
        assert len(exc.sqlstate) == 5, exc


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def valid_messages() -> list[tuple[object, bytes]]:
    startup = struct.pack("!I", 196608) + cstr("user") + cstr("admin") + \
        cstr("options") + cstr("-c search_path=public") + b"\0"
    bind = (cstr("") + cstr("s1") + struct.pack("!H", 1) + struct.pack("!h", 1)
            + struct.pack("!H", 2) + struct.pack("!i", 4) + struct.pack("!i", 7)
            + struct.pack("!i", -1) + struct.pack("!H", 1) + struct.pack("!h", 0))
    return [(pgwire.parse_startup_packet, startup),
            (pgwire.parse_startup_packet, struct.pack("!III", 80877102, 1, 2)),
            (pgwire.parse_query, cstr("SELECT 1")),
            (pgwire.parse_parse, cstr("s1") + cstr("SELECT $1") + struct.pack("!HI", 1, 23)),
            (pgwire.parse_bind, bind),
            (pgwire.parse_describe, b"S" + cstr("s1")),
            (pgwire.parse_execute, cstr("") + struct.pack("!i", 0))]


@SETTINGS
@given(st.sampled_from(DECODERS), st.binary(max_size=200))
def test_random_bodies(decode, body):
    decodes_or_refuses(decode, body)


@st.composite
def mutated(draw):
    decode, body = draw(st.sampled_from(valid_messages()))
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "int"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "int" and len(data) >= pos + 4:
            value = draw(st.sampled_from([-1, -2, 0, 1, 0x7FFF, 0xFFFF, 2 ** 31 - 1]))
            data[pos:pos + 4] = struct.pack("!i", value)
    return decode, bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_valid_bodies(case):
    decodes_or_refuses(*case)


@SETTINGS
@given(st.binary(max_size=40), st.sampled_from(VALUE_OIDS),
       st.sampled_from([pgwire.TEXT_FORMAT, pgwire.BINARY_FORMAT]))
def test_bind_parameter_values(raw, oid, fmt):
    decodes_or_refuses(pgwire.decode_value, raw, oid, fmt)


@SETTINGS
@given(st.text(max_size=30), st.sampled_from(VALUE_OIDS))
def test_bind_parameter_text(text, oid):
    decodes_or_refuses(pgwire.decode_value, text.encode(), oid, pgwire.TEXT_FORMAT)


@SETTINGS
@given(st.lists(st.integers(-3, 3), max_size=4), st.integers(0, 3))
def test_format_codes(codes, count):
    decodes_or_refuses(pgwire.expand_format_codes, codes, count, "parameter")


# -- the password: an auth token, checked before anything else is believed ----------------

def _verifier_and_token():
    import boto3
    from botocore.credentials import ReadOnlyCredentials

    from dsql_ray.frontend.tokens import TokenVerifier
    keys = ReadOnlyCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                               None)
    host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
    client = boto3.Session(aws_access_key_id=keys.access_key,
                           aws_secret_access_key=keys.secret_key).client(
        "dsql", region_name="us-east-1")
    return (TokenVerifier(keys, "us-east-1", [host]),
            client.generate_db_connect_admin_auth_token(host, "us-east-1", 900))


VERIFIER, TOKEN = _verifier_and_token()
TOKEN_PIECES = ["%", "%FF", "%00", "&", "=", "/", "?", "99991231T235959Z", "00010101T000000Z",
                "604800", "9999999", "X-Amz-Date=", "Action=DbConnect", "aws4_request", ""]


@st.composite
def mutated_tokens(draw) -> str:
    token = TOKEN
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(token)))
        end = draw(st.integers(pos, min(len(token), pos + 20)))
        token = token[:pos] + draw(st.one_of(st.sampled_from(TOKEN_PIECES),
                                             st.text(max_size=4))) + token[end:]
    return token


def test_a_token_signed_at_the_end_of_time_is_refused_not_a_crash():
    import re
    for date in ("99991231T235959Z", "99991231T000000Z"):
        token = re.sub(r"X-Amz-Date=\d+T\d+Z", f"X-Amz-Date={date}", TOKEN)
        try:
            VERIFIER.verify(token, "admin")
        except DsqlError as exc:
            assert exc.sqlstate in ("28000", "28P01"), exc
        else:
            raise AssertionError("a forged token was accepted")


@SETTINGS
@given(st.one_of(mutated_tokens(), st.text(max_size=60)), st.sampled_from(["admin", "x"]))
def test_mutated_tokens(token, user):
    try:
        VERIFIER.verify(token, user)
    except DsqlError as exc:
        assert exc.sqlstate in ("28000", "28P01"), exc
