"""One PostgreSQL client session over asyncio streams, from connect to close.

Serves the pre-startup exchanges (SSLRequest, GSSENCRequest, CancelRequest, direct TLS),
startup and authentication, then the simple and extended query protocols on top of a
:class:`~dsql_ray.frontend.backend.SessionBackend`. Plain asyncio, no Ray.

Protocol flow: https://www.postgresql.org/docs/current/protocol-flow.html

Output is buffered and flushed once per ReadyForQuery and Flush (and when a long result
fills the buffer), never once per message. Every read is bounded: startup packets by
``MAX_STARTUP_LEN``, other messages by ``max_message_len``; the startup phase as a whole
by ``startup_timeout``.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import re
import secrets
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from ..errors import AuthError, DsqlError, FeatureNotSupported, ProtocolError
from .backend import (Column, CopyInHandler, CopyOutHandler, PreparedInfo, QueryResult,
                      SessionBackend)
from .pgwire import (AUTHENTICATION_CLEARTEXT_PASSWORD, AUTHENTICATION_OK, BIND_COMPLETE,
                     CLOSE_COMPLETE, EMPTY_QUERY_RESPONSE, MAX_AUTH_LEN, MAX_MESSAGE_LEN,
                     MAX_STARTUP_LEN, NO_DATA, PARSE_COMPLETE, PORTAL_SUSPENDED,
                     PROTOCOL_3_0, TLS_HANDSHAKE_BYTE, Bind, CancelRequest, SSLRequest,
                     StartupMessage, TextInput, append_data_rows, backend_key_data,
                     column_encoders, command_complete, decode_value, error_response,
                     expand_format_codes, negotiate_protocol_version, notice_response,
                     parameter_description,
                     parameter_status, parse_bind, parse_close, parse_describe, parse_execute,
                     parse_parse, parse_password, parse_query, parse_startup_packet,
                     ready_for_query, row_description)

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, str, dict[str, str]], Awaitable[SessionBackend]]
Authenticator = Callable[[str, str, str], Awaitable[None]]
CancelHandler = Callable[[int, int], Awaitable[None] | None]

STARTUP_TIMEOUT_S = 60.0          # as PostgreSQL's authentication_timeout
FLUSH_THRESHOLD = 256 * 1024      # flush a long result early instead of holding it all
READ_CHUNK = 64 * 1024           # bytes one read of the client stream asks for
ROW_SHAPES_MAX = 4                # RowDescriptions one prepared statement keeps built
ALPN_PROTOCOL = "postgresql"

_LENGTH = struct.Struct("!i")
_BLANK_QUERY = re.compile(r"[\s;]*")
_QUERY, _PARSE, _BIND, _DESCRIBE, _EXECUTE, _SYNC, _FLUSH, _CLOSE, _TERMINATE = b"QPBDESHCX"
_FUNCTION_CALL, _PASSWORD = b"Fp"
_COPY_DATA, _COPY_DONE, _COPY_FAIL = b"dcf"


class _Disconnected(Exception):
    """The client's stream failed while we wrote to it: nothing more can be sent."""


