"""One real local cluster for the Python client's tests, with ≥ 4 key ranges in its first
table, and this process joined to its Ray as a driver (as a notebook would be)."""
from __future__ import annotations

import pytest

from dsql_ray.keys import encode_key, table_prefix

from ..integration.conftest import LocalCluster, free_port

#: the first user table (``items``, created by the fixture) is split at these ids
SPLIT_IDS = (250, 500, 750)
ITEMS = 1000


@pytest.fixture(scope="package")
def client_cluster(tmp_path_factory):
    splits = [table_prefix(1).hex()] + [(table_prefix(1) + encode_key((i,))).hex()
                                        for i in SPLIT_IDS]
    c = LocalCluster(tmp_path_factory.mktemp("client"), free_port(), "pytestclient",
                     up_args=("--shard-splits", ",".join(splits)))
    c.up()
    try:
        with c.connect() as conn:        # table 1 (split in 4) over the wire, with psycopg
            conn.execute("CREATE TABLE items (id int primary key, grp int, qty bigint, "
                         "price numeric(12,2), label text)")
            conn.execute("INSERT INTO items VALUES " + ", ".join(
                f"({i}, {i % 7}, 100, {i}.25, 'item {i}')" for i in range(ITEMS)))
        yield c
    finally:
        c.down()


@pytest.fixture(scope="package")
def ray_driver(client_cluster):
    """This process as a driver of the cluster's Ray (shut down after the package)."""
    import ray
    ray.init(address=client_cluster.state["ray_address"], log_to_driver=False,
             logging_level="ERROR")
    yield client_cluster.name
    ray.shutdown()
