"""Starting a compute process: its ComputeNode, and a hand-off socket for client sessions.

The relay accepts a client's TCP connection and passes the socket itself to a compute
process on the same host over a Unix socket (SCM_RIGHTS). From then on the client talks
to compute directly: the relay is off the per-statement path and copies no bytes.

Per session, compute also enforces what the relay cannot see:

* **Cancel.** BackendKeyData's process id carries this process's index in its high bits
  (:func:`~dsql_ray.transport.handoff.make_pid`). A CancelRequest can arrive at any compute
  process (the relay routes the new connection round robin); one for another process is
  sent to the relay over the hand-off link, which forwards it to the owner's link. The
  query engine is synchronous and holds the event loop while it runs, so cancels are
  taken *off the loop*: a plain CancelRequest is recognised by a small "prelude" thread
  that peeks at each new connection's first packet, and forwarded cancels are read by
  the hand-off thread. Either one only raises a flag (and wakes the loop): the engine and
  the key-aware path's row loops check it at their checkpoints, a read still waiting on
  storage is abandoned (:mod:`~dsql_ray.compute.interrupt`), and the statement fails
  with 57014 (an explicit transaction is then aborted, as after any error). A cancel
  arriving over TLS (libpq 17's encrypted cancel) is read on the loop, so it takes
  effect once the loop is free.
* **Refusal.** A connection the relay refused (rate, open-connection limit) is answered
  right after TLS and the startup packet with the FATAL error the relay chose, before
  authentication, as PostgreSQL refuses at max_connections.
* **Connection age.** After ``config.max_connection_age`` (DSQL: 60 min) the session is
  closed with FATAL 57P01: at once when idle, else after the running statement's result.
* **Session ends** are reported to the relay (``e`` on the link) so its count stays right.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import queue
import secrets
import selectors
import socket
import ssl
import struct
import sys
import threading
import time
from typing import Any, Sequence

from .. import limits
from ..client.server import ClientEndpoint
from ..clock import HybridLogicalClock
from ..control.topology import adjudicator_names, storage_name
from ..errors import AuthError, DsqlError
from ..frontend.session import STARTUP_TIMEOUT_S, serve_connection
from ..frontend.tls import ssl_context_for
from ..frontend.tokens import TokenVerifier
from ..transport import handoff
from ..transport.handoff import (CANCEL_KEY, REFUSE, SERVE, Link, cancel_message, close_listener,
                                 compute_index, handoff_address, make_pid, parse_cancel)
from .interrupt import Interrupter
from .jobs import runner
from .node import ComputeNode, ShardRoute
from .query import threads
from .query.sqltypes import cast
from .session import Session

log = logging.getLogger(__name__)

DATABASE = "postgres"    # DSQL has this one database
CANCEL_REQUEST_CODE = 80877102
_STARTUP_HEAD = struct.Struct("!ii")


class _Fatal(DsqlError):
    severity = "FATAL"


_REFUSALS = {limits.connections_max.sqlstate: limits.connections_max.message,
             limits.connection_rate_max.sqlstate: limits.connection_rate_max.message}


# -- statement cancellation: a flag the (synchronous) query engine checks --------------

class _SessionControl(Interrupter):
    """What other threads may touch of one session: its key and its cancel point (see
    :class:`~dsql_ray.compute.interrupt.Interrupter`); and its age-out state."""

    def __init__(self, pid: int, secret: int, task: asyncio.Task):
        super().__init__(task.get_loop())
        self.pid, self.secret, self.task = pid, secret, task
        self.reader: asyncio.StreamReader | None = None
        self.expired = False
        self.age_error: DsqlError | None = None


class _Backend:
    """The session's backend, with each statement bracketed for cancel and age."""

    def __init__(self, inner: Session, ctl: _SessionControl):
        self._inner, self._ctl = inner, ctl

    @property
    def txn_status(self) -> str:
        return self._inner.txn_status

    def parameter_status(self) -> dict[str, str]:
        return self._inner.parameter_status()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def execute_simple(self, sql: str):
        return await self._statement(self._inner.execute_simple(sql))

    async def prepare(self, sql: str, param_type_oids: Sequence[int]):
        return await self._statement(self._inner.prepare(sql, param_type_oids))

    async def execute_prepared(self, sql: str, param_type_oids: Sequence[int],
                               params: Sequence[Any], max_rows: int = 0):
        return await self._statement(
            self._inner.execute_prepared(sql, param_type_oids, params, max_rows))

    async def close(self) -> None:
        await self._inner.close()

    async def _statement(self, coro):
        ctl = self._ctl
        try:
            with ctl.statement():
                return await coro
        finally:
            if ctl.expired and ctl.reader is not None and ctl.age_error is not None:
                ctl.reader.set_exception(ctl.age_error)   # the next read ends the session


