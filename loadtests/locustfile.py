"""Locust users for a dsql-ray cluster's PostgreSQL endpoint, as DSQL clients behave.

Each user connects with psycopg over TLS (sslmode=require) with a fresh SDK-minted auth
token (boto3's generate_db_connect_admin_auth_token) as its password, then runs a
weighted mix on one table:
  point read (10)   SELECT one row by primary key
  range read (3)    SELECT up to 20 rows of a primary-key range
  insert (2)        INSERT one new row
  rmw (3)           BEGIN; SELECT a row; UPDATE it; COMMIT — retried on 40001 with
                    exponential backoff and jitter (at most 5 attempts), as DSQL clients
                    must
Every statement or transaction is reported to Locust's statistics under request type
"SQL"; a failure goes to the same name with exception=, so a 40001 retry shows up as a
failure of "rmw" (its error text names SQLSTATE 40001) and is counted.

Headless, against a local cluster started with `dsql-ray up` (the data directory has the
cluster's id and the key pair it trusts):

    locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 60s \\
        --host postgresql://127.0.0.1:5432 --dsql-data-dir ~/.dsql-ray/local

With the web UI, drop --headless/-u/-r/-t and open http://127.0.0.1:8089. With AWS
credentials in the environment (AWS_ACCESS_KEY_ID, …) pass --dsql-endpoint
<id>.dsql.<region>.on.aws instead of --dsql-data-dir.
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from urllib.parse import urlparse

import boto3
import psycopg
from locust import User, between, events, task

TABLE = "locust_items"
SEED_ROWS = 1000
RMW_ATTEMPTS = 5


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--dsql-data-dir", default="", help="the cluster's data directory "
                        "(its id and trusted key pair); or use --dsql-endpoint")
    parser.add_argument("--dsql-endpoint", default="", help="the <id>.dsql.<region>.on.aws "
                        "host name tokens are minted for")
    parser.add_argument("--dsql-region", default="us-east-1")
    parser.add_argument("--dsql-user", default="admin")


class TokenSource:
    """Mints a fresh token for every connection, with the credentials the cluster trusts."""

    def __init__(self, options):
        self.region = options.dsql_region
        self.user = options.dsql_user
        creds = {}
        data_dir = Path(os.path.expanduser(options.dsql_data_dir)) \
            if options.dsql_data_dir else None
        self.endpoint = options.dsql_endpoint or (
            f"{(data_dir / 'cluster-id').read_text().strip()}.dsql.{self.region}.on.aws"
            if data_dir else "")
        if not self.endpoint:
            raise SystemExit("locustfile: pass --dsql-data-dir or --dsql-endpoint")
        if not os.environ.get("AWS_ACCESS_KEY_ID") and data_dir:
            stored = json.loads((data_dir / "credentials.json").read_text())
            creds = dict(aws_access_key_id=stored["aws_access_key_id"],
                         aws_secret_access_key=stored["aws_secret_access_key"])
        self.client = boto3.Session(**creds).client("dsql", region_name=self.region)

    def token(self) -> str:
        if self.user == "admin":
            return self.client.generate_db_connect_admin_auth_token(self.endpoint,
                                                                    self.region, 900)
        return self.client.generate_db_connect_auth_token(self.endpoint, self.region, 900)


def connect(environment) -> psycopg.Connection:
    url = urlparse(environment.host or "postgresql://127.0.0.1:5432")
    source = environment.dsql_tokens
    return psycopg.connect(host=url.hostname, port=url.port or 5432, dbname="postgres",
                           user=source.user, password=source.token(), sslmode="require",
                           autocommit=True, connect_timeout=10)


@events.test_start.add_listener
def _prepare(environment, **_):
    """Create and fill the table once (idempotent: several runs may share a cluster)."""
    environment.dsql_tokens = TokenSource(environment.parsed_options)
    with connect(environment) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, "
                     "owner int NOT NULL, qty int NOT NULL, note text)")
        have = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE id <= %s",
                            (SEED_ROWS,)).fetchone()[0]
        if have < SEED_ROWS:
            values = ", ".join(f"({i}, {i % 50}, 0, 'seed')" for i in range(1, SEED_ROWS + 1))
            conn.execute(f"INSERT INTO {TABLE} VALUES {values} ON CONFLICT (id) DO NOTHING")


class DsqlUser(User):
    wait_time = between(0.0, 0.02)

    def on_start(self):
        self.conn = connect(self.environment)

    def on_stop(self):
        self.conn.close()

    def _timed(self, name: str, fn):
        """Run fn() and report it; returns (result, the exception or None)."""
        t = time.perf_counter()
        exc, result = None, None
        try:
            result = fn()
        except psycopg.Error as e:
            exc = e
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.execute("ROLLBACK")
        self.environment.events.request.fire(
            request_type="SQL", name=name, response_time=(time.perf_counter() - t) * 1e3,
            response_length=len(result) if isinstance(result, list) else 0,
            exception=exc, context={})
        return result, exc

    @task(10)
    def point_read(self):
        key = random.randint(1, SEED_ROWS)
        self._timed("point read", lambda: self.conn.execute(
            f"SELECT id, owner, qty FROM {TABLE} WHERE id = %s", (key,)).fetchall())

    @task(3)
    def range_read(self):
        low = random.randint(1, SEED_ROWS - 20)
        self._timed("range read", lambda: self.conn.execute(
            f"SELECT id, qty FROM {TABLE} WHERE id BETWEEN %s AND %s", (low, low + 19)
        ).fetchall())

    @task(2)
    def insert(self):
        key = random.randint(SEED_ROWS + 1, 2**62)
        self._timed("insert", lambda: self.conn.execute(
            f"INSERT INTO {TABLE} VALUES (%s, %s, 1, 'locust')", (key, key % 50)))

    @task(3)
    def read_modify_write(self):
        key = random.randint(1, 20)       # a small hot set: conflicts do happen

        def transaction():
            with self.conn.transaction():
                qty = self.conn.execute(f"SELECT qty FROM {TABLE} WHERE id = %s",
                                        (key,)).fetchone()[0]
                self.conn.execute(f"UPDATE {TABLE} SET qty = %s WHERE id = %s",
                                  (qty + 1, key))
            return []

        for attempt in range(RMW_ATTEMPTS):
            _, exc = self._timed("rmw", transaction)
            if exc is None or getattr(exc, "sqlstate", None) != "40001":
                return
            time.sleep(min(0.2, 0.005 * 2 ** attempt) * random.uniform(0.5, 1.0))
