"""DSQL's refusals over the wire on a real cluster, through psycopg's simple protocol and
its extended one (``prepare=True``: Parse/Bind/Describe/Execute/Sync): each is 0A000 with
a message naming what is refused, in and out of a transaction, and the session stays
usable. A multi-statement query from ``psql -c`` is one implicit transaction."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from .test_copy import psql


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def table(cluster) -> str:
    name = _name("ref")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
        conn.execute(f"INSERT INTO {name} VALUES (1, 1)")
    return name


REFUSED = [
    ("CREATE TABLE {new} (id int, m money)", "datatype money not supported"),
    ("ALTER TABLE {t} ADD COLUMN r int4range", "datatype int4range not supported"),
    ("ALTER TABLE {t} ADD COLUMN d int DEFAULT 0",
     "ALTER TABLE ADD COLUMN with DEFAULT is not supported"),
    ("SELECT v FROM {t} WHERE id = 1 FOR SHARE", "SELECT ... FOR SHARE is not supported"),
    ("SELECT v FROM {t} FOR NO KEY UPDATE", "SELECT ... FOR NO KEY UPDATE is not supported"),
    ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET TRANSACTION is not supported"),
    ("SET default_transaction_isolation = 'serializable'",
     "SET default_transaction_isolation is not supported"),
]


@pytest.mark.parametrize("prepare", [False, True], ids=["simple", "extended"])
@pytest.mark.parametrize("stmt, message", REFUSED, ids=[r[0][:36] for r in REFUSED])
def test_refused_over_the_wire(cluster, table, stmt, message, prepare):
    sql = stmt.format(t=table, new=_name("new"))
    with cluster.connect() as conn:
        for block in (False, True):
            if block:
                conn.execute("BEGIN")
            with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
                conn.execute(sql, prepare=prepare)
            assert e.value.sqlstate == "0A000"
            assert e.value.diag.message_primary == message
            if block:
                conn.execute("ROLLBACK")
        assert conn.execute(f"SELECT * FROM {table}", prepare=prepare).fetchall() == [(1, 1)]
        assert conn.execute("SHOW transaction_isolation", prepare=prepare).fetchone() == (
            "repeatable read",)


@pytest.mark.parametrize("prepare", [False, True], ids=["simple", "extended"])
def test_allowed_over_the_wire(cluster, table, prepare):
    with cluster.connect() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ", prepare=prepare)
        assert conn.execute(f"SELECT v FROM {table} WHERE id = 1 FOR KEY SHARE",
                            prepare=prepare).fetchall() == [(1,)]
        assert conn.execute(f"SELECT v FROM {table} WHERE id = 1 FOR UPDATE",
                            prepare=prepare).fetchall() == [(1,)]
        conn.execute("COMMIT")
        col = _name("c")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} text", prepare=prepare)
        assert conn.execute(f"SELECT {col} FROM {table}").fetchall() == [(None,)]
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {col}")


def test_psql_c_with_two_ddl_statements_is_one_transaction(cluster):
    a, b = _name("a"), _name("b")
    proc = psql(cluster, "-c", f"CREATE TABLE {a} (id int PRIMARY KEY); "
                               f"CREATE TABLE {b} (id int PRIMARY KEY)")
    assert proc.returncode != 0
    assert "multiple ddl statements are not supported in a transaction" in proc.stderr
    with cluster.connect() as conn:
        for name in (a, b):                             # nothing of it was kept
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(f"SELECT * FROM {name}")
    proc = psql(cluster, "-c", f"CREATE TABLE {a} (id int PRIMARY KEY); SELECT 1")
    assert proc.returncode == 0, proc.stderr
    proc = psql(cluster, "-c", f"INSERT INTO {a} VALUES (1); INSERT INTO {a} VALUES (1)")
    assert proc.returncode != 0 and "duplicate key value" in proc.stderr, proc.stderr
    with cluster.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM {a}").fetchone() == (0,)