def server_ssl_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server TLS context fit for :func:`serve_connection`: TLS 1.2+, no
    renegotiation, and ALPN ``postgresql`` (which direct TLS requires)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols([ALPN_PROTOCOL])
    return context


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           backend_factory: BackendFactory, *,
                           ssl_context: ssl.SSLContext | None = None,
                           require_tls: bool = False,
                           authenticate: Authenticator | None = None,
                           backend_key: tuple[int, int] | None = None,
                           on_cancel: CancelHandler | None = None,
                           first_bytes: bytes = b"",
                           max_message_len: int = MAX_MESSAGE_LEN,
                           startup_timeout: float = STARTUP_TIMEOUT_S,
                           refusal: DsqlError | None = None,
                           text_input: TextInput | None = None) -> None:
    """Serve one client connection until it terminates; never raises (but for
    cancellation), always closes the stream and the backend.

    * ``backend_factory(user, database, settings)`` creates the session's backend after
      authentication; ``settings`` holds the startup parameters other than user and
      database, with the ``options`` switches (``-c name=value``) expanded.
    * ``authenticate(user, database, password)``, if given, is called with the password
      the client sends in answer to AuthenticationCleartextPassword; it raises a
      DsqlError to refuse.
    * ``backend_key`` is the (process id, secret key) pair sent in BackendKeyData (two
      unsigned 32-bit ints; random if not given). A CancelRequest on another
      connection calls ``on_cancel(pid, secret)`` (plain or async) and closes.
    * ``ssl_context`` enables TLS, negotiated by SSLRequest or direct (a ClientHello as
      first bytes, PostgreSQL 17+, which requires ALPN ``postgresql``: see
      :func:`server_ssl_context`). ``require_tls`` refuses clients that do not use it.
    * ``first_bytes`` are bytes the caller already read from ``reader``.
    * ``refusal``: answer the StartupMessage with this error, before authentication (as
      PostgreSQL at max_connections); a CancelRequest is still served.
    * ``text_input``: the backend's SQL input function for Bind parameters in text
      format the wire cannot decode itself (see :func:`~.pgwire.decode_value`).
    """
    wire = _Wire(reader, writer, first_bytes)
    backend: SessionBackend | None = None
    try:
        async with asyncio.timeout(startup_timeout):
            startup = await _negotiate(wire, ssl_context, require_tls, on_cancel)
            if startup is not None:
                backend = await _open_backend(wire, startup, backend_factory, authenticate,
                                              refusal)
                _greet(wire, backend, backend_key or _random_key())
        if backend is not None:
            await wire.flush()
            await _Session(wire, backend, max_message_len, text_input).run()
    except DsqlError as exc:        # FATAL: a startup refusal or a protocol violation
        await wire.send_fatal(exc)
    except (OSError, asyncio.IncompleteReadError, _Disconnected):
        pass                        # the client went away, or startup timed out
    except Exception as exc:
        log.exception("pgwire session failed")
        await wire.send_fatal(DsqlError(f"internal error: {exc}"))
    finally:
        if backend is not None:
            await _close_backend(backend)
        await wire.close()


def _random_key() -> tuple[int, int]:
    return secrets.randbits(31), secrets.randbits(32)


async def _close_backend(backend: SessionBackend) -> None:
    try:
        await backend.close()
    except Exception:
        log.exception("backend close failed")


async def _negotiate(wire: _Wire, ssl_context: ssl.SSLContext | None, require_tls: bool,
                     on_cancel: CancelHandler | None) -> StartupMessage | None:
    """Serve the packets that may precede the StartupMessage and return it, or None
    after a CancelRequest. SSLRequest and GSSENCRequest may each come once."""
    if ssl_context is not None and await wire.peek_byte() == TLS_HANDSHAKE_BYTE:
        if await wire.start_tls(ssl_context) != ALPN_PROTOCOL:
            raise ProtocolError("received direct SSL connection request without ALPN "
                                "protocol negotiation extension")
    answered: set[type] = set()
    while True:
        packet = parse_startup_packet(await wire.read_startup_packet())
        if isinstance(packet, StartupMessage):
            if require_tls and not wire.tls:
                raise AuthError("SSL/TLS required")
            return packet
        if isinstance(packet, CancelRequest):
            if on_cancel is not None:
                outcome = on_cancel(packet.pid, packet.secret)
                if inspect.isawaitable(outcome):
                    await outcome
            return None
        if type(packet) in answered or wire.tls:
            raise ProtocolError("unexpected encryption request")
        answered.add(type(packet))
        accept = isinstance(packet, SSLRequest) and ssl_context is not None
        wire.send(b"S" if accept else b"N")    # 'N' also answers GSSENCRequest
        await wire.flush()
        if accept:
            await wire.start_tls(ssl_context)


