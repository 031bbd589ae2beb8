"""Fuzzing the cluster's PostgreSQL port: random bytes, mutated startup packets and TLS
handshakes, garbage inside TLS, corrupted message streams after login, oversized and
truncated messages, connections dropped mid-message.

Each case runs on a fresh socket: the client sends its bytes, then closes its sending
side. The server must answer with ErrorResponses carrying a proper SQLSTATE (never
XX000, an internal error) and/or close the connection, within a bounded time. After
each batch a well-formed client (psycopg, TLS, token) still works, and the relay and
compute actors are ALIVE in ``dsql-ray status`` with the same process ids (nothing
crashed or was restarted) and the relay's open-connection count back where it was.
Seeds are fixed (``derandomize``): a failure reproduces.
"""
from __future__ import annotations

import json
import re
import socket
import ssl
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from . import rawpg
from .rawpg import cstr, frame

pytestmark = pytest.mark.timeout(300)

CLOSE_WITHIN_S = 10.0        # after the client's EOF, the server must have closed
MAX_MESSAGE = 64 * 1024 * 1024
MAX_STARTUP = 10_000


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# -- the cluster's health ------------------------------------------------------------

def front_end(cluster) -> dict[str, dict]:
    rows = json.loads(cluster.cli("status", "--json").stdout)
    return {r["name"]: r for r in rows if r.get("role") in ("relay", "compute")}


@pytest.fixture(scope="module")
def baseline(cluster):
    with cluster.connect() as conn:         # the cluster serves before the fuzzing
        assert conn.execute("SELECT 1").fetchone() == (1,)
    rows = front_end(cluster)
    assert {r["state"] for r in rows.values()} == {"ALIVE"}, rows
    return rows


@pytest.fixture(scope="module")
def token(cluster) -> str:
    return cluster.token()


def assert_healthy(cluster, baseline) -> None:
    with cluster.connect() as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
    deadline = time.monotonic() + 15
    while True:
        rows = front_end(cluster)
        assert set(rows) == set(baseline), rows
        for name, row in rows.items():
            assert row["state"] == "ALIVE", row
            assert row["pid"] == baseline[name]["pid"], f"{name} was restarted: {row}"
        if rows["relay"]["open"] <= baseline["relay"]["open"]:
            return                          # every fuzzed session was counted closed
        assert time.monotonic() < deadline, ("the relay still counts sessions the "
                                             f"fuzzing left: {rows['relay']}")
        time.sleep(1)


# -- one exchange ----------------------------------------------------------------------

def half_close(sock: socket.socket) -> None:
    """EOF to the server; a TLS socket stays readable (no close_notify either)."""
    socket.socket.shutdown(sock, socket.SHUT_WR)


def exchange(sock: socket.socket, data: bytes, *, abrupt: bool = False) -> bytes:
    """Send ``data``, then EOF (or a reset, ``abrupt``); the server must close."""
    with sock:
        try:
            sock.sendall(data)
        except OSError:
            pass                    # the server already refused and closed
        if abrupt:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        try:
            half_close(sock)
        except OSError:
            pass
        reply, closed = rawpg.read_until_closed(sock, CLOSE_WITHIN_S)
    assert closed, (f"still open {CLOSE_WITHIN_S}s after EOF; sent {data[:100]!r}, "
                    f"got {reply[:200]!r}")
    assert b"XX000" not in reply, reply[:500]
    return reply


def assert_proper_errors(reply: bytes) -> None:
    """``reply`` is plaintext protocol (inside TLS): every ErrorResponse well formed."""
    for fields in rawpg.errors(reply):
        assert fields.get("S") in ("ERROR", "FATAL"), fields
        code = fields.get("C", "")
        assert len(code) == 5 and code != "XX000", fields
        assert fields.get("M"), fields


# -- what to send ------------------------------------------------------------------------

