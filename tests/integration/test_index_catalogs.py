"""Partial and expression indexes on a real cluster, as clients see them: psql's ``\\d``
compared line for line with a real PostgreSQL's, and SQLAlchemy models whose
``Index(func.lower(...), unique=True)`` and ``Index(..., postgresql_where=...)``
``create_all`` makes and the inspector reads back."""
from __future__ import annotations

import subprocess
import uuid

import psycopg
import pytest
import sqlalchemy
from sqlalchemy import Boolean, Index, Integer, String, func, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.schema import CreateIndex

from dsql_ray.testing import pgtools
from dsql_ray.testing.postgres import PostgresServer

JOB_WAIT = "CALL sys.wait_for_job(%s)"


def psql(dsn: str, script: str) -> str:
    proc = subprocess.run([pgtools.find("psql"), dsn, "-X", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


INDEXES = ("CREATE UNIQUE INDEX {t}_email ON {t} ((lower(email)))",
           "CREATE INDEX {t}_hot ON {t} (x) INCLUDE (y) WHERE x > 10 AND y IS NOT NULL",
           "CREATE INDEX {t}_mix ON {t} (x, (x + y), lower(email))")


@pytest.fixture(scope="module")
def reference():
    with PostgresServer() as pg:
        yield pg


def test_psql_describes_partial_and_expression_indexes_as_postgresql(cluster, reference):
    t = f"ix_{uuid.uuid4().hex[:8]}"
    create = f"CREATE TABLE {t} (id int PRIMARY KEY, email text, x int, y int)"
    with cluster.connect() as conn:
        conn.execute(create)
        for ddl in INDEXES:
            job = conn.execute(ddl.format(t=t).replace(" INDEX ", " INDEX ASYNC ", 1)
                               ).fetchone()[0]
            assert conn.execute(JOB_WAIT, (job,)).fetchone() == (True,)
    with reference.connect() as conn:
        conn.execute(create)
        for ddl in INDEXES:
            conn.execute(ddl.format(t=t))
        conn.commit()
    ours, theirs = psql(cluster.dsn, f"\\d {t}"), psql(reference.dsn, f"\\d {t}")
    assert ours == theirs
    for index in ("email", "hot", "mix"):              # \d of each index: its columns
        command = f"\\d {t}_{index}"
        assert psql(cluster.dsn, command) == psql(reference.dsn, command), command
    assert f'"{t}_hot" btree (x) INCLUDE (y) WHERE x > 10 AND y IS NOT NULL' in ours
    assert f'"{t}_email" UNIQUE, btree (lower(email))' in ours


@compiles(CreateIndex, "postgresql")
def _create_index_async(create, compiler, **kw):
    """DSQL builds indexes asynchronously: ``CREATE INDEX ASYNC`` (as AWS's
    aurora-dsql-sqlalchemy dialect emits it)."""
    sql = compiler.visit_create_index(create, **kw)
    return sql.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX ASYNC ", 1) \
        .replace("CREATE INDEX ", "CREATE INDEX ASYNC ", 1)


def test_sqlalchemy_functional_and_partial_indexes(cluster):
    name = f"ix_user_{uuid.uuid4().hex[:8]}"

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = name
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
        email: Mapped[str] = mapped_column(String(80))
        active: Mapped[bool] = mapped_column(Boolean)
        __table_args__ = (
            Index(f"{name}_email", func.lower(email), unique=True),
            Index(f"{name}_active", "email", postgresql_where=active.is_(True)))

    engine = sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(cluster.dsn),
        use_native_hstore=False)
    # DSQL takes one DDL statement per transaction: each of create_all's in its own
    ddl = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        Base.metadata.create_all(ddl)
        with engine.connect() as conn:
            jobs = conn.exec_driver_sql(
                "SELECT job_id FROM sys.jobs WHERE object_name LIKE %s",
                (f"public.{name}%",)).all()
            assert len(jobs) == 2
            for (job,) in jobs:
                assert conn.exec_driver_sql(JOB_WAIT, (job,)).scalar() is True
        with Session(engine) as s:
            s.add_all([User(id=1, email="Ann@X.org", active=True),
                       User(id=2, email="bob@y.org", active=False)])
            s.commit()
            s.add(User(id=3, email="ANN@x.ORG", active=False))
            with pytest.raises(IntegrityError) as e:
                s.commit()
            assert f'unique constraint "{name}_email"' in str(e.value)
            assert "Key (lower(email::text))=(ann@x.org) already exists." in str(e.value) \
                or "Key (lower(email))=(ann@x.org) already exists." in str(e.value)
            s.rollback()
            got = s.scalars(sqlalchemy.select(User.id)
                            .where(func.lower(User.email) == "ann@x.org")).all()
            assert got == [1]
        indexes = {i["name"]: i for i in inspect(engine).get_indexes(name)}
        email = indexes[f"{name}_email"]
        assert email["unique"] is True and email["column_names"] == [None]
        assert email["expressions"] == ["lower((email)::text)"] or \
            email["expressions"] == ["lower(email)"]
        active = indexes[f"{name}_active"]
        assert active["column_names"] == ["email"] and active["unique"] is False
        assert active["dialect_options"]["postgresql_where"] in ("active IS TRUE",
                                                                 "(active IS TRUE)")
    finally:
        Base.metadata.drop_all(ddl)
        engine.dispose()


DEFINITIONS = ("CREATE DOMAIN {s}.posint AS int CHECK (VALUE > 0)",
               "CREATE DOMAIN {s}.qty AS int NOT NULL DEFAULT 1 CHECK (VALUE >= 0)",
               "CREATE FUNCTION {s}.add1(a int) RETURNS int LANGUAGE sql IMMUTABLE "
               "AS $$ SELECT a + 1 $$",
               "CREATE FUNCTION {s}.scaled(a int, k int DEFAULT 2) RETURNS bigint "
               "LANGUAGE sql AS $$ SELECT a * k $$",
               "CREATE FUNCTION {s}.twice(int) RETURNS bigint RETURN $1 * 2",
               "CREATE TABLE {s}.stock (id int PRIMARY KEY, n {s}.posint, q {s}.qty, "
               "r {s}.qty DEFAULT 5)")


def test_psql_lists_domains_and_sql_functions_as_postgresql(cluster, reference):
    s = f"ud_{uuid.uuid4().hex[:8]}"
    for conn in (cluster.connect(), psycopg.connect(reference.dsn, autocommit=True)):
        with conn:
            conn.execute(f"CREATE SCHEMA {s}")
            for ddl in DEFINITIONS:
                conn.execute(ddl.format(s=s))
    for command in (f"\\dD {s}.*", f"\\df {s}.*", f"\\d {s}.stock"):
        ours, theirs = psql(cluster.dsn, command), psql(reference.dsn, command)
        assert ours == theirs, command
    with cluster.connect() as conn:
        assert conn.execute(f"SELECT {s}.scaled({s}.add1(2)), {s}.twice(4), "
                            f"'5'::{s}.posint").fetchone() == (6, 8, 5)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(f"SELECT (-1)::{s}.posint")
        conn.execute(f"INSERT INTO {s}.stock (id) VALUES (1)")      # the domains' DEFAULTs
        assert conn.execute(f"SELECT * FROM {s}.stock").fetchall() == [(1, None, 1, 5)]
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(f"INSERT INTO {s}.stock VALUES (2, 1, NULL)")
