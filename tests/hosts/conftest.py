"""One dsql-ray cluster across three real hosts (network namespaces) per test session.

The hosts run the Ray start commands of ``cluster_configs/aws-us-east-1.yaml``
(:mod:`dsql_ray.testing.hosts`); the head's commands deploy dsql-ray with
``dsql-ray up --address auto``. Clients run here, in the root namespace, and reach each
zone's endpoint over the bridge with TLS and a token minted by boto3.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import boto3
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from dsql_ray.testing.hosts import Hosts

NAME = "us-east-1"          # the name the config's head start command gives the cluster
REGION = "us-east-1"


class HostsCluster:
    def __init__(self, hosts: Hosts, state: dict):
        self.hosts, self.state = hosts, state
        self.data_dir = hosts.data_dir(NAME)

    @property
    def endpoints(self) -> dict[str, tuple[str, int]]:
        return {z: tuple(a) for z, a in self.state["endpoints"].items()}

    @property
    def host_name(self) -> str:
        return f"{(self.data_dir / 'cluster-id').read_text().strip()}.dsql.{REGION}.on.aws"

    @functools.cached_property
    def sdk(self):
        stored = json.loads((self.data_dir / "credentials.json").read_text())
        return boto3.Session(aws_access_key_id=stored["aws_access_key_id"],
                             aws_secret_access_key=stored["aws_secret_access_key"]
                             ).client("dsql", region_name=REGION)

    def dsn(self, zone: str, **extra) -> str:
        host, port = self.endpoints[zone]
        token = self.sdk.generate_db_connect_admin_auth_token(self.host_name, REGION, 3600)
        return make_conninfo(host=host, port=port, dbname="postgres", user="admin",
                             sslmode="require", password=token, **extra)

    def connect(self, zone: str) -> psycopg.Connection:
        return psycopg.connect(self.dsn(zone), autocommit=True, connect_timeout=10)

    def status(self) -> list[dict]:
        return json.loads(self.hosts.cli("status", "--name", NAME, "--json").stdout)


def _need_root() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the hosts tests need root and iproute2 (ip netns)")


@pytest.fixture(scope="session")
def hosts():
    _need_root()
    # short: Ray's Unix socket paths under each host's temp directory must fit 107 bytes
    h = Hosts(Path(tempfile.mkdtemp(prefix="dqh", dir="/tmp")))
    h.create()
    try:
        h.start(h.head.zone)
        # with only the head's zone joined, up refuses, names the missing zones and
        # starts nothing
        h.refused = h.cli("up", "--address", "auto", "--name", "probe", check=False)
        h.probe_status = h.cli("status", "--name", "probe", check=False)
        for zone in h.hosts:
            if zone != h.head.zone:
                h.start(zone)
        yield h
    finally:
        h.close()


@pytest.fixture(scope="session")
def hcluster(hosts) -> HostsCluster:
    return HostsCluster(hosts, hosts.wait_deployed(NAME))
