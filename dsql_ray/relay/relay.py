"""The relay: admits client connections and routes each one to a compute process.

It accepts on the cluster's PostgreSQL port, picks a compute process (round robin over
the live ones) and passes the accepted socket to it over a Unix socket; the compute
process then serves the whole session. Accepting runs on a plain thread: it is a
blocking loop with nothing to multiplex, and it stays off the statement path.

Admission (DSQL's connection limits) is decided here, without reading a byte from the
client (TLS is negotiated in compute): a connection over the rate (token bucket) or over
the open-connection limit is still handed to compute, marked "refuse with 53400/53300",
and compute answers its startup packet with that FATAL error (a CancelRequest on such a
connection is still honoured, as PostgreSQL does at max_connections).

The hand-off link to each compute process and its messages are
:mod:`dsql_ray.transport.handoff`'s. A link that breaks (its compute died) takes its
sessions out of the open count.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import threading
import time
from typing import Any, Callable

from .. import limits
from ..control.topology import compute_names, relay_port
from ..transport import handoff
from ..transport.handoff import REFUSE, SERVE, compute_index
from ..transport.host import node_ip

log = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = limits.connections_max.sqlstate        # 53300
RATE_EXCEEDED = limits.connection_rate_max.sqlstate           # 53400


class AdmissionLimits:
    """The relay's connection limits (``ClusterConfig.max_connections``,
    ``connection_rate``, ``connection_burst``); DSQL's by default."""

    def __init__(self, max_connections: int = int(limits.connections_max.value),
                 rate: float = limits.connection_rate_max.value,
                 burst: float = limits.connection_burst_max.value):
        self.max_connections, self.rate, self.burst = max_connections, rate, burst

    @classmethod
    def from_config(cls, config) -> "AdmissionLimits":
        return cls(config.max_connections, config.connection_rate, config.connection_burst)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full. Thread-safe."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False

    @property
    def tokens(self) -> float:
        with self._lock:
            return min(self.burst, self._tokens + (self._clock() - self._at) * self.rate)


class ConnectionCounter:
    """Open sessions per hand-off link. A link's sessions are forgotten with the link
    (its compute process died: the kernel closed their sockets). Thread-safe."""

    def __init__(self):
        self._open: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def try_open(self, link: int, maximum: int) -> bool:
        """Count one more session on ``link`` unless ``maximum`` are open already."""
        with self._lock:
            if sum(self._open.values()) >= maximum:
                return False
            self._open[link] = self._open.get(link, 0) + 1
            return True

    def opened(self, link: int) -> None:
        with self._lock:
            self._open[link] = self._open.get(link, 0) + 1

    def closed(self, link: int) -> None:
        with self._lock:
            n = self._open.get(link, 0)
            if n > 0:
                self._open[link] = n - 1

    def drop_link(self, link: int) -> int:
        with self._lock:
            return self._open.pop(link, 0)

    def on_link(self, link: int) -> int:
        with self._lock:
            return self._open.get(link, 0)