class ComputeService(ClientEndpoint):     # + sessions of in-Ray clients (client/server.py)
    def __init__(self, node: ComputeNode, address: str, *, ssl_context: ssl.SSLContext,
                 require_tls: bool, verifier: TokenVerifier, index: int = 0,
                 connection_age: float = limits.connection_age_max.value):
        self.node = node
        self.handoff = address
        self.index = index
        self.connection_age = connection_age
        self._ssl_context, self._require_tls = ssl_context, require_tls
        self._verifier = verifier
        self.info: dict[str, Any] = {"handoff": address}
        self._loop = asyncio.get_running_loop()
        self._sessions: dict[int, _SessionControl] = {}
        self.cancels = {"received": 0, "forwarded": 0, "applied": 0}
        self.closed_by_age = 0
        self._prelude_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._prelude_wake_r, self._prelude_wake_w = socket.socketpair()
        self._listener = handoff.listen(address)
        threading.Thread(target=self._prelude, daemon=True, name="prelude").start()
        threading.Thread(target=self._accept_relays, daemon=True, name="handoff").start()

    # -- receiving sockets from the relay -------------------------------------------
    def _accept_relays(self) -> None:
        for conn in handoff.accepted(self._listener):
            threading.Thread(target=self._receive, args=(Link(conn),), daemon=True).start()

    def _receive(self, link: Link) -> None:
        with link.sock:
            while True:
                message, fds = link.receive()
                if not message and not fds:
                    break   # relay closed the hand-off connection
                kind = message[:1]
                if (key := parse_cancel(message)) is not None:
                    self._deliver_cancel(*key, link)
                    continue
                refusal = message[1:].decode() if kind == REFUSE else None
                if kind not in (SERVE, REFUSE):
                    log.warning("unexpected hand-off message %r", message[:8])
                for fd in fds:
                    client = socket.socket(fileno=fd)
                    if kind in (SERVE, REFUSE):
                        self._prelude_queue.put((client, link, refusal))
                    else:
                        client.close()
                if fds:
                    self._prelude_wake_w.send(b"\0")
        link.closed = True

    # -- the prelude: recognise a plain CancelRequest without the event loop ---------
    def _prelude(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._prelude_wake_r, selectors.EVENT_READ)
        waiting: dict[socket.socket, tuple[Any, str | None, float]] = {}
        while True:
            timeout = 1.0 if waiting else None
            for key, _ in sel.select(timeout):
                sock = key.fileobj
                if sock is self._prelude_wake_r:
                    try:
                        if not self._prelude_wake_r.recv(4096):
                            return          # stop() closed the other end
                    except OSError:
                        return
                    while True:
                        try:
                            client, link, refusal = self._prelude_queue.get_nowait()
                        except queue.Empty:
                            break
                        client.setblocking(False)
                        waiting[client] = (link, refusal, time.monotonic() + STARTUP_TIMEOUT_S)
                        sel.register(client, selectors.EVENT_READ)
                    continue
                link, refusal, deadline = waiting[sock]
                verdict = self._peek(sock, link)
                if verdict == "wait" and time.monotonic() < deadline:
                    continue
                sel.unregister(sock)
                del waiting[sock]
                if verdict == "serve":
                    self._loop.call_soon_threadsafe(self._start_session, sock, link, refusal,
                                                    deadline)
                else:               # a CancelRequest, gone before a packet, or too slow
                    _drop(sock, link, refusal)
            now = time.monotonic()
            for sock, (link, refusal, deadline) in list(waiting.items()):
                if now >= deadline:    # silent for the whole startup time: as PostgreSQL
                    sel.unregister(sock)
                    del waiting[sock]
                    _drop(sock, link, refusal)

    def _peek(self, sock: socket.socket, link: Link) -> str:
        """"serve" (hand it to the loop), "wait" (not enough bytes yet) or "done"."""
        try:
            head = sock.recv(16, socket.MSG_PEEK)
        except BlockingIOError:
            return "wait"
        except OSError:
            return "done"
        if not head:
            return "done"
        if len(head) < 16:      # not a whole CancelRequest (a split one: the loop serves it)
            return "serve"
        length, code = _STARTUP_HEAD.unpack_from(head)
        if length != 16 or code != CANCEL_REQUEST_CODE:
            return "serve"
        sock.recv(16)
        pid, secret = CANCEL_KEY.unpack_from(head, 8)
        self._deliver_cancel(pid, secret, link)
        return "done"

    # -- cancel -----------------------------------------------------------------------
    def _deliver_cancel(self, pid: int, secret: int, link: Link | None) -> None:
        """Any thread. Apply a cancel for one of our sessions, or route it onwards."""
        self.cancels["received"] += 1
        if compute_index(pid) != self.index:
            if link is not None and not link.closed:
                try:
                    link.send(cancel_message(pid, secret))
                    self.cancels["forwarded"] += 1
                except OSError as exc:
                    log.info("could not forward a cancel: %r", exc)
            return
        ctl = self._sessions.get(pid)
        if ctl is not None and hmac.compare_digest(ctl.secret.to_bytes(4, "big"),
                                                   secret.to_bytes(4, "big")):
            if ctl.request_cancel():
                self.cancels["applied"] += 1
                log.info("cancel request for session %d", pid)

    # -- sessions -----------------------------------------------------------------------
    def _start_session(self, client: socket.socket, link: Link,
                       refusal: str | None, deadline: float) -> None:
        """Loop thread. ``deadline``: the end of the startup time (monotonic)."""
        try:
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:         # reset meanwhile
            _drop(client, link, refusal)
            return
        startup_timeout = max(deadline - time.monotonic(), 0.1)
        asyncio.ensure_future(self._serve(client, link, refusal, startup_timeout))

    def _new_pid(self) -> int:
        while True:
            pid = make_pid(self.index, secrets.randbits(24))
            if pid and pid not in self._sessions:
                return pid

    async def _serve(self, client: socket.socket, link: Link,
                     refusal: str | None, startup_timeout: float = STARTUP_TIMEOUT_S) -> None:
        if refusal is not None:
            await self._refuse(client, link, refusal, min(startup_timeout, 10.0))
            return
        pid, secret = self._new_pid(), secrets.randbits(32)
        task = asyncio.current_task()
        ctl = _SessionControl(pid, secret, task)
        self._sessions[pid] = ctl
        age_timer = None
        try:
            reader, writer = await asyncio.open_connection(sock=client)
            ctl.reader = reader
            age_timer = self._loop.call_later(self.connection_age, self._age_out, ctl)

            async def new_session(user: str, database: str, params: dict[str, str]):
                session = await self._new_session(user, database, params)
                session.interrupt = ctl.check
                return _Backend(session, ctl)
            await serve_connection(reader, writer, new_session,
                                   ssl_context=self._ssl_context,
                                   require_tls=self._require_tls,
                                   authenticate=self._authenticate,
                                   backend_key=(pid, secret), on_cancel=self._on_cancel(link),
                                   startup_timeout=startup_timeout, text_input=cast)
        except Exception:  # noqa: BLE001 - one session's failure must not hurt others
            log.exception("session ended with an error")
        finally:
            if age_timer is not None:
                age_timer.cancel()
            self._sessions.pop(pid, None)
            link.report_ended()

    async def _refuse(self, client: socket.socket, link: Link, sqlstate: str,
                      startup_timeout: float) -> None:
        """Negotiate TLS as usual, then answer the startup packet with the relay's
        error before authentication. A CancelRequest on a refused connection is still
        served."""
        error = _Fatal(_REFUSALS.get(sqlstate, "connection refused"), sqlstate=sqlstate)

        async def never(user: str, database: str, params: dict[str, str]):
            raise error
        try:
            reader, writer = await asyncio.open_connection(sock=client)
            await serve_connection(reader, writer, never, ssl_context=self._ssl_context,
                                   require_tls=self._require_tls, refusal=error,
                                   on_cancel=self._on_cancel(link),
                                   startup_timeout=startup_timeout)
        except Exception:  # noqa: BLE001
            log.exception("refusing a connection failed")

    def _on_cancel(self, link: Link):
        def on_cancel(pid: int, secret: int) -> None:
            self._deliver_cancel(pid, secret, link)
        return on_cancel

    def _age_out(self, ctl: _SessionControl) -> None:
        """Loop thread. Close the session: now if idle, else after its statement."""
        minutes = self.connection_age / 60
        message = (limits.connection_age_max.message
                   if self.connection_age == limits.connection_age_max.value else
                   f"connection age limit of {minutes:g} minutes exceeded"
                   if minutes >= 1 else
                   f"connection age limit of {self.connection_age:g}s exceeded")
        ctl.age_error = _Fatal(message, sqlstate=limits.connection_age_max.sqlstate)
        ctl.expired = True
        self.closed_by_age += 1
        if not ctl.running and ctl.reader is not None:
            ctl.reader.set_exception(ctl.age_error)

    async def _authenticate(self, user: str, database: str, password: str) -> None:
        """The password is a DSQL auth token; then, as PostgreSQL, the database."""
        self._verifier.verify(password, user)
        if database != DATABASE:
            raise AuthError(f'database "{database}" does not exist', sqlstate="3D000")

    async def _new_session(self, user: str, database: str, params: dict[str, str]) -> Session:
        return Session(self.node, user, database, params)

    # -- control --------------------------------------------------------------------
    def rpc_status(self) -> dict[str, Any]:
        return {"sessions": len(self._sessions), "catalog_version": self.node.catalog.version,
                "index": self.index, "cancels": dict(self.cancels),
                "closed_by_age": self.closed_by_age}

    def stop(self) -> None:
        close_listener(self._listener)
        self._prelude_wake_w.close()


