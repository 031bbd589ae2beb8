"""Starting a compute process: its ComputeNode, and a hand-off socket for client sessions.

The relay accepts a client's TCP connection and passes the socket itself to a compute
process on the same host over a Unix socket (SCM_RIGHTS). From then on the client talks
to compute directly: the relay is off the per-statement path and copies no bytes.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import ssl
import threading
from typing import Any

from ..control.topology import adjudicator_names, storage_name
from ..errors import AuthError
from ..relay.session import serve_connection
from ..relay.tls import ssl_context_for
from ..relay.tokens import TokenVerifier
from .node import ComputeNode, ShardRoute
from .session import Session

log = logging.getLogger(__name__)

DATABASE = "postgres"    # DSQL has this one database


def handoff_address(cluster: str, name: str) -> str:
    """An abstract-namespace Unix socket name (Linux): no file to clean up."""
    return f"\0dsql-ray-{cluster}-{name}-{os.getpid()}"


class ComputeService:
    def __init__(self, node: ComputeNode, handoff: str, *, ssl_context: ssl.SSLContext,
                 require_tls: bool, verifier: TokenVerifier):
        self.node = node
        self.handoff = handoff
        self._ssl_context, self._require_tls = ssl_context, require_tls
        self._verifier = verifier
        self.info: dict[str, Any] = {"handoff": handoff}
        self._loop = asyncio.get_running_loop()
        self._sessions: dict[int, tuple[int, asyncio.Task]] = {}   # pid → (secret, task)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(handoff)
        self._listener.listen(16)
        threading.Thread(target=self._accept_relays, daemon=True, name="handoff").start()

    # -- receiving sockets from the relay -------------------------------------------
    def _accept_relays(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._receive, args=(conn,), daemon=True).start()

    def _receive(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    _, fds, _, _ = socket.recv_fds(conn, 16, 4)
                except OSError:
                    return
                if not fds:
                    return   # relay closed the hand-off connection
                for fd in fds:
                    client = socket.socket(fileno=fd)
                    self._loop.call_soon_threadsafe(self._start_session, client)

    def _start_session(self, client: socket.socket) -> None:
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        asyncio.ensure_future(self._serve(client))

    async def _serve(self, client: socket.socket) -> None:
        pid, secret = secrets.randbits(31), secrets.randbits(31)
        task = asyncio.current_task()
        self._sessions[pid] = (secret, task)
        try:
            reader, writer = await asyncio.open_connection(sock=client)
            await serve_connection(reader, writer, self._new_session,
                                   ssl_context=self._ssl_context,
                                   require_tls=self._require_tls,
                                   authenticate=self._authenticate,
                                   backend_key=(pid, secret), on_cancel=self._cancel)
        except Exception:  # noqa: BLE001 - one session's failure must not hurt others
            log.exception("session ended with an error")
        finally:
            self._sessions.pop(pid, None)

    async def _authenticate(self, user: str, database: str, password: str) -> None:
        """The password is a DSQL auth token; then, as PostgreSQL, the database."""
        self._verifier.verify(password, user)
        if database != DATABASE:
            raise AuthError(f'database "{database}" does not exist', sqlstate="3D000")

    async def _new_session(self, user: str, database: str, params: dict[str, str]) -> Session:
        return Session(self.node, user, database, params)

    def _cancel(self, pid: int, secret: int) -> None:
        entry = self._sessions.get(pid)
        if entry is not None and entry[0] == secret:
            log.info("cancel request for session %d", pid)

    # -- control --------------------------------------------------------------------
    def rpc_status(self) -> dict[str, Any]:
        return {"sessions": len(self._sessions), "catalog_version": self.node.catalog.version}

    def stop(self) -> None:
        self._listener.close()


async def start_compute(spec, config, directory) -> ComputeService:
    zones = config.region.zones
    nearest_first = [spec.zone] + [z for z in zones if z != spec.zone]
    routes = [ShardRoute(low, high, [directory.client(storage_name(shard, z))
                                     for z in nearest_first])
              for shard, (low, high) in enumerate(config.shard_ranges())]
    node = ComputeNode(routes, [directory.client(n) for n in adjudicator_names(config)],
                       zone=spec.zone)
    await node.sync_clock()
    return ComputeService(node, handoff_address(config.name, spec.name),
                          ssl_context=ssl_context_for(config),
                          require_tls=not config.allow_plaintext,
                          verifier=TokenVerifier.for_cluster(config))
