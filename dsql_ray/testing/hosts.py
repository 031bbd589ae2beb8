"""Real hosts on this machine: one network namespace per availability zone.

:class:`Hosts` builds three network namespaces on a Linux bridge, one per zone, each
with its own private address (veth pairs, ``10.77.N.11-13``; the bridge, in the root
namespace, is ``10.77.N.1`` so clients here reach the hosts). In each namespace it runs
the Ray start commands of a ``ray up`` config in ``cluster_configs/`` (the head node
type in the first zone, the worker types of the other zones), as Ray's node updater
would: with the node type's labels in ``RAY_OVERRIDE_LABELS`` and ``RAY_HEAD_IP`` set.
The head's commands end with ``dsql-ray up --address auto``, run in the background until
the three zones have joined. Each host has its own HOME (the config's
``~/dsql-ray-files``, as ``file_mounts`` would ship it: the Ray token) and its own Ray
temp directory. Everything runs as root (``ip netns``).

What the fixture changes in the config's commands, and why:
* ``ray stop`` is skipped: the namespaces share this machine's process table, and
  ``ray stop`` kills every Ray process on it, other clusters' too.
* ``--autoscaling-config=…`` is dropped: ``ray up`` uploads that file; there is no
  autoscaler here.
Setup commands (installing the wheel with uv from the internet) are not run: the hosts
use this checkout's virtualenv, first on PATH as the setup makes the installed one.

:meth:`cut` sets a host's link down (this kernel has no netem); :meth:`kill` kills every
process in its namespace (``ip netns pids``); :meth:`start` runs its start commands
again. :meth:`close` removes every namespace, veth and the bridge it created.
"""
from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "cluster_configs"
DEFAULT_CONFIG = CONFIG_DIR / "aws-us-east-1.yaml"
#: a directory to copy every host's Ray logs into when the hosts are removed
KEEP_LOGS_ENV = "DSQL_HOSTS_KEEP_LOGS"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


@dataclass
class Host:
    zone: str
    node_type: str
    labels: dict
    netns: str
    veth: str           # root-namespace end, on the bridge
    address: str
    home: Path
    head: bool


