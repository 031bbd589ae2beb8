"""Every declared role request matches the handler that serves it, field for field, and
every data-plane handler is declared; a typed call travels as before and comes back
typed, over a real data-plane connection."""
from __future__ import annotations

import asyncio
import inspect

import pytest

from dsql_ray.adjudicator import interface as adjudicator_interface
from dsql_ray.adjudicator.adjudicator import Adjudicator
from dsql_ray.journal import interface as journal_interface
from dsql_ray.journal.records import CommitRecord
from dsql_ray.journal.replica import JournalNode
from dsql_ray.storage import interface as storage_interface
from dsql_ray.storage.shard import StorageShard
from dsql_ray.transport.interface import REQUESTS, ask
from dsql_ray.transport.rpc import RpcClient, RpcServer

SERVERS = {"storage": (StorageShard, storage_interface),
           "adjudicator": (Adjudicator, adjudicator_interface),
           "journal": (JournalNode, journal_interface)}
CONTROL_ONLY = {"status"}       # asked through Ray by control, not on the data plane


@pytest.mark.parametrize("role", sorted(SERVERS))
def test_requests_match_their_handlers(role):
    server, _ = SERVERS[role]
    for req in REQUESTS[role]:
        handler = getattr(server, "rpc_" + req.METHOD, None)
        assert handler is not None, f"{server.__name__} does not serve {req.__name__}"
        params = list(inspect.signature(handler).parameters.values())[1:]    # not self
        assert [p.name for p in params] == list(req._fields), req.__name__
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        assert defaults == req._field_defaults, req.__name__


@pytest.mark.parametrize("role", sorted(SERVERS))
def test_every_handler_is_declared(role):
    server, module = SERVERS[role]
    served = {name[4:] for name in dir(server) if name.startswith("rpc_")} - CONTROL_ONLY
    declared = {req.METHOD for req in REQUESTS[role]}
    assert served == declared
    assert all(req.__module__ == module.__name__ for req in REQUESTS[role])


def test_typed_call_over_a_real_connection(tmp_path):
    """A journal node behind a real RpcServer: the reply comes back as its NamedTuple."""
    async def scenario():
        node = JournalNode(tmp_path, streams=1, executor=False)
        server = RpcServer(node)
        client = RpcClient(await server.start(), name="journal")
        try:
            fence = await ask(client, journal_interface.Fence(0, 1, 0))
            assert fence == journal_interface.FenceReply(last_seq=0, epoch=1)
            payload = CommitRecord(1, 10, ((b"k", (1,)),), epoch=1).encode()
            seq = await ask(client, journal_interface.Append(0, 1, [(1, 10, payload)], 1))
            assert seq == 1
            last = await ask(client, journal_interface.Last(0))
            assert last == journal_interface.LastReply(seq=1, ts=10, epoch=1, last_epoch=1)
            assert await ask(client, journal_interface.ReadLog(0, 1)) == [(1, payload)]
        finally:
            client.close()
            await server.stop()
            node.stop()
    asyncio.run(scenario())
