"""Free listening ports for test and benchmark clusters.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from the ephemeral
range, which every outgoing connection and every Ray worker's gRPC server also draws
from. Between picking such a port and the cluster's relays binding it, something else
can take it (CI saw ``Address already in use`` on a relay this way). So the ports come
from below the ephemeral range, a block at a time (loopback relays use ``port + i`` for
zone ``i``), and each port of the block is checked free before it is returned.
"""
from __future__ import annotations

import random
import socket

LOW = 20_000
ATTEMPTS = 200


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(block: int = 4) -> int:
    """The first of ``block`` consecutive free ports below the ephemeral range."""
    high = max(LOW + 1_000, _ephemeral_low()) - block
    rng = random.SystemRandom()
    for _ in range(ATTEMPTS):
        port = rng.randrange(LOW, high)
        if all(_bindable(port + i) for i in range(block)):
            return port
    raise RuntimeError(f"no {block} consecutive free ports in [{LOW}, {high})")
