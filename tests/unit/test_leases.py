"""Reads without a promise round trip: completeness leases, commit wait, the journaled
lease cap, renewals ahead of reads, and the leased catalog version (issue #13).

Every role is real (an in-process cluster); where a test needs time to stand still, a
role gets a clock whose physical part the test sets."""
from __future__ import annotations

import asyncio

import pytest

from dsql_ray.adjudicator.service import start_adjudicator
from dsql_ray.clock import HybridLogicalClock
from dsql_ray.compute.catalog import CATALOG_VERSION_KEY
from dsql_ray.compute.service import compute_node
from dsql_ray.compute.session import Session
from dsql_ray.config import ClusterConfig
from dsql_ray.control.topology import ActorSpec
from dsql_ray.errors import DsqlError
from dsql_ray.storage.interface import GetComplete

from .conftest import cluster_runner, sql


@pytest.fixture
def run_long_lease(tmp_path):
    """``run`` on a cluster whose leases run 500 ms ahead: commits wait that long."""
    go, close = cluster_runner(tmp_path, ClusterConfig(data_dir=tmp_path, closed_lead_ms=500))
    yield go
    close()


class Frozen:
    """A physical clock (µs) that moves only when the test sets it."""

    def __init__(self, us: int):
        self.us = us

    def __call__(self) -> int:
        return self.us


def freeze(adj) -> Frozen:
    """Give ``adj`` a clock whose physical part stands at its present timestamp."""
    physical = Frozen(adj.clock.now())
    adj.clock = HybridLogicalClock(physical, floor=adj.clock.last)
    return physical


async def until(predicate, tries: int = 500) -> None:
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.01)


async def commit_when_clock_passes(adj, physical: Frozen, start_ts: int, key: bytes) -> int:
    """Commit one write; once it is journaled, move the physical clock past its τ (the
    commit waits for that) and return τ_commit."""
    adj.commit_wait_max_s = 30.0
    commits = adj.commits
    commit = asyncio.ensure_future(adj.rpc_commit(start_ts, [(adj.low + key, (1,))]))
    await until(lambda: adj.commits > commits)
    physical.us = adj.clock.last + 1
    return await asyncio.wait_for(commit, 10)


def test_leases_renewed_by_many_replicas_stay_a_lead_ahead_of_the_physical_clock(run):
    """Each storage replica renews on its own; a lease counted from the hybrid clock
    (already at the last lease) climbed a lead per renewal, and commit waits with it."""
    async def scenario(c):
        adj = c.adjudicators[1]
        physical = freeze(adj)
        leases = [(await adj.rpc_promise(physical.us))[0] for _ in range(20)]
        assert max(leases) <= physical.us + adj.lead_us, leases
        assert adj.clock.last <= physical.us + adj.lead_us
    run(scenario)


def test_a_lease_runs_ahead_and_later_commits_are_above_it(run):
    async def scenario(c):
        adj = c.adjudicators[1]
        physical = freeze(adj)
        lease, seq = await adj.rpc_promise(physical.us)
        assert lease >= physical.us + adj.lead_us > physical.us
        assert adj.lease_cap >= lease                  # granted under a durable cap
        assert adj.clock.last >= lease
        commit_ts = await commit_when_clock_passes(adj, physical, lease - 1, b"lease")
        assert commit_ts > lease and adj.last_seq > seq
    run(scenario)


def test_a_commit_is_acknowledged_only_once_the_clock_passed_it(run):
    async def scenario(c):
        adj = c.adjudicators[1]
        physical = freeze(adj)
        adj.commit_wait_max_s = 30.0
        lease, _ = await adj.rpc_promise(physical.us)
        commit = asyncio.ensure_future(adj.rpc_commit(lease, [(adj.low + b"wait", (1,))]))
        await until(lambda: adj.durable_seq == adj.last_seq and adj.commits == 1)
        assert adj.durable_seq == adj.last_seq     # on a quorum ...
        await asyncio.sleep(0.05)
        assert not commit.done()                   # ... but not acknowledged: clock behind
        physical.us = lease + 2                    # past τ_commit (lease + 1)
        commit_ts = await asyncio.wait_for(commit, 10)
        assert lease < commit_ts < physical.us
    run(scenario)