class Hosts:
    def __init__(self, workdir: Path, config_path: Path = DEFAULT_CONFIG,
                 tag: str | None = None):
        self.config_path = Path(config_path)
        self.config = yaml.safe_load(self.config_path.read_text())
        self.tag = tag or f"{os.getpid() % 100000:05d}"
        self.octet = int(self.tag) % 250 + 1
        self.workdir = Path(workdir)
        self.bridge = f"dqb{self.tag}"
        self.bridge_ip = f"10.77.{self.octet}.1"
        self.token = secrets.token_hex(32)
        self.hosts: dict[str, Host] = {}
        self._made: list[tuple[str, str]] = []     # ("ns"|"link", name), for close()
        types = self.config["available_node_types"]
        head_type = self.config["head_node_type"]
        order = [head_type] + sorted(
            (k for k, t in types.items() if k != head_type
             and t["labels"]["zone"] != types[head_type]["labels"]["zone"]),
            key=lambda k: types[k]["labels"]["zone"])
        for i, key in enumerate(order):
            zone = types[key]["labels"]["zone"]
            self.hosts[zone] = Host(
                zone, key, dict(types[key]["labels"]), f"dsql-{self.tag}-{zone}",
                f"dq{self.tag}{i}", f"10.77.{self.octet}.{11 + i}",
                self.workdir / f"h{i}", key == head_type)
        self.head = self.hosts[types[head_type]["labels"]["zone"]]

    # -- the network ------------------------------------------------------------------
    def create(self) -> "Hosts":
        _ip("link", "add", self.bridge, "type", "bridge")
        self._made.append(("link", self.bridge))
        _ip("addr", "add", f"{self.bridge_ip}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in self.hosts.values():
            _ip("netns", "add", host.netns)
            self._made.append(("ns", host.netns))
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
                "netns", host.netns)
            self._made.append(("link", host.veth))
            _ip("link", "set", host.veth, "master", self.bridge)
            _ip("link", "set", host.veth, "up")
            for args in (("addr", "add", f"{host.address}/24", "dev", "eth0"),
                         ("link", "set", "lo", "up"), ("link", "set", "eth0", "up"),
                         ("route", "add", "default", "via", self.bridge_ip)):
                _ip("-n", host.netns, *args)
            files = host.home / "dsql-ray-files"
            files.mkdir(parents=True, exist_ok=True)
            (files / "ray_auth_token").write_text(self.token + "\n")
            (host.home / "ray-tmp").mkdir(exist_ok=True)
        return self

    def cut(self, zone: str) -> None:
        """Cut the host off the network (its link down)."""
        _ip("link", "set", self.hosts[zone].veth, "down")

    def reconnect(self, zone: str) -> None:
        _ip("link", "set", self.hosts[zone].veth, "up")

    # -- processes ----------------------------------------------------------------------
    def env(self, host: Host) -> dict[str, str]:
        venv_bin = os.path.dirname(sys.executable)
        return {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                "HOME": str(host.home), "RAY_TMPDIR": str(host.home / "ray-tmp"),
                "RAY_USAGE_STATS_ENABLED": "0", "RAY_HEAD_IP": self.head.address,
                "RAY_OVERRIDE_LABELS": json.dumps(host.labels), "LANG": "C.UTF-8"}

    def start_commands(self, host: Host) -> list[str]:
        key = "head_start_ray_commands" if host.head else "worker_start_ray_commands"
        out = []
        for command in self.config[key]:
            if command.strip() == "ray stop":
                continue
            out.append(" ".join(w for w in command.split(" ")
                                if not w.startswith("--autoscaling-config=")))
        return out

    def run(self, zone: str, command: str, timeout: float = 240,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a shell command on a host, as a user would over ssh."""
        host = self.hosts[zone]
        proc = subprocess.run(["ip", "netns", "exec", host.netns, "bash", "-c", command],
                              env=self.env(host), capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"on {zone}: {command!r} failed ({proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, zone: str, attempts: int = 3) -> None:
        """Run the host's start commands; on a busy machine ``ray start`` can time out
        joining the head, so a failed start kills what it left and tries again."""
        for attempt in range(attempts):
            try:
                for command in self.start_commands(self.hosts[zone]):
                    self.run(zone, command)
                return
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                self.kill(zone)

    def start_all(self) -> None:
        for zone in self.hosts:
            self.start(zone)

    def pids(self, zone: str) -> list[int]:
        out = _ip("netns", "pids", self.hosts[zone].netns, check=False).stdout
        return [int(p) for p in out.split()]

    def kill_process(self, zone: str, fragment: str) -> list[int]:
        """Kill the host's processes whose command line contains ``fragment`` (e.g.
        ``gcs_server``: the head's GCS alone, the host and its other processes alive)."""
        killed = []
        for pid in self.pids(zone):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if fragment.encode() in cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        return killed

    def kill(self, zone: str) -> int:
        """Kill every process of the host (its death)."""
        killed = 0
        for _ in range(20):
            pids = self.pids(zone)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        return killed

    # -- dsql-ray on the hosts ------------------------------------------------------------
    def cli(self, *args: str, zone: str | None = None, timeout: float = 240,
            check: bool = True) -> subprocess.CompletedProcess:
        """``dsql-ray ARGS`` on a host (the head by default), with the Ray token."""
        command = ("export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$HOME/dsql-ray-files/"
                   "ray_auth_token; dsql-ray " + " ".join(shlex.quote(a) for a in args))
        return self.run(zone or self.head.zone, command, timeout=timeout, check=check)

    def wait_deployed(self, name: str, timeout: float = 400) -> dict:
        """Wait for the head's background ``dsql-ray up`` to register the cluster."""
        entry = self.head.home / ".dsql-ray" / "clusters" / f"{name}.json"
        log = self.head.home / "dsql-ray-up.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if entry.exists():
                return json.loads(entry.read_text())
            text = log.read_text() if log.exists() else ""
            if "Traceback" in text or "nothing was started" in text or \
                    "failed" in text.lower():
                raise RuntimeError(f"dsql-ray up failed on the head:\n{text}")
            time.sleep(1)
        raise TimeoutError(f"dsql-ray up did not finish in {timeout}s:\n"
                           f"{log.read_text() if log.exists() else ''}")

    def data_dir(self, name: str) -> Path:
        return self.head.home / ".dsql-ray" / name

    def driver_env(self) -> dict[str, str]:
        """Environment for a Ray driver in the root namespace joining over the bridge."""
        return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_AUTH_TOKEN_PATH": str(self.head.home / "dsql-ray-files" /
                                           "ray_auth_token")}

    @property
    def ray_address(self) -> str:
        return f"{self.head.address}:6379"

    # -- teardown -----------------------------------------------------------------------
    def close(self) -> None:
        for zone in self.hosts:
            self.kill(zone)
        keep = os.environ.get(KEEP_LOGS_ENV)
        if keep:          # Ray's logs of every host, for looking into a failure
            for host in self.hosts.values():
                shutil.copytree(host.home / "ray-tmp", Path(keep) / host.zone,
                                symlinks=True, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.sock", "sockets"))
        for kind, name in reversed(self._made):
            if kind == "ns":
                _ip("netns", "del", name, check=False)
            else:
                _ip("link", "del", name, check=False)
        self._made.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Hosts":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()
