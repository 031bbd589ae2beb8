"""Every statement kind through the extended protocol, message by message, against a real
PostgreSQL: the same bytes go to both servers and the answers must have the same shape.

A statement is sent as drivers send it, in one batch ending in Sync:
* ``params``: Parse, Bind, Describe portal, Execute, Sync (libpq's PQsendQueryParams,
  psycopg with parameters, pgx, node-postgres);
* ``bare``: Parse, Bind, Execute, Sync (no Describe: a client that knows the shape);
* ``jdbc``: Parse, Describe statement, Bind, Execute, Sync (pgjdbc; asyncpg's prepare).
Named statements follow pgjdbc past its prepareThreshold: one Parse, then Bind/Execute of
the name again and again, then Close.

What is compared: the kinds of the messages in order (a run of DataRows counts as one),
CommandComplete tags, RowDescription column names, ParameterDescription type OIDs, the
SQLSTATE of an error, and the data rows where both servers must agree.
"""
from __future__ import annotations

import socket
import struct
import uuid

import pytest

from dsql_ray.testing.postgres import PostgresServer

from .rawpg import cstr, frame, login, messages, startup_packet

TABLE = f"conf_{uuid.uuid4().hex[:8]}"

#: (statement, compare data rows too)
STATEMENTS = [
    (f"CREATE TABLE {TABLE} (id int PRIMARY KEY, v text)", True),
    (f"INSERT INTO {TABLE} VALUES (1, 'a'), (2, 'b')", True),
    (f"INSERT INTO {TABLE} VALUES (3, 'c') RETURNING id, v", True),
    (f"SELECT v FROM {TABLE} WHERE id = 1", True),
    (f"SELECT id, v FROM {TABLE} ORDER BY id", True),
    (f"SELECT v FROM {TABLE} WHERE id = 99", True),
    (f"UPDATE {TABLE} SET v = 'z' WHERE id = 1", True),
    (f"UPDATE {TABLE} SET v = 'y' WHERE id = 2 RETURNING v", True),
    (f"DELETE FROM {TABLE} WHERE id = 3", True),
    (f"ALTER TABLE {TABLE} ADD COLUMN note text", True),
    (f"CREATE VIEW {TABLE}_v AS SELECT id FROM {TABLE}", True),
    (f"DROP VIEW {TABLE}_v", True),
    ("SHOW timezone", True),
    ("SHOW server_version_num", False),
    ("SET application_name = 'conformance'", True),
    ("SHOW application_name", True),
    ("RESET application_name", True),
    ("SELECT current_setting('application_name')", True),
    (f"EXPLAIN SELECT * FROM {TABLE} WHERE id = 1", False),
    ("BEGIN", True),
    (f"SELECT count(*) FROM {TABLE}", True),
    ("COMMIT", True),
    ("START TRANSACTION", True),
    ("ROLLBACK", True),
    (f"COPY {TABLE} (id, v) TO STDOUT", True),
    (f"COPY (SELECT id FROM {TABLE} ORDER BY id) TO STDOUT WITH (FORMAT csv)", True),
    ("", True),
    ("SELECT 1 / 0", True),
    ("SELECT * FROM no_such_table_at_all", True),
    ("SELEC 1", True),
    ("DISCARD ALL", True),
    ("DEALLOCATE ALL", True),
    (f"DROP TABLE {TABLE}", True),
]
SHAPES = ("params", "bare", "jdbc")
#: where dsql-ray answers otherwise, and why: compared from PostgreSQL's ErrorResponse on
DEVIATIONS = {
    "SELECT 1 / 0": "a constant expression is evaluated when the statement is planned, at "
                    "Parse; PostgreSQL plans an unnamed statement at Bind, after "
                    "ParseComplete (and Describe statement's answers)",
}


class Wire:
    """A raw protocol session (TLS and a password for dsql-ray, plaintext trust for the
    reference server)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def exchange(self, *msgs: bytes) -> list[tuple[bytes, bytes]]:
        """Send the messages; read the answers up to ReadyForQuery."""
        self.sock.sendall(b"".join(msgs))
        data = bytearray()
        while True:
            got = messages(bytes(data))
            if got and got[-1][0] == b"Z":
                return got
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            data += chunk

    def close(self) -> None:
        self.sock.sendall(frame(b"X"))
        self.sock.close()


def reference_wire(pg: PostgresServer) -> Wire:
    sock = socket.create_connection(("127.0.0.1", pg.port), timeout=10)
    wire = Wire(sock)
    sock.sendall(startup_packet())
    data = bytearray()
    while not any(k == b"Z" for k, _ in messages(bytes(data))):
        chunk = sock.recv(65536)
        assert chunk, "the reference server closed the connection"
        data += chunk
    return wire


def parse(sql: str, name: str = "") -> bytes:
    return frame(b"P", cstr(name) + cstr(sql) + struct.pack("!h", 0))


def bind(name: str = "") -> bytes:
    return frame(b"B", cstr("") + cstr(name) + struct.pack("!hhh", 0, 0, 0))


def describe(kind: bytes, name: str = "") -> bytes:
    return frame(b"D", kind + cstr(name))


EXECUTE = frame(b"E", cstr("") + struct.pack("!i", 0))
SYNC = frame(b"S")


def batch(sql: str, shape: str) -> list[bytes]:
    if shape == "params":
        return [parse(sql), bind(), describe(b"P"), EXECUTE, SYNC]
    if shape == "bare":
        return [parse(sql), bind(), EXECUTE, SYNC]
    return [parse(sql), describe(b"S"), bind(), EXECUTE, SYNC]


def summary(answers: list[tuple[bytes, bytes]], data: bool) -> list:
    """The shape of the answers: message kinds (DataRow runs as one), tags, column names,
    parameter types, SQLSTATEs, and the rows themselves when ``data``."""
    out: list = []
    for kind, body in answers:
        if kind in (b"N", b"S"):                 # notices, parameter status: not compared
            continue
        if kind in (b"D", b"d"):
            if data:
                out.append((kind, body))
            elif not out or out[-1] != (kind, "*"):
                out.append((kind, "*"))
        elif kind == b"C":
            out.append((kind, body.rstrip(b"\0").decode()))
        elif kind == b"T":
            out.append((kind, _column_names(body)))
        elif kind == b"t":
            out.append((kind, body))
        elif kind == b"E":
            fields = dict((p[:1], p[1:]) for p in body.split(b"\0") if p)
            out.append((kind, fields[b"C"].decode()))
        elif kind == b"Z":
            out.append((kind, body))
        else:
            out.append((kind, None))
    return out


def expected(sql: str, want: list) -> list:
    """PostgreSQL's answer, from its error on for a statement in DEVIATIONS."""
    if sql not in DEVIATIONS:
        return want
    return want[next(i for i, (kind, _) in enumerate(want) if kind == b"E"):]


