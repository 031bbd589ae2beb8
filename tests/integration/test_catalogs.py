"""System catalogs on a real cluster: psql's \\dt and \\d, SQLAlchemy's inspector,
information_schema through psycopg."""
from __future__ import annotations

import subprocess
import uuid

import psycopg
import pytest
import sqlalchemy
from psycopg.types import TypeInfo

from dsql_ray.testing import pgtools
from dsql_ray.testing.protocols import cursor_factory


def psql(cluster, script: str) -> str:
    exe = pgtools.find("psql")
    proc = subprocess.run([exe, cluster.dsn, "-X", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def table(cluster) -> str:
    name = f"cat_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, label varchar(20) NOT NULL "
                     f"DEFAULT 'x', score numeric, created timestamptz DEFAULT now())")
    return name


def test_psql_dt_lists_tables(cluster, table):
    out = psql(cluster, "\\dt")
    assert any(table in line and "table" in line and "admin" in line
               for line in out.splitlines()), out


def test_psql_d_describes_table(cluster, table):
    out = psql(cluster, f"\\d {table}")
    lines = [" ".join(x.strip() for x in line.split("|") if x.strip())
             for line in out.splitlines()]
    assert f'Table "public.{table}"' in out, out
    assert "id integer not null" in lines, out
    assert "label character varying(20) not null 'x'" in lines, out
    assert "score numeric" in lines, out
    assert "created timestamp with time zone now()" in lines, out
    assert f'"{table}_pkey" PRIMARY KEY, btree (id)' in out, out


def test_information_schema_columns(cluster, table, protocol):
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        rows = conn.execute(
            "SELECT table_catalog, table_schema, column_name, ordinal_position, data_type, "
            "is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position", (table,)).fetchall()
        assert rows == [
            ("postgres", "public", "id", 1, "integer", "NO", None),
            ("postgres", "public", "label", 2, "character varying", "NO", "'x'"),
            ("postgres", "public", "score", 3, "numeric", "YES", None),
            ("postgres", "public", "created", 4, "timestamp with time zone", "YES", "now()")]
        pk = conn.execute(
            "SELECT kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu "
            "ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name "
            "WHERE tc.table_name = %s AND tc.constraint_type = 'PRIMARY KEY'",
            (table,)).fetchall()
        assert pk == [("id",)]
        assert (table,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()


def test_psycopg_type_info(cluster, protocol):
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        info = TypeInfo.fetch(conn, "int4")
        assert (info.oid, info.array_oid) == (23, 1007)
        assert TypeInfo.fetch(conn, "hstore") is None


def _engine(cluster, protocol):
    return sqlalchemy, sqlalchemy.create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(cluster.dsn, cursor_factory=cursor_factory(protocol)),
        # the hstore probe runs TypeInfo.fetch inside SAVEPOINT, which DSQL rejects
        use_native_hstore=False)


def test_sqlalchemy_inspector(cluster, table, protocol):
    sqlalchemy, engine = _engine(cluster, protocol)
    try:
        insp = sqlalchemy.inspect(engine)
        assert table in insp.get_table_names()
        cols = insp.get_columns(table)
        assert [(c["name"], str(c["type"]), c["nullable"]) for c in cols] == [
            ("id", "INTEGER", False), ("label", "VARCHAR(20)", False),
            ("score", "NUMERIC", True), ("created", "TIMESTAMP", True)]
        assert cols[1]["default"] == "'x'" and cols[3]["default"] == "now()"
    finally:
        engine.dispose()


def test_sqlalchemy_pk_constraint(cluster, table, protocol):
    sqlalchemy, engine = _engine(cluster, protocol)
    try:
        insp = sqlalchemy.inspect(engine)
        pk = insp.get_pk_constraint(table)
        assert pk["constrained_columns"] == ["id"] and pk["name"] == f"{table}_pkey"
    finally:
        engine.dispose()
