"""The relay: admits client connections and routes each one to a compute process.

It accepts on the cluster's PostgreSQL port, picks a compute process (round robin over
the live ones) and passes the accepted socket to it over a Unix socket; the compute
process then serves the whole session. Accepting runs on a plain thread: it is a
blocking loop with nothing to multiplex, and it stays off the statement path.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)


class Relay:
    def __init__(self, host: str, port: int, compute_names: list[str],
                 lookup: Callable[[str], dict[str, Any] | None]):
        self._compute_names = compute_names
        self._lookup = lookup
        self._handoffs: dict[str, socket.socket] = {}
        self._next = itertools.cycle(range(len(compute_names)))
        self.accepted = 0
        self.routed: dict[str, int] = {n: 0 for n in compute_names}
        self._listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
        self.address = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="relay")
        self._thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                self._route(client)
            finally:
                client.close()   # compute holds its own duplicate of the descriptor

    def _route(self, client: socket.socket) -> None:
        for _ in range(len(self._compute_names)):
            name = self._compute_names[next(self._next)]
            try:
                sock = self._handoff(name)
                socket.send_fds(sock, [b"c"], [client.fileno()])
                self.routed[name] += 1
                return
            except OSError as exc:
                log.warning("hand-off to %s failed: %r", name, exc)
                self._drop(name)
        log.error("no compute process is reachable; closing the client connection")

    def _handoff(self, name: str) -> socket.socket:
        sock = self._handoffs.get(name)
        if sock is None:
            entry = self._lookup(name)
            if not entry or not entry.get("handoff"):
                raise OSError(f"{name} is not registered")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            sock.connect(entry["handoff"])
            self._handoffs[name] = sock
        return sock

    def _drop(self, name: str) -> None:
        sock = self._handoffs.pop(name, None)
        if sock is not None:
            sock.close()

    def stop(self) -> None:
        self._listener.close()
        for name in list(self._handoffs):
            self._drop(name)


class RelayService:
    def __init__(self, relay: Relay):
        self.relay = relay
        self.info = {"endpoint": list(relay.address)}

    def rpc_status(self) -> dict[str, Any]:
        return {"accepted": self.relay.accepted, "routed": dict(self.relay.routed)}

    def stop(self) -> None:
        self.relay.stop()


async def start_relay(spec, config, directory) -> RelayService:
    loop = asyncio.get_running_loop()

    def lookup(name: str) -> dict[str, Any] | None:
        return asyncio.run_coroutine_threadsafe(directory.lookup(name), loop).result(15)
    names = [f"compute-{i}" for i in range(config.compute_actors)]
    return RelayService(Relay(config.host, config.port, names, lookup))
