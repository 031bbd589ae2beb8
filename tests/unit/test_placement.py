"""Topology and healing decisions (plain logic, no Ray)."""
from __future__ import annotations

from dsql_ray.config import ClusterConfig
from dsql_ray.control.control import Control, Healer
from dsql_ray.control.deploy import missing_zones
from dsql_ray.control.topology import plan_topology, relay_port

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_every_zone_serves_on_a_ray_cluster():
    config = ClusterConfig(serving_zones="all", host=None, compute_per_zone=3)
    specs = plan_topology(config)
    relays = {s.zone: s.name for s in specs if s.role == "relay"}
    assert sorted(relays) == ZONES
    for zone in ZONES:
        assert sum(s.role == "compute" and s.zone == zone for s in specs) == 3
    assert {relay_port(config, z) for z in ZONES} == {5432}


def test_the_embedded_default_keeps_one_front_end_and_loopback_ports_differ():
    specs = plan_topology(ClusterConfig())
    assert [s.name for s in specs if s.role in ("relay", "compute")] == \
        ["relay", "compute-0", "compute-1"]
    config = ClusterConfig(serving_zones="all", port=6000)
    assert [relay_port(config, z) for z in ZONES] == [6000, 6001, 6002]


def test_adjudicators_spread_over_zones_or_sit_beside_the_serving_compute():
    def homes(**kw):
        return {s.name: s.zone for s in plan_topology(ClusterConfig(**kw))
                if s.role == "adjudicator"}
    assert homes() == {"adjudicator-0": "us-east-1a", "adjudicator-1": "us-east-1b"}
    assert set(homes(adjudicator_zones="serving").values()) == {"us-east-1a"}


def test_up_names_the_missing_zones():
    nodes = [{"Alive": True, "Labels": {"region": "us-east-1", "zone": "us-east-1a"}},
             {"Alive": False, "Labels": {"region": "us-east-1", "zone": "us-east-1b"}},
             {"Alive": True, "Labels": {"region": "us-east-2", "zone": "us-east-1c"}}]
    assert missing_zones(nodes, ClusterConfig()) == ["us-east-1b", "us-east-1c"]


def test_adjudicators_of_a_lost_zone_move_to_the_least_loaded_survivor():
    control = Control(ClusterConfig(shard_splits=["01", "02"]))   # adjudicators in a, b, c
    healer = Healer(control)
    assert healer.to_move(set(ZONES)) == []
    moved = healer.to_move({"us-east-1a", "us-east-1c"})
    assert [(s.name, s.zone) for s in moved] == [("adjudicator-1", "us-east-1a")]
    control.register("adjudicator-1", {"zone": "us-east-1b"})   # its last heartbeat
    healer.moved(moved[0])
    # until the moved one registers, the registry still shows zone b: it is not moved again
    assert healer.to_move({"us-east-1a", "us-east-1c"}) == []
    control.register("adjudicator-1", {"zone": "us-east-1a"})
    assert healer.to_move({"us-east-1a", "us-east-1c"}) == []   # it stays where it went


def test_a_restarted_control_learns_where_adjudicators_live_from_heartbeats():
    control = Control(ClusterConfig())              # adjudicator-1 planned in zone b
    control.register("adjudicator-1", {"zone": "us-east-1c"})
    healer = Healer(control)
    assert [(s.name, s.zone) for s in healer.to_move({"us-east-1a", "us-east-1b"})] == \
        [("adjudicator-1", "us-east-1b")]


def test_a_zone_whose_actors_all_went_silent_counts_as_lost():
    control = Control(ClusterConfig())
    control.register("journal-us-east-1a", {"zone": "us-east-1a"})
    control.register("journal-us-east-1b", {"zone": "us-east-1b"})
    control.registry["journal-us-east-1b"]["seen"] -= 20
    assert control.silent_zones(8.0) == {"us-east-1b"}


def test_a_replaced_actor_is_forgotten_and_its_late_heartbeats_ignored():
    control = Control(ClusterConfig())
    old = {"zone": "us-east-1b", "address": ["10.0.0.12", 7000], "node_id": "n-b", "pid": 41}
    control.register("adjudicator-1", old)
    control.retire("adjudicator-1")
    # no address on the dead host is handed out while the successor starts
    assert control.lookup("adjudicator-1") is None
    control.register("adjudicator-1", old)               # the old instance, late
    assert control.lookup("adjudicator-1") is None
    new = {"zone": "us-east-1c", "address": ["10.0.0.13", 7001], "node_id": "n-c", "pid": 7}
    control.register("adjudicator-1", new)
    assert control.lookup("adjudicator-1")["address"] == ["10.0.0.13", 7001]


def test_a_lost_zones_addresses_are_not_handed_out_until_it_comes_back():
    control = Control(ClusterConfig())
    for zone in ZONES:
        control.register(f"journal-{zone}", {"zone": zone, "address": ["h", 1]})
    control.registry["journal-us-east-1b"]["seen"] -= 20
    assert control.lost_zones(set(ZONES)) == {"us-east-1b"}
    assert control.address_of("journal-us-east-1b") is None
    assert control.address_of("journal-us-east-1c")["zone"] == "us-east-1c"
    assert control.lookup("journal-us-east-1b") is not None     # status still lists it
    control.register("journal-us-east-1b", {"zone": "us-east-1b", "address": ["h", 2]})
    assert control.lost_zones(set(ZONES)) == set()
    assert control.address_of("journal-us-east-1b")["address"] == ["h", 2]
    # a zone without a live Ray node is lost whatever its last heartbeats say
    assert control.lost_zones({"us-east-1a", "us-east-1b"}) == {"us-east-1c"}


def test_two_silent_zones_at_once_are_not_counted_lost():
    """A region survives losing one zone; two going silent together means control itself
    stalled (its heartbeats queued), so nothing moves on that evidence alone."""
    control = Control(ClusterConfig())
    for zone in ZONES:
        control.register(f"journal-{zone}", {"zone": zone})
    for zone in ("us-east-1b", "us-east-1c"):
        control.registry[f"journal-{zone}"]["seen"] -= 20
    assert control.lost_zones(set(ZONES)) == set()
