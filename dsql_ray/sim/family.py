"""A foreign-key workload for the simulation: parents deleted and re-created while
children are inserted for them, under crashes and message loss.

``kids.p REFERENCES parents`` (NO ACTION). *Adopters* insert a kid for a random parent;
*reapers* delete a random parent together with its visible kids, then create it again.
Parents span two adjudicators and kids live on one of them, so the check runs both in a
single range and through the prepare round (shared keys carried to their owner).
Invariant, in every snapshot and at the end: no kid without its parent (no orphan).
"""
from __future__ import annotations

import asyncio
import random

from ..compute.node import ComputeNode
from ..compute.session import Session
from ..errors import DsqlError, SerializationFailure

PARENTS = 6
ORPHANS = "SELECT count(*) FROM kids WHERE p NOT IN (SELECT id FROM parents)"


class OrphanFound(AssertionError):
    pass


class Family:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.adopted = 0
        self.reaped = 0
        self.conflicts = 0
        self.audits = 0

    async def setup(self, node: ComputeNode, retry) -> None:
        s = Session(node)
        for stmt in ("CREATE TABLE IF NOT EXISTS parents (id int primary key)",
                     "CREATE TABLE IF NOT EXISTS kids (id bigint primary key, "
                     "p int REFERENCES parents)"):
            await retry(lambda stmt=stmt: s.execute_simple(stmt))
        values = ", ".join(f"({i})" for i in range(PARENTS))
        await retry(lambda: s.execute_simple(
            f"INSERT INTO parents VALUES {values} ON CONFLICT DO NOTHING"))

    async def _txn(self, s: Session, statements: list[str]) -> bool:
        """One transaction; True if it committed (unknown outcomes count as not)."""
        try:
            await s.execute_simple("BEGIN")
            for stmt in statements:
                await s.execute_simple(stmt)
        except DsqlError:
            await s.execute_simple("ROLLBACK")
            await asyncio.sleep(0.01)
            return False
        try:
            await s.execute_simple("COMMIT")
        except SerializationFailure:
            self.conflicts += 1
            return False
        except DsqlError:
            return False
        return True

    async def adopter(self, node: ComputeNode, deadline: float) -> None:
        loop, s = asyncio.get_running_loop(), Session(node)
        while loop.time() < deadline:
            p = self.rng.randrange(PARENTS)
            if await self._txn(s, [f"INSERT INTO kids VALUES ({self.rng.getrandbits(62)}, {p})"]):
                self.adopted += 1

    async def reaper(self, node: ComputeNode, deadline: float) -> None:
        loop, s = asyncio.get_running_loop(), Session(node)
        while loop.time() < deadline:
            p = self.rng.randrange(PARENTS)
            if await self._txn(s, [f"DELETE FROM kids WHERE p = {p}",
                                   f"DELETE FROM parents WHERE id = {p}"]):
                self.reaped += 1
            await self._txn(s, [f"INSERT INTO parents VALUES ({p}) ON CONFLICT DO NOTHING"])
            await asyncio.sleep(0.02)

    async def auditor(self, node: ComputeNode, deadline: float) -> None:
        loop, s = asyncio.get_running_loop(), Session(node)
        while loop.time() < deadline:
            try:
                orphans = (await s.execute_simple(ORPHANS))[0].rows[0][0]
            except DsqlError:
                await asyncio.sleep(0.05)
                continue
            self.audits += 1
            if orphans:
                raise OrphanFound(f"{orphans} kids without a parent at {loop.time():.3f}s")
            await asyncio.sleep(0.1)

    async def verify(self, node: ComputeNode, retry) -> None:
        s = Session(node)
        orphans = (await retry(lambda: s.execute_simple(ORPHANS)))[0].rows[0][0]
        if orphans:
            raise OrphanFound(f"final state: {orphans} kids without a parent")
