"""Seeded simulation of a region: every role in one process under virtual time, a
lossy network, crashes and restarts, and a bank workload with its checkers.

    python -m dsql_ray.sim --seeds 1000          # many seeds
    python -m dsql_ray.sim --seed 1234 -v        # replay one seed exactly

A seed fixes everything: the network's delays and losses, the fault schedule, the
workload's choices and the ids it generates. A failure prints its seed; running that
seed again replays the same history (the trace digest is equal).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compute.node import ComputeNode
from ..compute.session import Session
from ..config import ClusterConfig
from ..errors import DsqlError, SerializationFailure, Unavailable
from ..keys import encode_key, table_prefix
from .cluster import SimCluster
from .family import PARENTS, Family, OrphanFound
from .loop import SimEventLoop, close_loop
from .network import SimNetwork
from .witness import CompletenessWitness

ACCOUNTS = 8
OPENING = 100


class InvariantViolation(AssertionError):
    pass


@dataclass
class SimOptions:
    duration_s: float = 1.5          # virtual seconds of workload
    clients: int = 4
    readers: int = 1
    faults: bool = True
    drop: float = 0.005              # probability a message (request or reply) is lost
    fault_every_s: float = 0.3       # mean virtual time between faults
    virtual_limit_s: float = 300.0   # liveness bound for the whole seed
    clock_skew_ms: float = 50.0      # each role's clock is off virtual time by up to this
    bounce: float = 0.3              # how often a crashed adjudicator is back at once


@dataclass
class SimResult:
    seed: int
    acked: int = 0
    unknown: int = 0
    conflicts: int = 0
    audits: int = 0
    adopted: int = 0         # kids inserted for a parent (foreign-key workload)
    reaped: int = 0          # parents deleted with their kids
    faults: list[str] = field(default_factory=list)
    messages: int = 0
    dropped: int = 0
    digest: str = ""


class Bank:
    """Transfers between accounts that span adjudicators, and snapshot audits."""

    def __init__(self, cluster: SimCluster, rng: random.Random, result: SimResult):
        self.cluster = cluster
        self.rng = rng
        self.result = result
        self.acked: set[int] = set()
        self.unknown: set[int] = set()
        self.trace: list[tuple] = []

    async def setup(self, node: ComputeNode) -> None:
        s = Session(node)
        # each statement is retried after an unknown outcome, so each is idempotent
        for stmt in ("CREATE TABLE IF NOT EXISTS accounts (id int primary key, bal int not null)",
                     "CREATE TABLE IF NOT EXISTS transfers (id bigint primary key, src int, "
                     "dst int, amount int)"):
            await _retry(lambda stmt=stmt: s.execute_simple(stmt))
        values = ", ".join(f"({i}, {OPENING})" for i in range(ACCOUNTS))
        try:
            await _retry(lambda: s.execute_simple(f"INSERT INTO accounts VALUES {values}"))
        except DsqlError as exc:
            if exc.sqlstate != "23505":   # a retry found the first attempt committed
                raise

    async def transfer_client(self, node: ComputeNode, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        s = Session(node)
        while loop.time() < deadline:
            src, dst = self.rng.sample(range(ACCOUNTS), 2)
            amount = self.rng.randint(1, 20)
            tid = self.rng.getrandbits(62)
            try:
                await s.execute_simple("BEGIN")
                await s.execute_simple(f"UPDATE accounts SET bal = bal - {amount} WHERE id = {src}")
                await s.execute_simple(f"UPDATE accounts SET bal = bal + {amount} WHERE id = {dst}")
                await s.execute_simple(f"INSERT INTO transfers VALUES ({tid}, {src}, {dst}, {amount})")
            except DsqlError:
                await s.execute_simple("ROLLBACK")
                await asyncio.sleep(0.01)
                continue
            try:
                await s.execute_simple("COMMIT")
            except SerializationFailure:
                self.result.conflicts += 1
                continue
            except DsqlError:
                self.unknown.add(tid)      # the outcome is unknown to the client
                self.trace.append(("unknown", round(loop.time(), 6), tid))
                continue
            self.acked.add(tid)
            self.trace.append(("ack", round(loop.time(), 6), tid))

    async def audit_client(self, node: ComputeNode, deadline: float) -> None:
        """A snapshot must show balances that exactly match the transfers it shows."""
        loop = asyncio.get_running_loop()
        s = Session(node)
        while loop.time() < deadline:
            try:
                await s.execute_simple("BEGIN")
                accounts = (await s.execute_simple("SELECT id, bal FROM accounts"))[0].rows
                transfers = (await s.execute_simple("SELECT id, src, dst, amount FROM transfers"))[0].rows
                await s.execute_simple("COMMIT")
            except DsqlError:
                await s.execute_simple("ROLLBACK")
                await asyncio.sleep(0.05)
                continue
            self.result.audits += 1
            check_consistent(dict(accounts), transfers, f"snapshot at {loop.time():.3f}s")
            self.trace.append(("audit", round(loop.time(), 6), len(transfers)))
            await asyncio.sleep(0.1)

    async def verify(self, node: ComputeNode) -> None:
        s = Session(node)
        accounts = (await _retry(lambda: s.execute_simple("SELECT id, bal FROM accounts")))[0].rows
        transfers = (await _retry(lambda: s.execute_simple(
            "SELECT id, src, dst, amount FROM transfers")))[0].rows
        check_consistent(dict(accounts), transfers, "final state")
        present = {t[0] for t in transfers}
        lost = self.acked - present
        if lost:
            raise InvariantViolation(f"{len(lost)} acknowledged transfers lost, e.g. {sorted(lost)[:3]}")
        phantom = present - self.acked - self.unknown
        if phantom:
            raise InvariantViolation(f"{len(phantom)} transfers committed that no client sent")
        self.result.acked, self.result.unknown = len(self.acked), len(self.unknown)


def check_consistent(balances: dict[int, int], transfers: list[tuple], where: str) -> None:
    """Totals are conserved and each balance is the opening plus the transfers seen."""
    if len(balances) != ACCOUNTS or sum(balances.values()) != ACCOUNTS * OPENING:
        raise InvariantViolation(f"{where}: total {sum(balances.values())} over "
                                 f"{len(balances)} accounts")
    expected = {i: OPENING for i in range(ACCOUNTS)}
    for _, src, dst, amount in transfers:
        expected[src] -= amount
        expected[dst] += amount
    if expected != balances:
        raise InvariantViolation(f"{where}: balances do not match the transfers visible "
                                 "(read skew, a lost update or a half-applied commit)")


async def _retry(fn, attempts: int = 100):
    for _ in range(attempts):
        try:
            return await fn()
        except (Unavailable, SerializationFailure):
            await asyncio.sleep(0.2)
    raise InvariantViolation("the cluster did not recover: statements keep failing")


async def _faults(cluster: SimCluster, rng: random.Random, opts: SimOptions, deadline: float,
                  result: SimResult) -> None:
    loop = asyncio.get_running_loop()
    down: dict[str, float] = {}
    while loop.time() < deadline:
        await asyncio.sleep(rng.expovariate(1.0 / opts.fault_every_s))
        now = loop.time()
        for role, until in list(down.items()):
            if now >= until:
                await cluster.restart(role)
                result.faults.append(f"{now:.3f} restart {role}")
                del down[role]
        def is_journal(name: str) -> bool:
            return cluster.specs[name].role == "journal"
        journal_down = any(is_journal(r) for r in down)    # keep a quorum: one at a time
        candidates = [r for r in cluster.roles() if r not in down
                      and not (journal_down and is_journal(r))]
        if now < deadline and candidates:
            role = rng.choice(candidates)
            cluster.crash(role)
            result.faults.append(f"{now:.3f} crash {role}")
            if cluster.specs[role].role == "adjudicator" and rng.random() < opts.bounce:
                # back within milliseconds, with a new clock offset (another host):
                # one behind must still commit above the leases it granted before
                await asyncio.sleep(rng.uniform(0.001, 0.02))
                await cluster.restart(role)
                result.faults.append(f"{loop.time():.3f} restart {role}")
            else:
                down[role] = now + rng.uniform(0.2, 2.0)
    for role in sorted(down):
        await cluster.restart(role)
        result.faults.append(f"{loop.time():.3f} restart {role}")


async def _simulate(seed: int, data_dir: Path, opts: SimOptions) -> SimResult:
    rng = random.Random(seed)
    random.seed(seed)    # hidden keys and any other module-level randomness
    result = SimResult(seed)
    net = SimNetwork(random.Random(rng.getrandbits(64)), drop=opts.drop if opts.faults else 0)
    # table 1 (accounts) spans two adjudicators; table 2 (transfers) is in the second;
    # table 3 (parents, family.py) spans the second and a third, which holds table 4 (kids)
    config = ClusterConfig(data_dir=data_dir, shard_splits=[
        table_prefix(1).hex(), (table_prefix(1) + encode_key((ACCOUNTS // 2,))).hex(),
        (table_prefix(3) + encode_key((PARENTS // 2,))).hex()],
        clock_error_ms=2 * opts.clock_skew_ms)     # the most two skewed clocks differ
    witness = CompletenessWitness()
    cluster = SimCluster(data_dir, net, random.Random(rng.getrandbits(64)), config,
                         skew_us=int(opts.clock_skew_ms * 1000), witness=witness)
    await cluster.start()
    bank = Bank(cluster, random.Random(rng.getrandbits(64)), result)
    family = Family(random.Random(rng.getrandbits(64)))
    try:
        nodes = [cluster.compute() for _ in range(2)]
        for node in nodes:
            await node.sync_clock()
        await bank.setup(nodes[0])
        await family.setup(nodes[1], _retry)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.duration_s
        tasks = [bank.transfer_client(nodes[i % 2], deadline) for i in range(opts.clients)]
        tasks += [bank.audit_client(nodes[i % 2], deadline) for i in range(opts.readers)]
        tasks += [family.adopter(nodes[0], deadline), family.reaper(nodes[1], deadline),
                  family.auditor(nodes[0], deadline)]
        if opts.faults:
            tasks.append(_faults(cluster, random.Random(rng.getrandbits(64)), opts, deadline,
                                 result))
        await asyncio.gather(*tasks)
        net.drop = 0.0
        await bank.verify(nodes[1])
        await family.verify(nodes[0], _retry)
        result.adopted, result.reaped = family.adopted, family.reaped
        missed = witness.violations()
        if missed:
            raise InvariantViolation(f"{len(missed)} reads incomplete, e.g. {missed[0]}")
        result.conflicts += family.conflicts
    except OrphanFound as exc:
        raise InvariantViolation(f"{exc}; faults so far: {result.faults}") from None
    except InvariantViolation as exc:
        raise InvariantViolation(f"{exc}; faults so far: {result.faults}") from None
    finally:
        cluster.stop()
    result.messages, result.dropped = net.calls, net.dropped
    result.digest = hashlib.sha256(repr((bank.trace, result.faults)).encode()).hexdigest()[:16]
    return result


async def _within(coro, limit_s: float):
    """Liveness: a seed that has not finished after ``limit_s`` virtual seconds fails."""
    try:
        return await asyncio.wait_for(coro, limit_s)
    except asyncio.TimeoutError:
        raise InvariantViolation(f"no progress: still running after {limit_s:.0f} virtual "
                                 "seconds (a role never recovered or a wait never ended)") from None


def run_seed(seed: int, opts: SimOptions | None = None) -> SimResult:
    """Run one seed in a fresh virtual-time loop and a fresh directory."""
    opts = opts or SimOptions()
    if not logging.getLogger().handlers:      # quiet unless the caller configured logging
        logging.getLogger("dsql_ray").setLevel(logging.CRITICAL)
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    data_dir = Path(tempfile.mkdtemp(prefix=f"dsql-sim-{seed}-", dir=base))
    loop = SimEventLoop()
    try:
        return loop.run_until_complete(_within(_simulate(seed, data_dir, opts),
                                               opts.virtual_limit_s))
    except InvariantViolation as exc:
        raise InvariantViolation(f"seed {seed}: {exc}  (replay: python -m dsql_ray.sim "
                                 f"--seed {seed} -v)") from exc
    finally:
        close_loop(loop)
        shutil.rmtree(data_dir, ignore_errors=True)


def summary(results: list[SimResult]) -> dict[str, Any]:
    return {"seeds": len(results), "acked": sum(r.acked for r in results),
            "unknown": sum(r.unknown for r in results),
            "conflicts": sum(r.conflicts for r in results),
            "audits": sum(r.audits for r in results),
            "adopted": sum(r.adopted for r in results),
            "reaped": sum(r.reaped for r in results),
            "faults": sum(len(r.faults) for r in results),
            "messages": sum(r.messages for r in results),
            "dropped": sum(r.dropped for r in results)}