def test_a_restarted_adjudicator_commits_above_every_lease_even_with_a_clock_behind(run):
    """The successor comes back where the clock reads 10 s earlier. Recovery floors its
    clock above the journaled lease cap, so its first commit is above the lease storage
    already counted. (On the old code, which journaled no cap and recovered the clock
    only to the last record's timestamp, the commit landed below the lease.)"""
    async def scenario(c):
        adj = c.adjudicators[1]
        lease, _ = await adj.rpc_promise(adj.clock.now())
        name = "adjudicator-1"
        spec = c.specs[name]
        c.crash(name)
        physical = Frozen(lease - 10_000_000)
        successor = await start_adjudicator(spec, c.config, c.directory,
                                            clock=HybridLogicalClock(physical))
        c.instances[name] = successor
        commit_ts = await commit_when_clock_passes(successor, physical, lease - 1, b"after")
        assert commit_ts > lease
    run(scenario)


def test_a_read_inside_a_lease_asks_no_adjudicator(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 10)")
        shard = c.storage[(1, c.zones[0])]
        ts = c.node.clock.now()
        await shard.wait_complete(ts)               # may ask for leases: fresh τ
        await until(lambda: all(st.idle() for st in shard.streams) and
                    shard.complete_ts == min(st.horizon() for st in shard.streams))
        horizon = min(st.horizon() for st in shard.streams)
        inside = horizon - shard._renew_within_us   # well inside every stream's lease
        assert ts <= inside <= shard.complete_ts
        before = [a.promises for a in c.adjudicators]
        row, complete = await shard.rpc_get_complete(shard.low, inside)
        rows = await shard.rpc_scan(b"", None, inside)
        assert complete >= inside and [r for _, r in rows] == [(1, 10)]
        assert [a.promises for a in c.adjudicators] == before   # no promise asked
        # within lead/2 of the horizon: served at once, and the lease renewed behind it
        near = horizon - 1
        await shard.wait_complete(near)
        await until(lambda: all(st.idle() for st in shard.streams))
        assert sum(a.promises for a in c.adjudicators) > sum(before)
        assert min(st.horizon() for st in shard.streams) > horizon
    run(scenario)


def test_the_catalog_version_is_read_once_per_lease_and_a_drop_elsewhere_is_seen(
        run_long_lease):
    """Compute A's clock stands still, so its transactions begin inside the lease its
    version read got: no further version read. Compute B drops the table; a
    transaction A begins after B's DROP was acknowledged (A's clock set to the time
    then) sees it (42P01): the DROP's τ_commit was up to a lead (500 ms) ahead of the
    clocks, and its commit waited for them to pass it. Without the wait A begins below
    the DROP and still finds the table."""
    async def scenario(c):
        loop = asyncio.get_running_loop()
        wall = lambda: 1_000_000_000_000 + int(loop.time() * 1e6)   # the cluster's clock
        b = c.session()
        await sql(b, "CREATE TABLE t (id int primary key, v int)")
        await sql(b, "INSERT INTO t VALUES (1, 10)")
        physical = Frozen(wall())
        node = compute_node(ActorSpec("compute-a", "compute", c.config.region.name,
                                      c.zones[0]), c.config, c.directory,
                            clock=HybridLogicalClock(physical))
        await node.sync_clock()
        a = Session(node)
        assert (await sql(a, "SELECT v FROM t WHERE id = 1"))[0].rows == [(10,)]
        await sql(a, "BEGIN")      # (the first load was current at its own τ only)
        await sql(a, "SELECT v FROM t WHERE id = 1")
        await sql(a, "COMMIT")
        reads = node.catalog.version_reads
        assert reads >= 1
        for _ in range(5):
            await sql(a, "BEGIN")
            assert (await sql(a, "SELECT v FROM t WHERE id = 1"))[0].rows == [(10,)]
            await sql(a, "COMMIT")
        assert node.catalog.version_reads == reads
        assert node.catalog.as_of > node.clock.last     # the lease: ahead of A's clock
        await sql(b, "DROP TABLE t")
        physical.us = wall()                           # A begins after the DROP's ack
        with pytest.raises(DsqlError) as err:
            await sql(a, "SELECT v FROM t WHERE id = 1")
        assert err.value.sqlstate == "42P01"
        assert node.catalog.version_reads == reads + 1
    run_long_lease(scenario)


def test_get_complete_answers_the_row_at_the_replicas_completeness(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int primary key, v int)")
        ts = c.node.clock.now()
        row, complete = await c.node.shard_for(CATALOG_VERSION_KEY).ask(
            GetComplete(CATALOG_VERSION_KEY, ts))
        assert complete >= ts
        assert row == await c.node.get(CATALOG_VERSION_KEY, complete)
    run(scenario)
