"""Speaking the PostgreSQL protocol by hand, to send what no driver would."""
from __future__ import annotations

import socket
import ssl
import struct
import time

SSL_REQUEST = struct.pack("!II", 8, 80877103)
PROTOCOL_3_0 = 196608


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def startup_packet(user: str = "admin", database: str = "postgres") -> bytes:
    body = struct.pack("!I", PROTOCOL_3_0) + cstr("user") + cstr(user) + \
        cstr("database") + cstr(database) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def start_tls(sock: socket.socket) -> ssl.SSLSocket:
    """SSLRequest, 'S', then the TLS handshake."""
    sock.sendall(SSL_REQUEST)
    answer = sock.recv(1)
    assert answer == b"S", answer
    return client_context().wrap_socket(sock, server_hostname="localhost")


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection (True) or
    ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return bytes(data), False
        except ssl.SSLError:
            return bytes(data), True        # a TLS alert / broken record: the end
        except OSError:                      # reset by the server
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk


def messages(data: bytes) -> list[tuple[bytes, bytes]]:
    """The backend messages in ``data`` (a trailing partial one is left out)."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        (length,) = struct.unpack_from("!i", data, pos + 1)
        if length < 4 or pos + 1 + length > len(data):
            break
        out.append((data[pos:pos + 1], data[pos + 5:pos + 1 + length]))
        pos += 1 + length
    return out


def error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def errors(data: bytes) -> list[dict[str, str]]:
    return [error_fields(body) for kind, body in messages(data) if kind == b"E"]


def login(port: int, password: str, timeout: float = 10.0) -> ssl.SSLSocket:
    """A TLS session, authenticated and ready for queries."""
    sock = start_tls(connect(port, timeout))
    sock.sendall(startup_packet())
    reply = _read_until(sock, b"R")
    assert reply == struct.pack("!i", 3), reply         # AuthenticationCleartextPassword
    sock.sendall(frame(b"p", cstr(password)))
    _read_until(sock, b"Z")
    return sock


def _read_until(sock: socket.socket, kind: bytes) -> bytes:
    """Read messages up to and including the first of ``kind``; return its body."""
    while True:
        head = _exactly(sock, 5)
        (length,) = struct.unpack_from("!i", head, 1)
        body = _exactly(sock, length - 4)
        if head[:1] == b"E":
            raise AssertionError(f"server error: {error_fields(body)}")
        if head[:1] == kind:
            return body


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return bytes(data)
