"""Which sets of journal replicas make a record durable.

A single region: ``need`` of its replicas (one per zone, 2 of 3). A linked cluster: the
replicas fall into groups, one per region (peer, peer, witness), and a record is durable
once ``need_groups`` regions each hold it on ``need_members`` of their zones (2 of 3
regions, each on 2 of 3 zones). Any two such sets share a region and, within it, a zone,
so recovery that reads a quorum sees every acknowledged record (the Raft argument,
nested).
"""
from __future__ import annotations

from typing import Iterable, Sequence


class Quorum:
    def __init__(self, groups: Sequence[Sequence[int]], need_groups: int, need_members: int):
        if not 1 <= need_groups <= len(groups):
            raise ValueError(f"need {need_groups} of {len(groups)} groups")
        if any(not 1 <= need_members <= len(g) for g in groups):
            raise ValueError(f"every group needs at least {need_members} members")
        self.groups = [list(g) for g in groups]
        self.need_groups = need_groups
        self.need_members = need_members

    @classmethod
    def flat(cls, replicas: int, need: int) -> Quorum:
        return cls([list(range(replicas))], 1, need)

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)

    def durable(self, acked: Sequence[int]) -> int:
        """The highest seq on a quorum, given each replica's acknowledged seq."""
        per_group = sorted((sorted((acked[i] for i in g), reverse=True)[self.need_members - 1]
                            for g in self.groups), reverse=True)
        return per_group[self.need_groups - 1]

    def covers(self, replicas: Iterable[int]) -> bool:
        """Whether these replicas include a quorum."""
        have = set(replicas)
        full = sum(1 for g in self.groups if len(have.intersection(g)) >= self.need_members)
        return full >= self.need_groups

    def describe(self) -> str:
        if len(self.groups) == 1:
            return f"{self.need_members} of {len(self.groups[0])} replicas"
        return (f"{self.need_members} of each region's replicas in {self.need_groups} "
                f"of {len(self.groups)} regions")
