"""Foreign keys against the real cluster: races over the wire (psycopg, two connections
committing at once), SQLAlchemy's ORM and inspector, and psql's \\d next to PostgreSQL's."""
from __future__ import annotations

import concurrent.futures
import json
import re
import subprocess
import uuid

import django
import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError as DjangoIntegrityError, connection, transaction
from sqlalchemy import ForeignKey, String, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import NullPool

from dsql_ray.testing import pgtools
from dsql_ray.testing.postgres import postgres_server

from .test_clients import tool_id, tool_target

RACES = 200


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _txn_conn(cluster) -> psycopg.Connection:
    """A connection whose statements run in a transaction until COMMIT."""
    return psycopg.connect(cluster.dsn, connect_timeout=10)


def _commit(conn: psycopg.Connection) -> str:
    try:
        conn.commit()
        return "commit"
    except psycopg.Error as exc:
        conn.rollback()
        return exc.sqlstate or "?"


def _race(setup, first, second, statements) -> dict[str, int]:
    """Each round: setup (autocommit), then each connection runs its statement in a
    transaction and both COMMIT at once. Counts who committed and how the other failed."""
    counts = {"one_committed": 0, "both": 0, "neither": 0}
    fails: dict[str, int] = {}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i in range(RACES):
            for stmt in statements["setup"](i):
                setup.execute(stmt)
            first.execute(statements["first"](i))
            second.execute(statements["second"](i))
            a, b = pool.map(_commit, [first, second] if i % 2 else [second, first])
            outcome = [a, b].count("commit")
            counts[{1: "one_committed", 2: "both", 0: "neither"}[outcome]] += 1
            for r in (a, b):
                if r != "commit":
                    fails[r] = fails.get(r, 0) + 1
    return counts | {f"failed_{k}": v for k, v in fails.items()}


def test_parent_delete_racing_child_insert(cluster):
    p, c = unique("fk_rp"), unique("fk_rc")
    with cluster.connect() as setup, _txn_conn(cluster) as one, _txn_conn(cluster) as two:
        setup.execute(f"CREATE TABLE {p} (id int PRIMARY KEY)")
        setup.execute(f"CREATE TABLE {c} (id int PRIMARY KEY, p_id int REFERENCES {p})")
        counts = _race(setup, one, two, {
            "setup": lambda i: [f"INSERT INTO {p} VALUES ({i})"],
            "first": lambda i: f"DELETE FROM {p} WHERE id = {i}",
            "second": lambda i: f"INSERT INTO {c} VALUES ({i}, {i})"})
        orphans = setup.execute(f"SELECT count(*) FROM {c} WHERE p_id NOT IN "
                                f"(SELECT id FROM {p})").fetchone()[0]
        kids, parents = (setup.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in (c, p))
    print(f"\nparent delete vs child insert: {counts}, orphans {orphans}, "
          f"children {kids}, parents left {parents}")
    assert counts["one_committed"] == RACES and counts["failed_40001"] == RACES, counts
    assert orphans == 0 and kids + (RACES - parents) == RACES


def test_cascade_racing_child_update(cluster):
    p, c = unique("fk_cp"), unique("fk_cc")
    with cluster.connect() as setup, _txn_conn(cluster) as one, _txn_conn(cluster) as two:
        setup.execute(f"CREATE TABLE {p} (id int PRIMARY KEY)")
        setup.execute(f"CREATE TABLE {c} (id int PRIMARY KEY, v int, p_id int REFERENCES "
                      f"{p} ON DELETE CASCADE)")
        counts = _race(setup, one, two, {
            "setup": lambda i: [f"INSERT INTO {p} VALUES ({i})",
                                f"INSERT INTO {c} VALUES ({i}, 0, {i})"],
            "first": lambda i: f"DELETE FROM {p} WHERE id = {i}",
            "second": lambda i: f"UPDATE {c} SET v = v + 1 WHERE id = {i}"})
        orphans = setup.execute(f"SELECT count(*) FROM {c} WHERE p_id NOT IN "
                                f"(SELECT id FROM {p})").fetchone()[0]
        updated = setup.execute(f"SELECT count(*) FROM {c} WHERE v = 1").fetchone()[0]
        parents = setup.execute(f"SELECT count(*) FROM {p}").fetchone()[0]
    print(f"\ncascade delete vs child update: {counts}, orphans {orphans}, "
          f"updated children {updated}, parents left {parents}")
    assert counts["one_committed"] == RACES and counts["failed_40001"] == RACES, counts
    assert orphans == 0 and updated == parents


