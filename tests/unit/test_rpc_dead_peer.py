"""A data-plane client whose peer's host vanished (no RST ever comes) gives up on it
and finds the peer's new address, instead of waiting minutes on TCP's retries."""
from __future__ import annotations

import asyncio
import socket

import pytest

from dsql_ray.errors import Unavailable
from dsql_ray.transport.rpc import RpcClient, RpcServer


class Echo:
    def rpc_echo(self, value):
        return value


def silent_listener() -> tuple[socket.socket, socket.socket, tuple[str, int]]:
    """An address whose SYNs are dropped, as a cut-off host's are: a listener whose
    accept queue (backlog 0) is already full."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    filler = socket.create_connection(hole.getsockname(), timeout=5)
    return hole, filler, hole.getsockname()


def test_a_connect_to_a_silent_host_ends_and_the_name_is_resolved_again():
    async def scenario():
        hole, filler, dead = silent_listener()
        server = RpcServer(Echo())
        alive = await server.start()
        answers = [dead, alive]        # the directory: the old address, then the new one
        resolved = []

        async def resolve():
            resolved.append(answers[min(len(resolved), 1)])
            return resolved[-1]
        client = RpcClient(resolve, name="adjudicator-1", timeout_s=20.0)
        try:
            with pytest.raises(Unavailable, match="timed out"):
                await client.call("echo", 1)
            # the attempt on the silent address ended by itself: the next call does not
            # wait on it but asks the directory again and reaches the peer's new address
            assert await client.call("echo", 2) == 2
            assert resolved == [dead, alive]
        finally:
            client.close()
            await server.stop()
            filler.close()
            hole.close()
    asyncio.run(scenario())