async def _open_backend(wire: _Wire, startup: StartupMessage,
                        backend_factory: BackendFactory,
                        authenticate: Authenticator | None,
                        refusal: DsqlError | None = None) -> SessionBackend:
    """Authenticate the user (cleartext password exchange) and create the backend."""
    if startup.minor != 0 or startup.protocol_options:
        wire.send(negotiate_protocol_version(PROTOCOL_3_0, startup.protocol_options))
    user, database = startup.user, startup.database
    if not user:
        raise AuthError("no PostgreSQL user name specified in startup packet")
    if refusal is not None:
        raise refusal
    if authenticate is not None:
        wire.send(AUTHENTICATION_CLEARTEXT_PASSWORD)
        await wire.flush()
        kind = await wire.read_kind()
        if kind != _PASSWORD:
            raise ProtocolError(f"expected password response, got message type {kind}")
        body = await wire.read_body(MAX_AUTH_LEN)
        await authenticate(user, database, parse_password(body))
    wire.send(AUTHENTICATION_OK)
    return await backend_factory(user, database, startup.settings)


def _greet(wire: _Wire, backend: SessionBackend, backend_key: tuple[int, int]) -> None:
    for name, value in backend.parameter_status().items():
        wire.send(parameter_status(name, value))
    wire.send(backend_key_data(*backend_key))
    wire.send(ready_for_query(backend.txn_status))


# ---------------------------------------------------------------------------------------
# Framed I/O