def _drop(client: socket.socket, link: Link, refusal: str | None) -> None:
    """Close a connection that never became a session."""
    client.close()
    if refusal is None:
        link.report_ended()     # the relay counted it as a session


def _index_of(name: str) -> int:
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def compute_node(spec, config, directory, *,
                 clock: HybridLogicalClock | None = None) -> ComputeNode:
    """A compute process's node: every shard's replicas (its zone's first) and every
    adjudicator, found through ``directory``; the simulation passes its virtual clock."""
    zones = config.region.zones
    nearest_first = [spec.zone] + [z for z in zones if z != spec.zone]
    routes = [ShardRoute(low, high, [directory.client(storage_name(shard, z))
                                     for z in nearest_first])
              for shard, (low, high) in enumerate(config.shard_ranges())]
    return ComputeNode(routes, [directory.client(n) for n in adjudicator_names(config)],
                       zone=spec.zone, clock=clock)


async def start_compute(spec, config, directory) -> ComputeService:
    sys.setswitchinterval(threads.SWITCH_INTERVAL_S)   # the loop beside engine workers
    node = compute_node(spec, config, directory)
    await node.sync_clock()
    runner(node).start()      # background jobs (index builds), resumed after a restart
    return ComputeService(node, handoff_address(config.name, spec.name),
                          ssl_context=ssl_context_for(config),
                          require_tls=not config.allow_plaintext,
                          verifier=TokenVerifier.for_cluster(config),
                          index=_index_of(spec.name),
                          connection_age=config.max_connection_age)
