"""The journal's quorum rule, single-region and linked (2 of 3 regions, each 2 of 3 zones)."""
import itertools

import pytest

from dsql_ray.adjudicator.quorum import Quorum
from dsql_ray.config import ClusterConfig, LinkedConfig, RegionConfig, region_zones
from dsql_ray.control.topology import journal_names, journal_quorum


def linked() -> Quorum:
    return Quorum([[0, 1, 2], [3, 4, 5], [6, 7, 8]], 2, 2)


def test_flat_quorum_is_the_second_highest_ack():
    q = Quorum.flat(3, 2)
    assert q.durable([5, 9, 7]) == 7
    assert q.covers([0, 2]) and not q.covers([1])


def test_linked_record_needs_two_zones_in_two_regions():
    q = linked()
    # two zones of the first region only: not durable anywhere else
    assert q.durable([9, 9, 0, 0, 0, 0, 0, 0, 0]) == 0
    # one zone in each region: no region holds it twice
    assert q.durable([9, 0, 0, 9, 0, 0, 9, 0, 0]) == 0
    # two zones in the first region and two in the witness
    assert q.durable([9, 9, 0, 0, 0, 0, 9, 8, 0]) == 8
    assert q.durable([4, 7, 6, 3, 5, 2, 9, 9, 9]) == 6


def test_any_two_linked_quorums_share_a_replica():
    q = linked()
    quorums = [set(c) for n in range(4, 5) for c in itertools.combinations(range(9), n)
               if q.covers(c)]
    assert quorums, "four replicas (2 + 2) can form a quorum"
    for a, b in itertools.combinations(quorums, 2):
        assert a & b, (a, b)


def test_a_lost_region_leaves_a_quorum_a_lost_region_and_zone_does_not():
    q = linked()
    assert q.covers(range(3, 9))                   # the first region gone
    assert not q.covers([3, 4, 6])                 # and two of the witness's zones too
    assert q.covers([3, 4, 6, 7])


def test_linked_config_names_every_regions_replicas():
    link = LinkedConfig(peers=["us-east-1", "us-east-2"], witness="us-west-2")
    config = ClusterConfig(region=RegionConfig(name="us-east-2", zones=region_zones("us-east-2")),
                           linked=link)
    names = journal_names(config)
    assert names[:3] == ["journal-us-east-1a", "journal-us-east-1b", "journal-us-east-1c"]
    assert names[6:] == ["journal-us-west-2a", "journal-us-west-2b", "journal-us-west-2c"]
    q = journal_quorum(config)
    assert (q.need_groups, q.need_members, q.size) == (2, 2, 9)
    single = journal_quorum(ClusterConfig())
    assert (len(single.groups), single.need_members, single.size) == (1, 2, 3)


def test_linked_config_refuses_a_region_outside_the_link():
    with pytest.raises(ValueError, match="not one of the linked"):
        ClusterConfig(region=RegionConfig(name="eu-west-1", zones=region_zones("eu-west-1")),
                      linked=LinkedConfig())
    with pytest.raises(ValueError, match="witness"):
        LinkedConfig(peers=["us-east-1", "us-east-1"], witness="us-west-2")