# ---------------------------------------------------------------------------------------
# SQLAlchemy ORM: ForeignKey + relationship(), create_all, cascade, inspector

@pytest.fixture
def engine(cluster):
    url = URL.create("postgresql+psycopg", username="admin", password=cluster.token(),
                     host="127.0.0.1", port=cluster.port, database="postgres",
                     query={"sslmode": "require"})
    # DSQL runs one DDL per transaction: create_all's statements each on their own
    eng = create_engine(url, use_native_hstore=False, poolclass=NullPool,
                        isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


def test_sqlalchemy_orm_relationships(engine):
    author_t, book_t = unique("sa_author"), unique("sa_book")

    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = author_t
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        name: Mapped[str] = mapped_column(String(40))
        books: Mapped[list["Book"]] = relationship(back_populates="author",
                                                   cascade="all, delete-orphan",
                                                   passive_deletes=True)

    class Book(Base):
        __tablename__ = book_t
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        title: Mapped[str] = mapped_column(String(40))
        author_id: Mapped[int] = mapped_column(ForeignKey(f"{author_t}.id",
                                                          ondelete="CASCADE"))
        author: Mapped[Author] = relationship(back_populates="books")

    Base.metadata.create_all(engine)
    with Session(engine) as s, s.begin():
        s.add(Author(id=1, name="Le Guin", books=[Book(id=1, title="Earthsea"),
                                                   Book(id=2, title="Lathe")]))
        s.add(Author(id=2, name="Lem", books=[Book(id=3, title="Solaris")]))
    with Session(engine) as s:
        author = s.get(Author, 1)
        assert sorted(b.title for b in author.books) == ["Earthsea", "Lathe"]
        assert s.scalars(select(Book.title).join(Book.author)
                         .where(Author.name == "Lem")).all() == ["Solaris"]
    with Session(engine) as s:
        s.add(Book(id=9, title="Nobody's", author_id=99))
        with pytest.raises(IntegrityError) as e:
            s.flush()
        assert e.value.orig.sqlstate == "23503", e.value
    with Session(engine) as s, s.begin():
        s.delete(s.get(Author, 1))                 # the database cascades to the books
    with Session(engine) as s:
        assert s.scalars(select(Book.id).order_by(Book.id)).all() == [3]
    fks = inspect(engine).get_foreign_keys(book_t)
    assert fks == [{"name": f"{book_t}_author_id_fkey", "constrained_columns": ["author_id"],
                    "referred_schema": None, "referred_table": author_t,
                    "referred_columns": ["id"], "options": {"ondelete": "CASCADE"},
                    "comment": None}], fks
    Base.metadata.drop_all(engine)
    assert book_t not in inspect(engine).get_table_names()


# ---------------------------------------------------------------------------------------
# psql \d: "Foreign-key constraints:" and "Referenced by:" as PostgreSQL prints them

def _sections(out: str) -> list[str]:
    """The \\d lines from the foreign-key sections on (names normalized)."""
    keep, lines = False, []
    for line in out.splitlines():
        if line.startswith(("Foreign-key constraints:", "Referenced by:")):
            keep = True
        elif line and not line.startswith(" "):
            keep = False
        if keep and line.strip():
            lines.append(re.sub(r"_[0-9a-f]{8}", "", line))
    return lines


@pytest.mark.parametrize("psql", pgtools.find_all("psql")[-1:], ids=tool_id)
def test_psql_describe_matches_postgresql(request, tmp_path, psql):
    c, env = tool_target(request, psql)
    p, k = unique("dp"), unique("dk")
    ddl = [f"CREATE TABLE {p} (id int PRIMARY KEY, code int)",
           f"CREATE TABLE {k} (id int PRIMARY KEY, p_id int REFERENCES {p} ON DELETE CASCADE, "
           f"q int, CONSTRAINT {k}_q FOREIGN KEY (q) REFERENCES {p} (id) MATCH FULL ON "
           "UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED)"]

    def describe(env_) -> list[str]:
        out = []
        for t in (k, p):
            proc = subprocess.run([str(psql), "-X", "-c", f"\\d {t}"], capture_output=True,
                                  text=True, timeout=60, env=env_)
            assert proc.returncode == 0, proc.stderr
            out += _sections(proc.stdout)
        return out

    with c.connect() as conn:
        for stmt in ddl:
            conn.execute(stmt)
    ours = describe(env)
    with postgres_server() as pg, psycopg.connect(pg.dsn, autocommit=True) as conn:
        for stmt in ddl:
            conn.execute(stmt)
        theirs = describe(env | {"PGPORT": str(pg.port), "PGSSLMODE": "disable",
                                 "PGPASSWORD": ""})
    assert ours == theirs and len(ours) == 6, (ours, theirs)


# ---------------------------------------------------------------------------------------
# Django through AWS's adapter (aurora-dsql-django): migrate, related objects

def test_django_migrate_and_related_objects(cluster, monkeypatch):
    stored = json.loads((cluster.data_dir / "credentials.json").read_text())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stored["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stored["aws_secret_access_key"])
    for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    settings.configure(
        INSTALLED_APPS=["tests.integration.fkapp.apps.FkAppConfig"], USE_TZ=True,
        DATABASES={"default": {
            "ENGINE": "aurora_dsql_django", "HOST": cluster.endpoint, "PORT": cluster.port,
            "USER": "admin", "NAME": "postgres",
            "OPTIONS": {"sslmode": "require", "region": "us-east-1",
                        "hostaddr": "127.0.0.1"}}})
    django.setup()
    Author, Book = apps.get_model("fkapp", "Author"), apps.get_model("fkapp", "Book")
    call_command("migrate", "fkapp", verbosity=0)
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT conname, convalidated, condeferred, "
                        "pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
                        "AND conrelid = 'fkapp_book'::regclass")
            (name, validated, deferred, definition), = cur.fetchall()
        assert validated and deferred and definition.startswith(
            "FOREIGN KEY (author_id) REFERENCES fkapp_author(id)"), definition
        with connection.cursor() as cur:            # the partial index of migration 0002
            cur.execute("SELECT job_id FROM sys.jobs WHERE object_name = "
                        "'public.fkapp_book_s_author'")
            (job,), = cur.fetchall()
            cur.execute("CALL sys.wait_for_job(%s)", (job,))
            assert cur.fetchone() == (True,)
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = "
                        "'fkapp_book_s_author'")
            (definition,), = cur.fetchall()
            assert "(author_id) WHERE" in definition and "S%" in definition, definition
        le_guin = Author.objects.create(name="Le Guin")
        lem = Author.objects.create(name="Lem")
        # bulk_create: Django sends INSERT ... SELECT * FROM UNNEST(%s::uuid[], ...)
        Book.objects.bulk_create([Book(title=title, author=author) for title, author in (
            ("Earthsea", le_guin), ("Lathe", le_guin), ("Solaris", lem))])
        assert list(le_guin.books.order_by("title").values_list("title", flat=True)) == \
            ["Earthsea", "Lathe"]
        assert list(Book.objects.filter(author__name="Lem").values_list("title", flat=True)) \
            == ["Solaris"]
        # the query the partial index is for, through the ORM
        assert list(Book.objects.filter(author=lem, title__startswith="S").values_list(
            "title", flat=True)) == ["Solaris"]
        with pytest.raises(DjangoIntegrityError) as e:  # deferred: fails at COMMIT
            with transaction.atomic():
                Book.objects.create(title="Nobody's", author_id=uuid.uuid4())
        assert e.value.__cause__.sqlstate == "23503", e.value
        le_guin.delete()                                # Django cascades to the books
        assert list(Book.objects.values_list("title", flat=True)) == ["Solaris"]
    finally:
        call_command("migrate", "fkapp", "zero", verbosity=0)


def test_copy_from_checks_the_parents(cluster):
    p, c = unique("fk_copy_p"), unique("fk_copy_c")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {p} (id int PRIMARY KEY)")
        conn.execute(f"CREATE TABLE {c} (id int PRIMARY KEY, p_id int REFERENCES {p})")
        conn.execute(f"INSERT INTO {p} VALUES (1), (2)")
        with conn.cursor().copy(f"COPY {c} FROM STDIN") as copy:
            for row in ((1, 1), (2, 2), (3, None)):
                copy.write_row(row)
        with pytest.raises(psycopg.errors.ForeignKeyViolation) as e:
            with conn.cursor().copy(f"COPY {c} FROM STDIN") as copy:
                copy.write_row((4, 1))
                copy.write_row((5, 7))
        assert e.value.diag.message_detail == f'Key (p_id)=(7) is not present in table "{p}".'
        assert conn.execute(f"SELECT count(*) FROM {c}").fetchone() == (3,)