class Admission:
    """Decides, per accepted connection, to serve it or to refuse it with a SQLSTATE."""

    def __init__(self, config: AdmissionLimits, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.bucket = TokenBucket(config.rate, config.burst, clock)
        self.counter = ConnectionCounter()

    def admit(self, link: int) -> str | None:
        """None: serve it (counted open on ``link``); else the SQLSTATE to refuse with.
        Every attempt spends a token, as every attempt costs the service a handshake."""
        if not self.bucket.take():
            return RATE_EXCEEDED
        if not self.counter.try_open(link, self.config.max_connections):
            return TOO_MANY_CONNECTIONS
        return None


class _Link(handoff.Link):
    """The hand-off connection to one compute process, and its reader thread."""
    _ids = itertools.count(1)

    def __init__(self, name: str, sock: socket.socket):
        super().__init__(sock)
        self.id = next(self._ids)
        self.name = name


class Relay:
    def __init__(self, host: str, port: int, compute_names: list[str],
                 lookup: Callable[[str], dict[str, Any] | None],
                 admission: AdmissionLimits | None = None):
        self._compute_names = compute_names
        self._lookup = lookup
        self._links: dict[str, _Link] = {}
        self._links_lock = threading.RLock()
        self._next = itertools.cycle(range(len(compute_names)))
        self.admission = Admission(admission or AdmissionLimits())
        self.accepted = 0
        self.refused: dict[str, int] = {TOO_MANY_CONNECTIONS: 0, RATE_EXCEEDED: 0}
        self.cancels_routed = 0
        self.routed: dict[str, int] = {n: 0 for n in compute_names}
        self._listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
        self.address = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="relay")
        self._thread.start()

    @property
    def open_connections(self) -> int:
        return self.admission.counter.total

    def _accept_loop(self) -> None:
        for client in handoff.accepted(self._listener):
            self.accepted += 1
            try:
                self._route(client)
            except Exception:   # noqa: BLE001 - the accept loop must survive anything
                log.exception("routing a connection failed")
            finally:
                client.close()   # compute holds its own duplicate of the descriptor

    def _route(self, client: socket.socket) -> None:
        for _ in range(len(self._compute_names)):
            name = self._compute_names[next(self._next)]
            try:
                link = self._link(name)
            except OSError as exc:
                log.warning("hand-off to %s failed: %r", name, exc)
                continue
            refusal = self.admission.admit(link.id)
            try:
                if refusal is None:
                    link.send(SERVE, [client.fileno()])
                    self.routed[name] += 1
                else:
                    link.send(REFUSE + refusal.encode(), [client.fileno()])
                    self.refused[refusal] += 1
                return
            except OSError as exc:
                log.warning("hand-off to %s failed: %r", name, exc)
                if refusal is None:
                    self.admission.counter.closed(link.id)
                self._drop(link)
        log.error("no compute process is reachable; closing the client connection")

    def _link(self, name: str) -> _Link:
        with self._links_lock:
            link = self._links.get(name)
            if link is not None:
                return link
            entry = self._lookup(name)
            if not entry or not entry.get("handoff"):
                raise OSError(f"{name} is not registered")
            link = _Link(name, handoff.connect(entry["handoff"]))
            self._links[name] = link
        threading.Thread(target=self._read_link, args=(link,), daemon=True,
                         name=f"relay-{name}").start()
        return link

    def _read_link(self, link: _Link) -> None:
        """Messages from one compute process: session ends and cancels to route."""
        while True:
            message, fds = link.receive()
            for fd in fds:          # compute never sends descriptors
                os.close(fd)
            if not message:
                break
            if message[:1] == handoff.ENDED:
                self.admission.counter.closed(link.id)
            elif (key := handoff.parse_cancel(message)) is not None:
                self._route_cancel(message, key[0])
            else:
                log.warning("unexpected message from %s: %r", link.name, message[:8])
        self._drop(link)

    def _route_cancel(self, message: bytes, pid: int) -> None:
        index = compute_index(pid)
        if index >= len(self._compute_names):
            return                      # not a key we ever gave out: ignore, as PostgreSQL
        name = self._compute_names[index]
        try:
            self._link(name).send(message)
            self.cancels_routed += 1
        except OSError as exc:
            log.info("cancel for %s not delivered: %r", name, exc)

    def _drop(self, link: _Link) -> None:
        with self._links_lock:
            if self._links.get(link.name) is link:
                del self._links[link.name]
            if link.closed:
                return
            link.closed = True
        lost = self.admission.counter.drop_link(link.id)
        if lost:
            log.warning("%s went away with %d open sessions", link.name, lost)
        link.close()

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes the accept loop
        except OSError:
            pass
        self._listener.close()
        with self._links_lock:
            links = list(self._links.values())
        for link in links:
            self._drop(link)


class RelayService:
    def __init__(self, relay: Relay):
        self.relay = relay
        self.info = {"endpoint": list(relay.address)}

    def rpc_status(self) -> dict[str, Any]:
        r = self.relay
        return {"accepted": r.accepted, "routed": dict(r.routed), "refused": dict(r.refused),
                "open": r.open_connections, "cancels_routed": r.cancels_routed}

    def stop(self) -> None:
        self.relay.stop()


async def start_relay(spec, config, directory) -> RelayService:
    loop = asyncio.get_running_loop()

    def lookup(name: str) -> dict[str, Any] | None:
        return asyncio.run_coroutine_threadsafe(directory.lookup(name), loop).result(15)
    # this zone's compute actors share the relay's node (the socket hand-off needs it)
    return RelayService(Relay(config.host or node_ip(), relay_port(config, spec.zone),
                              compute_names(config, spec.zone), lookup,
                              AdmissionLimits.from_config(config)))
