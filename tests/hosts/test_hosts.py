"""dsql-ray across three hosts (network namespaces), deployed by the cluster config's own
start commands; clients in the root namespace reach every zone's endpoint."""
from __future__ import annotations

import json
import subprocess
import sys

from dsql_ray.testing.hosts import Hosts

CLUSTER = "us-east-1"      # the name the config's head start command gives the cluster


def test_up_refuses_a_cluster_missing_zones_and_starts_nothing(hosts: Hosts, hcluster):
    refused = hosts.refused
    assert refused.returncode != 0, refused.stdout
    assert "us-east-1b, us-east-1c" in refused.stderr and "nothing was started" in \
        refused.stderr, refused.stderr
    # nothing was deployed under that name, and status says so with a failing exit code
    assert hosts.probe_status.returncode != 0
    assert "not running" in hosts.probe_status.stderr
    again = hosts.cli("status", "--name", "probe", check=False)
    assert again.returncode != 0


def test_every_actor_runs_on_its_zones_host(hcluster):
    rows = hcluster.status()
    by_zone: dict[str, set[str]] = {}
    for row in rows:
        assert row["state"] == "ALIVE", row
        if row.get("address"):
            assert row["address"][0] == row["node_ip"], row
            by_zone.setdefault(row["zone"], set()).add(row["address"][0])
    # three distinct host addresses, one per zone: the namespaces' own addresses
    assert {z: len(a) for z, a in by_zone.items()} == {z: 1 for z in hcluster.endpoints}
    addresses = {next(iter(a)) for a in by_zone.values()}
    assert addresses == {h.address for h in hcluster.hosts.hosts.values()}
    relays = {r["zone"]: tuple(r["endpoint"]) for r in rows if r["role"] == "relay"}
    assert relays == hcluster.endpoints
    computes = {r["zone"] for r in rows if r["role"] == "compute"}
    assert computes == set(hcluster.endpoints)


def test_the_seed_demo_through_every_zone(hcluster):
    zones = sorted(hcluster.endpoints)
    with hcluster.connect(zones[0]) as conn:
        conn.execute("CREATE TABLE demo (id int primary key, v text)")
    for i, zone in enumerate(zones):
        with hcluster.connect(zone) as conn:
            conn.execute("INSERT INTO demo VALUES (%s, %s)", (i, f"from {zone}"))
            assert conn.execute("SELECT v FROM demo WHERE id = %s", (i,)).fetchone() == \
                (f"from {zone}",)
    # what one zone committed, every other zone reads at once
    for i, writer in enumerate(zones):
        with hcluster.connect(writer) as w:
            w.execute("INSERT INTO demo VALUES (%s, %s)", (1000 + i, writer))
        for reader in zones:
            with hcluster.connect(reader) as r:
                assert r.execute("SELECT v FROM demo WHERE id = %s",
                                 (1000 + i,)).fetchone() == (writer,), (writer, reader)


def test_a_driver_in_the_root_namespace_joins_over_the_bridge(hosts: Hosts, hcluster):
    code = ("import json, ray; ray.init(address=%r, logging_level='ERROR'); "
            "print(json.dumps(sorted((n['NodeManagerAddress'], n['Labels'].get('zone')) "
            "for n in ray.nodes() if n['Alive'])))" % hosts.ray_address)
    proc = subprocess.run([sys.executable, "-c", code], env=hosts.driver_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    nodes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert nodes == sorted([h.address, h.zone] for h in hosts.hosts.values())


def test_ray_refuses_a_driver_without_the_clusters_token(hosts: Hosts, hcluster):
    code = "import ray; ray.init(address=%r, logging_level='ERROR')" % hosts.ray_address
    env = {k: v for k, v in hosts.driver_env().items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(hosts.workdir)          # no ~/.ray/auth_token of this machine
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "token" in (proc.stderr + proc.stdout).lower(), proc.stderr[-2000:]


def test_the_python_client_over_ray_from_a_driver_on_the_bridge(hosts: Hosts, hcluster):
    """dsql_ray.connect from a process attached with ray.init(address=…) to the hosts'
    Ray: statements run on a compute actor on another host, over the data plane."""
    code = f"""
import json, dsql_ray
conn = dsql_ray.connect({CLUSTER!r}, address={hosts.ray_address!r})
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS via_client (id int PRIMARY KEY, v text)")
conn.commit()
cur.executemany("INSERT INTO via_client VALUES (%s, %s)", [(i, f"r{{i}}") for i in range(5)])
conn.commit()
cur.execute("SELECT id, v FROM via_client WHERE id >= %s ORDER BY id", (3,))
rows = cur.fetchall()
try:
    cur.execute("INSERT INTO via_client VALUES (1, 'dup')")
    conn.commit()
    state = None
except dsql_ray.IntegrityError as exc:
    state = exc.sqlstate
    conn.rollback()
print(json.dumps({{"rows": rows, "dup": state}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], env=hosts.driver_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"rows": [[3, "r3"], [4, "r4"]], "dup": "23505"}
    with hcluster.connect("us-east-1c") as c:     # and the wire sees the client's rows
        assert c.execute("SELECT count(*) FROM via_client").fetchone() == (5,)
