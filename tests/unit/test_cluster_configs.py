"""The `ray up` configs in cluster_configs/ are valid and place nodes by region and zone."""
from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

import ray.autoscaler
from ray._private.ray_constants import LABELS_ENVIRONMENT_VARIABLE
from ray.autoscaler._private import updater
from ray.autoscaler._private.util import prepare_config, validate_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "cluster_configs"

#: file -> (region, worker zones, head zone, extra head labels)
EXPECTED = {
    "aws-us-east-1.yaml": ("us-east-1", ["us-east-1a", "us-east-1b", "us-east-1c"],
                           "us-east-1a", {}),
    "aws-us-east-2.yaml": ("us-east-2", ["us-east-2a", "us-east-2b", "us-east-2c"],
                           "us-east-2a", {}),
    "aws-us-west-2-witness.yaml": ("us-west-2", [], "us-west-2a", {"role": "witness"}),
}


def load(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / name).read_text())


def test_every_config_file_is_tested():
    assert sorted(p.name for p in CONFIG_DIR.glob("aws-*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_ray_schema(name):
    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    jsonschema.validate(load(name), json.loads(schema_path.read_text()))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_passes_ray_up_validation(name):
    """The checks `ray up` runs before it contacts AWS."""
    validate_config(prepare_config(copy.deepcopy(load(name))))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nodes_are_labelled_and_placed_by_zone(name):
    region, worker_zones, head_zone, head_extra = EXPECTED[name]
    config = load(name)
    assert config["provider"]["type"] == "aws"
    assert config["provider"]["region"] == region
    provider_zones = config["provider"]["availability_zone"].split(",")

    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["labels"] == {"region": region, "zone": head_zone, **head_extra}

    for node_type in types.values():
        labels, node_config = node_type["labels"], node_type["node_config"]
        assert labels["region"] == region
        assert labels["zone"] in provider_zones
        assert node_config["Placement"] == {"AvailabilityZone": labels["zone"]}
        assert re.fullmatch(r"ami-[0-9a-f]{17}", node_config["ImageId"])
        assert node_config["InstanceType"]

    workers = [t for key, t in types.items() if key != config["head_node_type"]]
    assert sorted(t["labels"]["zone"] for t in workers) == worker_zones
    assert all(t["min_workers"] >= 1 for t in workers)
    assert config["max_workers"] >= sum(t.get("max_workers", 0) for t in workers)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_start_commands_leave_labels_to_the_node_types(name):
    """worker_start_ray_commands is shared by all zones, so it must not name one."""
    config = load(name)
    commands = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert commands and not any("--labels" in c for c in commands)


def test_ray_passes_node_type_labels_to_ray_start():
    """The configs rely on this Ray mechanism; fail loudly if an upgrade drops it."""
    assert LABELS_ENVIRONMENT_VARIABLE == "RAY_OVERRIDE_LABELS"
    source = inspect.getsource(updater.NodeUpdater)
    assert "env_vars[LABELS_ENVIRONMENT_VARIABLE] = self.node_labels" in source
