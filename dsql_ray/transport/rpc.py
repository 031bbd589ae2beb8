"""The data plane: multiplexed request/response over long-lived asyncio TCP connections.

A frame is a 4-byte big-endian length followed by a pickled tuple. Requests are
``(call_id, method, args)``; replies are ``(call_id, ok, value)``. One connection
carries many calls at once (pipelining); the server dispatches them in arrival order,
so a handler that does its ordering-sensitive work before its first ``await`` sees the
calls of one connection in the order they were sent (the journal relies on this).

Handlers are the methods named ``rpc_<method>`` of a plain object; they may be plain
functions or coroutines. A handler that raises sends the exception back; a
:class:`~dsql_ray.errors.DsqlError` arrives at the caller as itself. Everything is
bounded: frame size, calls in flight, and every call's wait (see ``limits``).

Peers are process-internal components of one trusted cluster, so pickle is the codec.

Every request this process sends is counted by its method (the request kind, the
``@request`` names of each role's ``interface.py``): :func:`sent_counts`, in every role's
status (``transport/host.py``, ``dsql-ray status --json``: ``rpc_sent``), what
``loadtests/round_trips.py`` reads to count the round trips of a transaction.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import socket
import struct
import time
from collections import Counter
from typing import Any, Awaitable, Callable

from .. import limits
from ..errors import Unavailable

log = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
FRAME_MAX = 256 * 1024 * 1024
_dumps = pickle.dumps
_loads = pickle.loads

#: requests this process sent, by method; counted as each is written (a dict increment)
_SENT: Counter[str] = Counter()


def sent_counts() -> dict[str, int]:
    """How many requests of each kind (method) this process has sent since it started."""
    return dict(_SENT)


def _frame(obj: Any) -> bytes:
    body = _dumps(obj, protocol=5)
    return _LEN.pack(len(body)) + body


def _tune(sock: socket.socket) -> None:
    """No Nagle delay; and a peer that stops acknowledging (its host died or was cut
    off: no RST comes) breaks the connection within seconds, failing its calls at once
    so the caller resolves the name again, instead of waiting for TCP's retransmissions
    (about 15 minutes) or for each call's own timeout."""
    idle, interval, probes = limits.rpc_keepalive_s
    for level, option, value in (
            (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPIDLE", None), idle),
            (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPINTVL", None), interval),
            (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPCNT", None), probes),
            (socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", None),
             limits.rpc_unacked_max_ms)):
        if option is None:          # not on this platform
            continue
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            pass


class _FrameProtocol(asyncio.Protocol):
    """Splits the byte stream into frames and hands each decoded frame to ``on_frame``."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune(sock)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size > FRAME_MAX:
                log.error("frame of %d bytes exceeds the limit; closing", size)
                self.transport.close()
                return
            if end - pos - 4 < size:
                break
            msg = _loads(memoryview(buf)[pos + 4:pos + 4 + size])
            pos += 4 + size
            self.on_frame(msg)
        if pos:
            del buf[:pos]

    def on_frame(self, msg: Any) -> None:
        raise NotImplementedError


class _ServerConnection(_FrameProtocol):
    def __init__(self, handler: object) -> None:
        super().__init__()
        self._handler = handler

    def on_frame(self, msg: Any) -> None:
        call_id, method, args = msg
        fn = getattr(self._handler, "rpc_" + method, None)
        if fn is None:
            self._reply(call_id, False, AttributeError(f"no such method: {method}"))
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - sent back to the caller
            self._reply(call_id, False, exc)
            return
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t, cid=call_id: self._finish(cid, t))
        else:
            self._reply(call_id, True, result)

    def _finish(self, call_id: int, task: asyncio.Future) -> None:
        if task.cancelled():
            self._reply(call_id, False, Unavailable("call cancelled"))
        elif task.exception() is not None:
            self._reply(call_id, False, task.exception())
        else:
            self._reply(call_id, True, task.result())

    def _reply(self, call_id: int, ok: bool, value: Any) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        try:
            data = _frame((call_id, ok, value))
        except Exception as exc:  # unpicklable exception or result
            data = _frame((call_id, False, RuntimeError(repr(exc) + ": " + repr(value))))
        self.transport.write(data)


class RpcServer:
    """Serves one handler object's ``rpc_*`` methods on a TCP port."""

    def __init__(self, handler: object, host: str = "127.0.0.1", port: int = 0):
        self._handler = handler
        self._host = host
        self._port = port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ServerConnection(self._handler), self._host, self._port)
        sock = self._server.sockets[0]
        self._port = sock.getsockname()[1]
        return self._host, self._port

    @property
    def address(self) -> tuple[str, int]:
        return self._host, self._port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


class _ClientConnection(_FrameProtocol):
    def __init__(self, on_lost: Callable[[Exception | None], None]) -> None:
        super().__init__()
        self.pending: dict[int, asyncio.Future] = {}
        self._on_lost = on_lost
        self.last_reply = time.monotonic()

    def on_frame(self, msg: Any) -> None:
        self.last_reply = time.monotonic()
        call_id, ok, value = msg
        fut = self.pending.pop(call_id, None)
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value if isinstance(value, BaseException)
                              else RuntimeError(str(value)))

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(Unavailable(f"data-plane connection lost: {exc}"))
        self.pending.clear()
        self._on_lost(exc)


class _Expired(Exception):
    """A call's reply did not arrive within its timeout."""


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


class RpcClient:
    """One long-lived, pipelined connection to a peer, reconnecting on demand.

    ``resolve`` returns the peer's current ``(host, port)``; it is asked again after a
    connection is lost, so a restarted peer on a new port is found through the registry.
    ``delay_s`` injects one-way latency on every call (for emulating distant regions).
    """

    def __init__(self, resolve: Callable[[], Awaitable[tuple[str, int]]] | tuple[str, int],
                 *, name: str = "peer", delay_s: float = 0.0,
                 timeout_s: float = limits.rpc_timeout_s):
        if isinstance(resolve, tuple):
            addr = resolve

            async def _fixed() -> tuple[str, int]:
                return addr
            resolve = _fixed
        self._resolve = resolve
        self.name = name
        self.delay_s = delay_s
        self.timeout_s = timeout_s
        self._conn: _ClientConnection | None = None
        self._connecting: asyncio.Future | None = None
        self._ids = itertools.count(1)

    async def _connection(self) -> _ClientConnection:
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            return conn
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _ClientConnection:
        loop = asyncio.get_running_loop()
        host, port = await self._resolve()

        def lost(_exc: Exception | None) -> None:
            if self._conn is conn:
                self._conn = None
        conn = _ClientConnection(lost)
        # bounded here, not only by the caller's wait: every caller shares this attempt,
        # and one left hanging on a SYN to a dead host would hold them all on it
        try:
            await asyncio.wait_for(loop.create_connection(lambda: conn, host, port),
                                   limits.rpc_connect_timeout_s)
        except asyncio.TimeoutError:
            raise OSError(f"connecting to {self.name} at {host}:{port} timed out after "
                          f"{limits.rpc_connect_timeout_s}s") from None
        self._conn = conn
        return conn

    async def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        timeout = self.timeout_s if timeout is None else timeout
        conn = self._conn
        if conn is None or conn.transport is None or conn.transport.is_closing():
            try:   # (only when not connected: wait_for costs a task per call)
                conn = await asyncio.wait_for(self._connection(), timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                raise Unavailable(f"{self.name} unreachable: {exc!r}") from None
        if len(conn.pending) >= limits.rpc_inflight_max:
            raise Unavailable(f"{self.name}: too many calls in flight")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        call_id = next(self._ids)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        conn.pending[call_id] = fut
        sent = time.monotonic()
        conn.transport.write(_frame((call_id, method, args)))
        _SENT[method] += 1
        expiry = loop.call_later(timeout, _expire, fut)
        try:
            result = await fut
        except _Expired:
            conn.pending.pop(call_id, None)
            if conn.last_reply < sent and self._conn is conn:
                # the peer answered nothing for the whole timeout: its host is likely
                # gone or cut off (no RST arrives then); drop the connection so the
                # next call resolves the name again instead of waiting on a dead host
                self.close()
            raise Unavailable(f"{self.name}.{method} timed out after {timeout}s") from None
        finally:
            expiry.cancel()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return result

    def close(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
        self._conn = None
