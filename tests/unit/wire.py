"""The in-process cluster behind a real front end: the relay's accept loop, the socket
hand-off to a compute service, TLS and SigV4 tokens, and psycopg as the client.

``WireSession`` speaks to it as a test speaks to an in-process ``Session``
(``execute_simple``, ``notices``, ``txn_status``), so a suite written against sessions
runs again over the wire, through either of PostgreSQL's protocols:

* ``simple``: psycopg's default for a statement without parameters (Query);
* ``extended``: what libpq's PQsendQueryParams, JDBC, pgx, asyncpg and psycopg with
  parameters send for every statement (Parse, Bind, Describe portal, Execute, Sync).
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from pathlib import Path
from typing import Any

import boto3
import psycopg
from botocore.credentials import ReadOnlyCredentials

from dsql_ray.compute.service import ComputeService, handoff_address
from dsql_ray.errors import DsqlError
from dsql_ray.frontend.backend import Column, QueryResult
from dsql_ray.frontend.tls import self_signed_certificate, server_ssl_context
from dsql_ray.frontend.tokens import TokenVerifier
from dsql_ray.relay.relay import AdmissionLimits, Relay
from dsql_ray.testing.protocols import cursor_factory

KEYS = ReadOnlyCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                           None)
SDK = boto3.Session(aws_access_key_id=KEYS.access_key,
                    aws_secret_access_key=KEYS.secret_key).client("dsql", region_name="us-east-1")


def token() -> str:
    """Minted for each connection, as a client does (one minted at import could expire
    before a slow suite reaches these tests)."""
    return SDK.generate_db_connect_admin_auth_token("localhost", "us-east-1", 900)


def tls_context(directory: Path) -> ssl.SSLContext:
    cert, key = self_signed_certificate(["localhost", "127.0.0.1"])
    (directory / "server.crt").write_bytes(cert)
    (directory / "server.key").write_bytes(key)
    return server_ssl_context(str(directory / "server.crt"), str(directory / "server.key"))


class FrontEnd:
    """A relay on a free port handing connections to one compute service; TLS when a
    context is given (then required, as the cluster requires it)."""

    def __init__(self, cluster, name: str, limits: AdmissionLimits | None = None,
                 ssl_context: ssl.SSLContext | None = None):
        self.compute = ComputeService(
            cluster.node, handoff_address(name, "compute-0"), ssl_context=ssl_context,
            require_tls=ssl_context is not None,
            verifier=TokenVerifier(KEYS, "us-east-1", ["localhost"]))
        entry = {"handoff": self.compute.handoff}
        self.relay = Relay("127.0.0.1", 0, ["compute-0"], lambda _: entry, limits)
        self.port = self.relay.address[1]
        self.sslmode = "require" if ssl_context is not None else "disable"

    def connect(self, protocol: str = "simple") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="admin",
                               dbname="postgres", password=token(), sslmode=self.sslmode,
                               autocommit=True, connect_timeout=10,
                               cursor_factory=cursor_factory(protocol))

    def stop(self) -> None:
        self.relay.stop()
        self.compute.stop()


_PARAM = re.compile(r"\$\d+")
_COPY_IN = re.compile(r"\s*COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
_STATUS = {psycopg.pq.TransactionStatus.IDLE: "I", psycopg.pq.TransactionStatus.INTRANS: "T",
           psycopg.pq.TransactionStatus.INERROR: "E"}


class WireSession:
    """One client connection through ``front``, shaped like compute's ``Session``."""

    def __init__(self, front: "WireCluster", protocol: str | None = None):
        self.node = front              # WireSession(s.node) opens another connection
        self.protocol = protocol or front.protocol
        self.conn: psycopg.Connection | None = None     # connected at the first statement
        self.notices: list[str] = []
        front.sessions.append(self)

    @property
    def txn_status(self) -> str:
        return "I" if self.conn is None else _STATUS[self.conn.info.transaction_status]

    async def execute_simple(self, text: str) -> list[QueryResult]:
        """In a thread: the server side lives on this very event loop."""
        return await asyncio.to_thread(self._execute, text)

    async def execute_prepared(self, text: str, param_type_oids, params: list,
                               max_rows: int = 0) -> QueryResult:
        """$n parameters, sent as text of unknown type (what the session is given)."""
        query = _PARAM.sub("%s", text)
        return (await asyncio.to_thread(self._execute, query, params))[-1]

    def _execute(self, text: str, params: list | None = None) -> list[QueryResult]:
        if self.conn is None:
            self.conn = self.node.front.connect(self.protocol)
            self.conn.add_notice_handler(lambda d: self.notices.append(d.message_primary))
        if _COPY_IN.match(text):
            return [WireCopyIn(self, text)]
        with _as_dsql_error():
            cur = self.conn.execute(text, params)
        results = []
        while True:
            results.append(_result(cur))
            if not cur.nextset():
                return results

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class WireCopyIn:
    """COPY FROM STDIN as a session's CopyIn handler is driven (data, then done); the
    rows go out through psycopg's copy() at ``done``."""

    def __init__(self, session: WireSession, text: str):
        self.session, self.text, self.chunks = session, text, []

    async def data(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    async def done(self) -> QueryResult:
        return await asyncio.to_thread(self._send)

    def _send(self) -> QueryResult:
        with _as_dsql_error():
            cur = self.session.conn.cursor()
            with cur.copy(self.text) as copy:
                for chunk in self.chunks:
                    copy.write(chunk)
        return QueryResult(cur.statusmessage or "")


@contextlib.contextmanager
def _as_dsql_error():
    """A server's error as the in-process session raises it."""
    try:
        yield
    except psycopg.Error as e:
        if e.sqlstate is None:
            raise
        raise DsqlError(e.diag.message_primary or str(e), sqlstate=e.sqlstate,
                        detail=e.diag.message_detail, hint=e.diag.message_hint) from e


def _result(cur: psycopg.Cursor) -> QueryResult:
    if cur.description is None:
        return QueryResult(cur.statusmessage or "")
    columns = [Column(d.name, d.type_code) for d in cur.description]
    return QueryResult(cur.statusmessage or "", columns, cur.fetchall())


class WireCluster:
    """The in-process cluster ``c`` of a scenario, whose ``session()`` is a client
    connection over the wire; everything else is the cluster's own."""

    def __init__(self, cluster, protocol: str, directory: Path):
        self._cluster = cluster
        self.protocol = protocol
        self.front = FrontEnd(cluster, f"wire{id(self)}", ssl_context=tls_context(directory))
        self.sessions: list[WireSession] = []

    def session(self) -> WireSession:
        return WireSession(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)

    def stop(self) -> None:
        for s in self.sessions:
            s.close()
        self.front.stop()
