"""Handing an accepted client socket from the relay to a compute process on the same
host: file-descriptor passing (SCM_RIGHTS) over a Unix SOCK_SEQPACKET link.

Messages on a link:

* relay → compute: ``c`` + fd (serve), ``r<sqlstate>`` + fd (refuse), ``k`` + pid,
  secret (a CancelRequest for a session of that compute).
* compute → relay: ``e`` (a session this link carried ended), ``k`` + pid, secret (a
  CancelRequest compute received for a session of another compute: the relay routes it
  by the compute index in the pid's high bits, see :func:`compute_index`).

Both ends use this module; neither end's logic (admission and routing in ``relay/``,
sessions in ``compute/service.py``) lives here.
"""
from __future__ import annotations

import os
import socket
import struct
import threading
from typing import Iterator

SERVE, REFUSE, CANCEL, ENDED = b"c", b"r", b"k", b"e"
CANCEL_KEY = struct.Struct("!II")
PID_INDEX_SHIFT = 24            # BackendKeyData pid: compute index << 24 | 24 random bits
PID_INDEX_MAX = (1 << (31 - PID_INDEX_SHIFT)) - 1
MAX_MESSAGE = 64
MAX_FDS = 4                     # descriptors accepted with one message


def compute_index(pid: int) -> int:
    """Which compute process owns the session with this BackendKeyData pid."""
    return (pid >> PID_INDEX_SHIFT) & PID_INDEX_MAX


def make_pid(index: int, low: int) -> int:
    if not 0 <= index <= PID_INDEX_MAX:
        raise ValueError(f"compute index {index} does not fit in a pid")
    return (index << PID_INDEX_SHIFT) | (low & ((1 << PID_INDEX_SHIFT) - 1))


def cancel_message(pid: int, secret: int) -> bytes:
    return CANCEL + CANCEL_KEY.pack(pid, secret)


def parse_cancel(message: bytes) -> tuple[int, int] | None:
    """(pid, secret) of a cancel message, else None."""
    if message[:1] == CANCEL and len(message) == 1 + CANCEL_KEY.size:
        return CANCEL_KEY.unpack_from(message, 1)
    return None


def handoff_address(cluster: str, name: str) -> str:
    """An abstract-namespace Unix socket name (Linux): no file to clean up."""
    return f"\0dsql-ray-{cluster}-{name}-{os.getpid()}"


class Link:
    """One end of a hand-off link; thread-safe sends. ``closed`` once it broke."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.closed = False
        self._lock = threading.Lock()

    def send(self, payload: bytes, fds: list[int] | None = None) -> None:
        with self._lock:
            if fds:
                socket.send_fds(self.sock, [payload], fds)
            else:
                self.sock.send(payload)

    def receive(self) -> tuple[bytes, list[int]]:
        """The next message and the descriptors that came with it; (b"", []) once the
        other end closed or the link broke."""
        try:
            message, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS)
        except OSError:
            return b"", []
        return message, fds

    def report_ended(self) -> None:
        """compute → relay: a session this link carried ended."""
        if self.closed:
            return
        try:
            self.send(ENDED)
        except OSError:
            self.closed = True

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def connect(address: str) -> socket.socket:
    """The relay's end: a link to the compute process listening at ``address``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def listen(address: str, backlog: int = 16) -> socket.socket:
    """compute's end: the socket relays connect their links to."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(address)
    listener.listen(backlog)
    return listener


def accepted(listener: socket.socket) -> Iterator[socket.socket]:
    """Each connection a listening socket accepts, until it is closed."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        yield conn


def close_listener(listener: socket.socket) -> None:
    """Close a listening socket and wake the thread blocked in its accept()."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()
