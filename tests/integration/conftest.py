"""One real local cluster per test session, started and stopped with the real CLI."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, data_dir: Path, port: int, name: str, up_args: tuple[str, ...] = ()):
        self.data_dir, self.port, self.name = data_dir, port, name
        self.up_args = up_args

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        base = [sys.executable, "-m", "dsql_ray.cli"]
        extra = ["--name", self.name, "--data-dir", str(self.data_dir)]
        if args[0] == "up":
            extra += ["--port", str(self.port), *self.up_args]
        proc = subprocess.run(base + list(args) + extra, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, f"dsql-ray {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def up(self) -> str:
        return self.cli("up").stdout

    def down(self) -> str:
        return self.cli("down").stdout

    @property
    def state(self) -> dict:
        return json.loads((self.data_dir / "state.json").read_text())

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=admin sslmode=disable"

    def connect(self, **kw) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, **kw)

    def ray_session(self):
        """Connect this process to the cluster's Ray as a driver (a context manager)."""
        import contextlib

        import ray

        @contextlib.contextmanager
        def session():
            state = self.state
            ray.init(address=state["ray_address"], namespace=state["namespace"],
                     log_to_driver=False, logging_level="ERROR")
            try:
                yield ray
            finally:
                ray.shutdown()
        return session()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> LocalCluster:
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), free_port(), f"pytest{os.getpid()}")
    c.up()
    yield c
    c.down()