def _column_names(body: bytes) -> list[str]:
    (count,) = struct.unpack_from("!h", body)
    names, pos = [], 2
    for _ in range(count):
        end = body.index(b"\0", pos)
        names.append(body[pos:end].decode())
        pos = end + 1 + 18
    return names


@pytest.fixture(scope="module")
def reference():
    with PostgresServer() as pg:
        yield pg


@pytest.mark.parametrize("shape", SHAPES)
def test_every_statement_kind_answers_as_postgresql_does(cluster, reference, shape):
    ours = Wire(login(cluster.port, cluster.token()))
    theirs = reference_wire(reference)
    try:
        for sql, data in STATEMENTS:
            got = summary(ours.exchange(*batch(sql, shape)), data)
            want = expected(sql, summary(theirs.exchange(*batch(sql, shape)), data))
            assert got == want, f"{shape}: {sql!r}\n ours:       {got}\n PostgreSQL: {want}"
    finally:
        ours.close()
        theirs.close()


def test_named_statements_past_pgjdbc_prepare_threshold(cluster, reference):
    """One Parse of S_1 (with its Describe), then Bind S_1 / Execute / Sync six times with
    different parameters, then Close: the same answers as PostgreSQL's."""
    ours = Wire(login(cluster.port, cluster.token()))
    theirs = reference_wire(reference)
    table = f"named_{uuid.uuid4().hex[:8]}"
    try:
        for wire in (ours, theirs):
            wire.exchange(parse(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)"), bind(),
                          EXECUTE, SYNC)
        prepare = frame(b"P", cstr("S_1") + cstr(f"INSERT INTO {table} VALUES ($1, $2)")
                        + struct.pack("!hII", 2, 23, 25))
        for wire in (ours, theirs):
            assert summary(wire.exchange(prepare, describe(b"S", "S_1"), SYNC), True) == [
                (b"1", None), (b"t", struct.pack("!hII", 2, 23, 25)), (b"n", None),
                (b"Z", b"I")]
        for i in range(6):
            params = [str(i).encode(), f"v{i}".encode()]
            bind_named = frame(b"B", cstr("") + cstr("S_1") + struct.pack("!hh", 0, 2)
                               + b"".join(struct.pack("!i", len(p)) + p for p in params)
                               + struct.pack("!h", 0))
            got = summary(ours.exchange(bind_named, EXECUTE, SYNC), True)
            want = summary(theirs.exchange(bind_named, EXECUTE, SYNC), True)
            assert got == want == [(b"2", None), (b"C", "INSERT 0 1"), (b"Z", b"I")]
        select = f"SELECT v FROM {table} ORDER BY id"
        got = summary(ours.exchange(*batch(select, "params")), True)
        assert got == summary(theirs.exchange(*batch(select, "params")), True)
        assert len([k for k, _ in got if k == b"D"]) == 6
        close = frame(b"C", b"S" + cstr("S_1"))
        for wire in (ours, theirs):
            assert summary(wire.exchange(close, SYNC), True) == [(b"3", None), (b"Z", b"I")]
            wire.exchange(parse(f"DROP TABLE {table}"), bind(), EXECUTE, SYNC)
    finally:
        ours.close()
        theirs.close()


def test_an_error_in_a_block_fails_the_block_as_in_postgresql(cluster, reference):
    """Parse errors and Execute errors inside BEGIN: later statements get 25P02 until
    ROLLBACK; COMMIT of a failed block answers ROLLBACK."""
    ours = Wire(login(cluster.port, cluster.token()))
    theirs = reference_wire(reference)
    steps = ["BEGIN", "SELEC 1", "SELECT 1", "COMMIT", "BEGIN", "SELECT 1 / 0", "SELECT 1",
             "ROLLBACK", "SELECT 1"]
    try:
        for sql in steps:
            got = summary(ours.exchange(*batch(sql, "params")), True)
            want = expected(sql, summary(theirs.exchange(*batch(sql, "params")), True))
            assert got == want, f"{sql!r}\n ours:       {got}\n PostgreSQL: {want}"
    finally:
        ours.close()
        theirs.close()