class _Wire:
    """The client stream: bounded framed reads and one output buffer.

    Reads take what the client sent together in one bounded read (at most
    ``READ_CHUNK`` bytes, or the rest of one message): a pipelined Bind/Describe/
    Execute/Sync then costs one await of the stream, not three per message."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 pending: bytes):
        self.reader: Any = reader
        self.writer: Any = writer
        self._buf, self._pos = pending, 0   # bytes received and not yet read: _buf[_pos:]
        self.out = bytearray()
        self.tls = False

    async def read(self, n: int) -> bytes:
        pos = self._pos
        if pos + n > len(self._buf):
            await self._receive(n)
            pos = 0
        self._pos = pos + n
        return self._buf[pos:pos + n]

    async def _receive(self, n: int) -> None:
        """Read from the stream until ``n`` bytes are held (the rest of a long message
        in reads of what the stream has, never more than it needs past READ_CHUNK)."""
        held = bytearray(self._buf[self._pos:])
        while len(held) < n:
            chunk = await self.reader.read(max(READ_CHUNK, n - len(held)))
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(held), n)
            held += chunk
        self._buf, self._pos = bytes(held), 0

    async def peek_byte(self) -> int:
        if self._pos >= len(self._buf):
            await self._receive(1)
        return self._buf[self._pos]

    async def read_startup_packet(self) -> bytes:
        """Int32 length (counting itself), then the packet: returns the packet."""
        (length,) = _LENGTH.unpack(await self.read(4))
        if not 8 <= length <= MAX_STARTUP_LEN:
            raise ProtocolError("invalid length of startup packet")
        return await self.read(length - 4)

    async def read_message(self, max_len: int) -> tuple[int, bytes]:
        """Byte1 type, Int32 length (counting itself), then the body: returns both."""
        kind = await self.read_kind()
        return kind, await self.read_body(max_len)

    async def read_kind(self) -> int:
        """A message's type byte alone: the caller refuses a type it does not expect
        before waiting for a body that a garbled stream may never complete (PostgreSQL
        checks the type first too)."""
        return (await self.read(1))[0]

    async def read_body(self, max_len: int) -> bytes:
        """Int32 length (counting itself), then the body, after :meth:`read_kind`."""
        (length,) = _LENGTH.unpack(await self.read(4))
        if not 4 <= length <= max_len:
            raise ProtocolError("invalid message length")
        return await self.read(length - 4) if length > 4 else b""

    def send(self, message: bytes) -> None:
        self.out += message

    async def flush(self) -> None:
        if self.out:
            data, self.out = self.out, bytearray()
            try:
                self.writer.write(data)
                await self.writer.drain()
            except OSError as exc:
                raise _Disconnected from exc

    async def send_fatal(self, error: DsqlError) -> None:
        self.send(error_response(error, severity="FATAL"))
        try:
            await self.flush()
        except _Disconnected:
            pass

    async def start_tls(self, context: ssl.SSLContext) -> str | None:
        """Run the TLS handshake on the stream (whatever was already read from it
        being its first bytes); return the negotiated ALPN protocol."""
        stream = _TlsStream(self.reader, self.writer, context, self._buf[self._pos:])
        self.reader = self.writer = stream
        self._buf, self._pos, self.tls = b"", 0, True
        return await stream.handshake()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


class _TlsStream:
    """TLS in user space (an ``ssl.SSLObject`` over memory BIOs) on an open stream,
    with the reader/writer methods the session uses.

    Why not ``StreamWriter.start_tls``: it cannot be handed bytes already read (direct
    TLS reads the ClientHello's first byte to tell it from a startup packet), and it
    infers the server side from how the streams were made (``open_connection`` streams
    would shake hands as a client). Here every byte after the SSLRequest goes through
    TLS, so plaintext injected before the handshake cannot pass for protocol data
    (CVE-2021-23214). Measured as fast as ``start_tls``, with asyncio and with uvloop.
    Reads are pulled on demand: a client cannot make the server buffer ahead.
    """
    _CHUNK = 64 * 1024

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 context: ssl.SSLContext, received: bytes):
        self._reader, self._writer = reader, writer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._incoming.write(received)
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._plain = bytearray()

    async def handshake(self) -> str | None:
        """Complete the handshake; return the negotiated ALPN protocol."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._receive()
        self._send_outgoing()
        await self._writer.drain()
        return self._tls.selected_alpn_protocol()

    async def _receive(self) -> None:
        self._send_outgoing()
        await self._writer.drain()
        data = await self._reader.read(self._CHUNK)
        if not data:
            raise asyncio.IncompleteReadError(b"", None)
        self._incoming.write(data)

    def _send_outgoing(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of plaintext, once there are any (b"" after close_notify)."""
        plain = self._plain
        while not plain:
            try:
                chunk = self._tls.read(self._CHUNK)
            except ssl.SSLWantReadError:
                await self._receive()
                continue
            except ssl.SSLZeroReturnError:          # close_notify
                return b""
            if not chunk:
                return b""
            plain += chunk
        data = bytes(plain[:n])
        del plain[:n]
        return data

    def write(self, data: bytes) -> None:
        self._tls.write(data)
        self._send_outgoing()

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()


# ---------------------------------------------------------------------------------------
# Query protocols

@dataclass(slots=True)
class _Statement:
    sql: str
    info: PreparedInfo
    blank: bool             # no statement at all: EmptyQueryResponse, no backend call
    #: its RowDescription (or NoData) by result format codes, built once each
    shapes: dict[tuple[int, ...], bytes] = field(default_factory=dict)


@dataclass(slots=True)
class _Portal:
    """A bound statement. Its first Execute runs it to completion; the rows wait here
    for the Executes that follow when a row limit cuts them."""
    statement: _Statement
    params: list[Any]
    result_codes: tuple[int, ...]
    result: QueryResult | None = None
    encoders: list[Callable[[Any], bytes]] | None = None
    sent: int = 0


class _Session:
    """The authenticated session: the message loop and its prepared statements and
    portals. After an error in an extended-query message, messages are discarded until
    Sync; a simple Query always ends with ReadyForQuery."""

    def __init__(self, wire: _Wire, backend: SessionBackend, max_message_len: int,
                 text_input: TextInput | None = None):
        self._wire, self._backend, self._max_len = wire, backend, max_message_len
        self._text_input = text_input
        self._statements: dict[str, _Statement] = {}
        self._portals: dict[str, _Portal] = {}
        self._skipping = False
        self._handlers: dict[int, Callable[[bytes], Awaitable[None]]] = {
            _QUERY: self._query, _PARSE: self._parse, _BIND: self._bind,
            _DESCRIBE: self._describe, _EXECUTE: self._execute, _SYNC: self._sync,
            _FLUSH: self._flush, _CLOSE: self._close, _FUNCTION_CALL: self._function_call,
            # outside COPY these are stragglers of a failed COPY: ignored, as PostgreSQL
            _COPY_DATA: self._ignore, _COPY_DONE: self._ignore, _COPY_FAIL: self._ignore,
        }

    async def run(self) -> None:
        wire, handlers = self._wire, self._handlers
        while True:
            kind = await wire.read_kind()
            handler = handlers.get(kind)
            if handler is None and kind != _TERMINATE:
                raise ProtocolError(f"invalid frontend message type {kind}")
            body = await wire.read_body(self._max_len)
            if kind == _TERMINATE:
                return
            if self._skipping and kind != _SYNC:
                continue
            try:
                await handler(body)
            except _Disconnected:
                raise
            except Exception as exc:
                await self._fail(exc, simple=kind in (_QUERY, _FUNCTION_CALL))

    async def _fail(self, exc: Exception, *, simple: bool) -> None:
        """Report a failed message. FATAL errors end the session (raised on)."""
        if isinstance(exc, DsqlError):
            if exc.severity in ("FATAL", "PANIC"):
                raise exc
            error = exc
        else:
            log.error("unexpected error serving a query", exc_info=exc)
            error = DsqlError(str(exc) or type(exc).__name__)
        self._send_notices()
        self._wire.send(error_response(error))
        if simple:
            await self._ready()
        else:
            self._backend.abort_block()
            # flushed now, as PostgreSQL does: the client may wait for it before its Sync
            # (a Flush would be skipped with everything else until Sync)
            self._skipping = True
            await self._wire.flush()

    async def _ready(self) -> None:
        status = self._backend.txn_status
        if status == "I":
            self._portals.clear()           # portals live until their transaction ends
        self._wire.send(ready_for_query(status))
        await self._wire.flush()

    async def _send_rows(self, rows: Sequence[Sequence[Any]],
                         encoders: list[Callable[[Any], bytes]]) -> None:
        out = self._wire.out
        mark = len(out)
        try:
            append_data_rows(out, rows, encoders)
        except BaseException:
            del out[mark:]                  # never leave half a DataRow in the stream
            raise
        if len(out) >= FLUSH_THRESHOLD:
            await self._wire.flush()

    # -- simple query ------------------------------------------------------------------

    async def _query(self, body: bytes) -> None:
        """Query: each result as RowDescription, DataRows, CommandComplete; then
        ReadyForQuery (sent by _fail on error, after the results that succeeded)."""
        sql = parse_query(body)
        self._portals.pop("", None)
        try:
            results = await self._backend.execute_simple(sql)
        except DsqlError as exc:
            self._send_notices()
            for result in getattr(exc, "partial_results", ()):
                await self._send_simple_result(result)
            raise
        self._send_notices()
        if not results:
            self._wire.send(EMPTY_QUERY_RESPONSE)
        for result in results:
            await self._send_simple_result(result)
        await self._ready()

    def _send_notices(self) -> None:
        notices = self._backend.notices
        for message in notices:
            self._wire.send(notice_response(message))
        notices.clear()

    async def _send_simple_result(self, result: QueryResult) -> None:
        if isinstance(result, CopyInHandler):
            await self._copy_in_simple(result)
            return
        if isinstance(result, CopyOutHandler):
            await self._copy_out(result)
            self._wire.send(command_complete(result.tag))
            return
        if result.columns is not None:
            self._wire.send(row_description(result.columns))
            await self._send_rows(result.rows, column_encoders(result.columns))
        self._wire.send(command_complete(result.tag))

    async def _function_call(self, body: bytes) -> None:
        raise FeatureNotSupported("the function call protocol is not supported")

    async def _ignore(self, body: bytes) -> None:
        pass

    # -- COPY: FROM STDIN, TO STDOUT ---------------------------------------------------

    async def _copy_in(self, copy: CopyInHandler) -> QueryResult:
        """CopyInResponse (``copy.width`` columns), then the client's CopyData
        until CopyDone (→ the ``COPY n`` result) or CopyFail (→ 57014). Flush and Sync
        are ignored meanwhile, as PostgreSQL does; any other message is an error. After
        an error the client's remaining CopyData/CopyDone/CopyFail are dropped (the
        ``_ignore`` handlers)."""
        wire = self._wire
        wire.send(_copy_response(b"G", copy.width, copy.format))
        await wire.flush()
        try:
            while True:
                kind, body = await wire.read_message(self._max_len)
                if kind == _COPY_DATA:
                    await copy.data(body)
                elif kind == _COPY_DONE:
                    return await copy.done()
                elif kind == _COPY_FAIL:
                    await copy.fail(parse_query(body))
                elif kind == _TERMINATE:
                    raise _Disconnected()
                elif kind not in (_FLUSH, _SYNC):
                    raise DsqlError(f"unexpected message type 0x{kind:02X} during COPY "
                                    "from stdin", sqlstate="08P01")
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise _Disconnected() from exc      # the client went away mid-COPY
        finally:
            copy.abandon()                  # a no-op once the COPY ended

    async def _copy_out(self, copy: CopyOutHandler) -> None:
        """COPY TO STDOUT: CopyOutResponse, one CopyData per line, CopyDone (then the
        caller's CommandComplete ``COPY n``)."""
        wire, width = self._wire, len(copy.columns)
        wire.send(_copy_response(b"H", width, copy.format))
        encoders = column_encoders(copy.columns, [copy.format] * width)
        rows = ([None if value is None else encode(value)
                 for value, encode in zip(row, encoders)] for row in copy.rows)
        for chunk in copy.chunks(rows):
            wire.send(_copy_data(chunk))
            if len(wire.out) >= FLUSH_THRESHOLD:
                await wire.flush()
        wire.send(_COPY_DONE_MESSAGE)

    async def _copy_in_simple(self, copy: CopyInHandler) -> None:
        """A COPY in a simple query, then the statements that followed it."""
        self._wire.send(command_complete((await self._copy_in(copy)).tag))
        if not copy.rest:
            return
        try:
            results = await self._backend.execute_simple(copy.rest)
        except DsqlError as exc:
            for result in getattr(exc, "partial_results", ()):
                await self._send_simple_result(result)
            raise
        for result in results:
            await self._send_simple_result(result)

    # -- extended query ----------------------------------------------------------------

    async def _parse(self, body: bytes) -> None:
        msg = parse_parse(body)
        if not msg.name:
            self._statements.pop("", None)
        elif msg.name in self._statements:
            raise DsqlError(f'prepared statement "{msg.name}" already exists',
                            sqlstate="42P05")
        blank = _BLANK_QUERY.fullmatch(msg.query) is not None
        if blank:
            info = PreparedInfo(list(msg.param_oids), None)
        else:
            info = await self._backend.prepare(msg.query, msg.param_oids)
        self._statements[msg.name] = _Statement(msg.query, info, blank)
        self._wire.send(PARSE_COMPLETE)

    async def _bind(self, body: bytes) -> None:
        msg = parse_bind(body)
        if not msg.portal:
            self._portals.pop("", None)
        elif msg.portal in self._portals:
            raise DsqlError(f'cursor "{msg.portal}" already exists', sqlstate="42P03")
        statement = self._statement(msg.statement)
        params = _decode_params(msg, statement.info.param_type_oids, self._text_input)
        columns = statement.info.columns
        if columns is not None:     # check the result format codes now, as PostgreSQL
            expand_format_codes(msg.result_formats, len(columns), "result")
        self._portals[msg.portal] = _Portal(statement, params, msg.result_formats)
        self._wire.send(BIND_COMPLETE)

    async def _describe(self, body: bytes) -> None:
        """Describe statement: ParameterDescription, then RowDescription (format codes
        still unknown: zero) or NoData. Describe portal: RowDescription or NoData."""
        kind, name = parse_describe(body)
        if kind == "S":
            statement = self._statement(name)
            self._wire.send(parameter_description(statement.info.param_type_oids))
            self._wire.send(_statement_shape(statement, ()))
        else:
            portal = self._portal(name)
            result = portal.result
            if result is None:
                self._wire.send(_statement_shape(portal.statement, portal.result_codes))
            else:
                self._wire.send(_row_shape(result.columns, portal.result_codes))

    async def _execute(self, body: bytes) -> None:
        name, max_rows = parse_execute(body)
        portal = self._portal(name)
        statement = portal.statement
        if statement.blank:
            self._wire.send(EMPTY_QUERY_RESPONSE)
            return
        if portal.result is None:
            result = await self._backend.execute_prepared(
                statement.sql, statement.info.param_type_oids, portal.params)
            self._send_notices()
            if isinstance(result, CopyInHandler):      # COPY FROM STDIN: its data comes now
                result = await self._copy_in(result)
            elif isinstance(result, CopyOutHandler):
                await self._copy_out(result)
                result = QueryResult(result.tag)
            portal.result = result
        await self._send_portal_rows(portal, max_rows)

    async def _send_portal_rows(self, portal: _Portal, max_rows: int) -> None:
        """The next ``max_rows`` rows (all if 0), then PortalSuspended if rows remain,
        else CommandComplete (for SELECT, counting the rows of this Execute, as
        PostgreSQL does)."""
        result = portal.result
        assert result is not None
        if result.columns is None:
            self._wire.send(command_complete(result.tag))
            return
        if portal.encoders is None:
            codes, width = portal.result_codes, len(result.columns)
            portal.encoders = column_encoders(result.columns,
                                              expand_format_codes(codes, width, "result"))
        rows, start = result.rows, portal.sent
        stop = len(rows) if max_rows <= 0 else min(len(rows), start + max_rows)
        await self._send_rows(rows[start:stop], portal.encoders)
        portal.sent = stop
        if stop < len(rows):
            self._wire.send(PORTAL_SUSPENDED)
        elif result.tag.startswith("SELECT "):
            self._wire.send(command_complete(f"SELECT {stop - start}"))
        else:
            self._wire.send(command_complete(result.tag))

    async def _close(self, body: bytes) -> None:
        kind, name = parse_close(body)
        (self._statements if kind == "S" else self._portals).pop(name, None)
        self._wire.send(CLOSE_COMPLETE)

    async def _sync(self, body: bytes) -> None:
        self._skipping = False
        await self._ready()

    async def _flush(self, body: bytes) -> None:
        await self._wire.flush()

    def _statement(self, name: str) -> _Statement:
        statement = self._statements.get(name)
        if statement is None:
            raise DsqlError(f'prepared statement "{name}" does not exist' if name
                            else "unnamed prepared statement does not exist",
                            sqlstate="26000")
        return statement

    def _portal(self, name: str) -> _Portal:
        portal = self._portals.get(name)
        if portal is None:
            raise DsqlError(f'portal "{name}" does not exist', sqlstate="34000")
        return portal


def _row_shape(columns: list[Column] | None, codes: Sequence[int]) -> bytes:
    """RowDescription with these result format codes, or NoData."""
    if columns is None:
        return NO_DATA
    return row_description(columns, expand_format_codes(codes, len(columns), "result"))


def _statement_shape(statement: _Statement, codes: tuple[int, ...]) -> bytes:
    """A prepared statement's row shape, built once per format codes (at most
    ROW_SHAPES_MAX of them per statement)."""
    shape = statement.shapes.get(codes)
    if shape is None:
        shape = _row_shape(statement.info.columns, codes)
        if len(statement.shapes) < ROW_SHAPES_MAX:
            statement.shapes[codes] = shape
    return shape


def _decode_params(msg: Bind, type_oids: Sequence[int],
                   text_input: TextInput | None) -> list[Any]:
    if len(msg.params) != len(type_oids):
        raise DsqlError(f"bind message supplies {len(msg.params)} parameters, but "
                        f'prepared statement "{msg.statement}" requires {len(type_oids)}',
                        sqlstate="08P01")
    formats = expand_format_codes(msg.param_formats, len(type_oids), "parameter")
    return [None if raw is None else decode_value(raw, oid, fmt, text_input)
            for raw, oid, fmt in zip(msg.params, type_oids, formats)]


def _copy_response(kind: bytes, width: int, fmt: int) -> bytes:
    """CopyInResponse ('G') / CopyOutResponse ('H'): Int8 overall format (0 text, 1
    binary), Int16 n, Int16[n] column formats (the same)."""
    payload = struct.pack(f"!bh{width}h", fmt, width, *([fmt] * width))
    return kind + _LENGTH.pack(len(payload) + 4) + payload


def _copy_data(data: bytes) -> bytes:
    return b"d" + _LENGTH.pack(len(data) + 4) + data


_COPY_DONE_MESSAGE = b"c\0\0\0\4"