def client_hello(alpn: bool) -> bytes:
    """A real TLS ClientHello (as the first flight of a real client)."""
    context = rawpg.client_context()
    if alpn:
        context.set_alpn_protocols(["postgresql"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


STARTUP = rawpg.startup_packet()
PRE_STARTUP = [
    STARTUP,
    rawpg.SSL_REQUEST,
    rawpg.SSL_REQUEST + STARTUP,
    struct.pack("!II", 8, 80877104) + STARTUP,                 # GSSENCRequest
    struct.pack("!IIII", 16, 80877102, 0x01000001, 1234),      # CancelRequest
    struct.pack("!I", 196608 + 1) + cstr("user") + b"x\0\0",   # no length at all
]
INT32_SPECIALS = [-1, -2 ** 31, 0, 3, 4, 5, 7, 8, 16, 2 ** 31 - 1, MAX_STARTUP + 1,
                  MAX_MESSAGE + 1]

VALID_MESSAGES = [
    frame(b"Q", cstr("SELECT 1")),
    frame(b"Q", cstr("SELECT $1")),
    frame(b"Q", cstr("")),
    frame(b"P", cstr("") + cstr("SELECT $1::int") + struct.pack("!HI", 1, 23)),
    frame(b"P", cstr("s1") + cstr("SELECT 1") + struct.pack("!H", 0)),
    frame(b"B", cstr("") + cstr("") + struct.pack("!Hh", 1, 0) + struct.pack("!H", 1)
          + struct.pack("!i", 1) + b"7" + struct.pack("!H", 0)),
    frame(b"B", cstr("") + cstr("") + struct.pack("!Hh", 1, 1) + struct.pack("!H", 1)
          + struct.pack("!ii", 4, 7) + struct.pack("!Hh", 1, 1)),
    frame(b"D", b"P" + cstr("")),
    frame(b"D", b"S" + cstr("s1")),
    frame(b"E", cstr("") + struct.pack("!i", 0)),
    frame(b"E", cstr("") + struct.pack("!i", 1)),
    frame(b"C", b"S" + cstr("s1")),
    frame(b"H"),
    frame(b"S"),
    frame(b"F", struct.pack("!I", 1)),              # FunctionCall: not supported
    frame(b"d", b"xyz"), frame(b"c"), frame(b"f", cstr("no")),
]


@st.composite
def mutated(draw, pieces: list[bytes], count: tuple[int, int] = (1, 4)) -> bytes:
    """A few valid pieces, concatenated, then damaged: bits flipped, an Int32 (a length
    field, often) replaced by a nasty value, bytes inserted, unknown message types,
    the stream cut short."""
    parts = draw(st.lists(st.sampled_from(pieces), min_size=count[0], max_size=count[1]))
    data = bytearray(b"".join(parts))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "int32", "insert", "unknown", "cut", "keep"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "int32" and len(data) >= 4:
            pos = min(pos, len(data) - 4)
            data[pos:pos + 4] = struct.pack("!i", draw(st.sampled_from(INT32_SPECIALS)))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "unknown":
            kind = draw(st.sampled_from([b"\0", b"z", b"\xff", b"A", b"R", b"p"]))
            data[pos:pos] = kind + struct.pack("!i", 4 + 2) + b"??"
        elif op == "cut":
            del data[pos:]
    return bytes(data)


# -- the batches ---------------------------------------------------------------------

def test_random_bytes_before_startup(cluster, baseline):
    @fuzz(60)
    @given(st.binary(max_size=300), st.booleans())
    def case(data, abrupt):
        exchange(rawpg.connect(cluster.port), data, abrupt=abrupt and len(data) % 3 == 0)
    case()
    assert_healthy(cluster, baseline)


def test_mutated_startup_packets(cluster, baseline):
    @fuzz(80)
    @given(mutated(PRE_STARTUP, (1, 2)))
    def case(data):
        reply = exchange(rawpg.connect(cluster.port), data)
        if reply[:1] == b"E":       # a refusal before any negotiation: plaintext
            assert_proper_errors(reply)
    case()
    assert_healthy(cluster, baseline)


def test_mutated_tls_handshakes(cluster, baseline):
    hellos = [rawpg.SSL_REQUEST + client_hello(alpn=False), client_hello(alpn=True)]

    @fuzz(50)
    @given(mutated(hellos, (1, 1)))
    def case(data):
        exchange(rawpg.connect(cluster.port), data)
    case()
    assert_healthy(cluster, baseline)


def test_garbage_inside_tls_before_startup(cluster, baseline):
    @fuzz(40)
    @given(st.one_of(mutated([STARTUP, rawpg.SSL_REQUEST], (1, 2)), st.binary(max_size=200)))
    def case(data):
        sock = rawpg.start_tls(rawpg.connect(cluster.port))
        assert_proper_errors(exchange(sock, data))
    case()
    assert_healthy(cluster, baseline)


def test_corrupted_message_streams_after_login(cluster, baseline, token):
    @fuzz(150)
    @given(mutated(VALID_MESSAGES, (1, 6)), st.booleans())
    def case(data, abrupt):
        sock = rawpg.login(cluster.port, token)
        reply = exchange(sock, data, abrupt=abrupt and data[-1:] == b"\0")
        assert_proper_errors(reply)
    case()
    assert_healthy(cluster, baseline)


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=24)
PARAMETER_NAMES = ["user", "database", "options", "application_name", "client_encoding",
                   "DateStyle", "TimeZone", "search_path", "replication", "_pq_.frob", "x"]


def test_fuzzed_startup_parameters_and_passwords(cluster, baseline, token):
    """Startup parameters (user, database, options, settings) and passwords (the token,
    damaged, or any text): refused with 28000/28P01/3D000/08P01/..., or served."""
    @fuzz(80)
    @given(st.dictionaries(st.sampled_from(PARAMETER_NAMES),
                           st.one_of(st.sampled_from(["admin", "postgres", "-c x=1"]), TEXT),
                           max_size=4),
           st.one_of(st.just(token), st.builds(lambda cut: token[:cut], st.integers(0, 400)),
                     st.builds(lambda i, c: token[:i] + c + token[i + 1:],
                               st.integers(0, 400), st.sampled_from("%&=/aZ0")), TEXT))
    def case(params, password):
        body = struct.pack("!I", rawpg.PROTOCOL_3_0) + b"".join(
            cstr(k) + cstr(v) for k, v in params.items()) + b"\0"
        data = (struct.pack("!I", len(body) + 4) + body + frame(b"p", cstr(password))
                + frame(b"Q", cstr("SELECT 1")) + frame(b"X"))
        assert_proper_errors(exchange(rawpg.start_tls(rawpg.connect(cluster.port)), data))
    case()
    assert_healthy(cluster, baseline)


def test_a_token_signed_at_the_end_of_time_is_refused(cluster, baseline, token):
    """Found by fuzzing: a token dated 9999-12-31 overflowed the expiry computation and
    the client saw an internal error (XX000) instead of a refusal."""
    forged = re.sub(r"X-Amz-Date=\d+T\d+Z", "X-Amz-Date=99991231T235959Z", token)
    sock = rawpg.start_tls(rawpg.connect(cluster.port))
    reply = exchange(sock, rawpg.startup_packet() + frame(b"p", cstr(forged)))
    assert [(e["S"], e["C"]) for e in rawpg.errors(reply)] == [("FATAL", "28P01")], reply


# -- named cases: limits that must answer at once, without the client's EOF ----------------

def refused_at_once(sock: socket.socket, data: bytes, sqlstate: str) -> dict:
    """Send ``data`` and keep the connection open: the server must answer with a FATAL
    error with ``sqlstate`` and close, by itself."""
    with sock:
        sock.sendall(data)
        reply, closed = rawpg.read_until_closed(sock, CLOSE_WITHIN_S)
    assert closed, f"the server did not close; got {reply[:200]!r}"
    errors = rawpg.errors(reply)
    assert errors and errors[-1]["S"] == "FATAL" and errors[-1]["C"] == sqlstate, reply
    return errors[-1]


def test_oversized_and_malformed_lengths_are_refused_at_once(cluster, baseline, token):
    port = cluster.port
    # startup packets: too long, too short (plaintext, then inside TLS)
    refused_at_once(rawpg.connect(port), struct.pack("!i", MAX_STARTUP + 1) + b"\0" * 64,
                    "08P01")
    refused_at_once(rawpg.connect(port), struct.pack("!i", 2), "08P01")
    refused_at_once(rawpg.start_tls(rawpg.connect(port)),
                    struct.pack("!i", 2 ** 31 - 1) + b"\0" * 4, "08P01")
    # an unsupported protocol version
    refused_at_once(rawpg.start_tls(rawpg.connect(port)),
                    struct.pack("!II", 8, 2 << 16), "0A000")
    # a password message larger than any token
    sock = rawpg.start_tls(rawpg.connect(port))
    sock.sendall(STARTUP)                   # answered with a password request
    fields = refused_at_once(sock, b"p" + struct.pack("!i", 1 << 20) + b"x" * 64, "08P01")
    assert "length" in fields["M"]
    # after login: a message over the maximum size, a negative and a short length,
    # an unknown message type
    for data in (b"Q" + struct.pack("!i", MAX_MESSAGE + 1) + b"SELECT 1",
                 b"Q" + struct.pack("!i", -5), b"P" + struct.pack("!i", 3),
                 frame(b"\x7f", b"hello")):
        fields = refused_at_once(rawpg.login(port, token), data, "08P01")
        print(data[:12], "->", fields["M"])
    assert_healthy(cluster, baseline)


def test_a_session_survives_bad_message_contents(cluster, baseline, token):
    """Bad contents of a well-formed message are an error, not the session's end: the
    next Query still runs. (A malformed message body is a FATAL protocol violation.)"""
    prepare = frame(b"P", cstr("s1") + cstr("SELECT $1::int") + struct.pack("!HI", 1, 23))
    sock = rawpg.login(cluster.port, token)
    with sock:
        for bad, sqlstate in (
                (frame(b"Q", b"SELECT '\xff\xfe'\0"), "22021"),           # not UTF-8
                (frame(b"B", cstr("") + cstr("nope") + b"\0" * 6), "26000"),
                (prepare + frame(b"B", cstr("") + cstr("s1") + struct.pack("!Hh", 1, 1)
                                 + struct.pack("!Hi", 1, 3) + b"abc" + b"\0\0"),
                 "22P03"),                                            # binary int4 of 3
                (frame(b"B", cstr("") + cstr("s1") + struct.pack("!Hhh", 2, 0, 0)
                       + struct.pack("!Hi", 1, 1) + b"7" + b"\0\0"), "08P01"),
                (frame(b"F", struct.pack("!I", 1)), "0A000")):
            sock.sendall(bad + frame(b"S") + frame(b"Q", cstr("SELECT 42")))
            reply = b""
            while not any(k == b"C" and body == b"SELECT 1\0"
                          for k, body in rawpg.messages(reply)) or reply[-6:-1] != \
                    b"Z\0\0\0\x05":
                chunk = sock.recv(65536)
                assert chunk, f"closed after {bad!r}: {reply!r}"
                reply += chunk
            assert_proper_errors(reply)
            assert [e["C"] for e in rawpg.errors(reply)] == [sqlstate], reply
    assert_healthy(cluster, baseline)
