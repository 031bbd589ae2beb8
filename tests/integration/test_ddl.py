"""DDL over the wire on a real cluster: OC001 between two sessions, ALTER TABLE seen by
psql's \\d, a view, a sequence and an identity column."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from dsql_ray.testing.protocols import cursor_factory

from .test_catalogs import psql


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _lines(out: str) -> list[str]:
    return [" ".join(x.strip() for x in line.split("|") if x.strip())
            for line in out.splitlines()]


def test_ddl_under_an_open_writer_fails_it_with_oc001(cluster, protocol):
    t = _name("oc")
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as a, cluster.connect(cursor_factory=cursor_factory(protocol)) as b:
        a.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v int)")
        a.execute("BEGIN")
        a.execute(f"INSERT INTO {t} VALUES (1, 1)")
        b.execute(f"ALTER TABLE {t} ADD COLUMN note text")
        with pytest.raises(psycopg.errors.SerializationFailure) as e:
            a.execute("COMMIT")
        assert e.value.sqlstate == "40001"
        assert "(OC001)" in str(e.value)
        a.execute(f"INSERT INTO {t} VALUES (1, 1)")          # retried: the new definition
        assert a.execute(f"SELECT * FROM {t}").fetchall() == [(1, 1, None)]


def test_alter_table_shows_in_psql_d(cluster, protocol):
    t = _name("alt")
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, a text, b int, "
                     "amount numeric(10,2) CHECK (amount >= 0))")
        conn.execute(f"INSERT INTO {t} VALUES (1, 'x', 2, 3.5)")
        conn.execute(f"ALTER TABLE {t} DROP COLUMN b")
        conn.execute(f"ALTER TABLE {t} ADD COLUMN code varchar(8)")     # a plain column only
        conn.execute(f"ALTER TABLE {t} ALTER COLUMN code SET DEFAULT 'new'")
        conn.execute(f"UPDATE {t} SET code = 'new'")
        conn.execute(f"ALTER TABLE {t} RENAME COLUMN a TO label")
        assert conn.execute(f"SELECT * FROM {t}").fetchall() == [(1, "x", 3.5, "new")]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(f"INSERT INTO {t} VALUES (2, 'y', -1, 'c')")
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            conn.execute(f"INSERT INTO {t} VALUES (2, 'y', 1, 'ninechars')")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute(f"ALTER TABLE {t} ALTER COLUMN label TYPE int")
    out = psql(cluster, f"\\d {t}")
    lines = _lines(out)
    assert f'Table "public.{t}"' in out, out
    assert "id integer not null" in lines, out
    assert "label text" in lines, out
    assert "amount numeric(10,2)" in lines, out
    assert "code character varying(8) 'new'::character varying" in lines \
        or "code character varying(8) 'new'" in lines, out
    assert f'"{t}_amount_check" CHECK (amount >= 0::numeric)' in out \
        or f'"{t}_amount_check" CHECK ((amount >= 0))' in out \
        or f'"{t}_amount_check" CHECK (amount >= 0)' in out, out
    assert " b " not in out


def test_view_over_the_wire_and_in_psql(cluster, protocol):
    t, v = _name("base"), _name("view")
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v int)")
        conn.execute(f"INSERT INTO {t} VALUES (1, 10), (2, 20)")
        conn.execute(f"CREATE VIEW {v} AS SELECT id, v * 2 AS doubled FROM {t} WHERE v > 10")
        assert conn.execute(f"SELECT * FROM {v}").fetchall() == [(2, 40)]
    out = psql(cluster, "\\dv")
    assert any(v in line and "view" in line for line in out.splitlines()), out
    out = psql(cluster, f"\\d {v}")
    assert f'View "public.{v}"' in out, out
    lines = _lines(out)
    assert "id integer" in lines and "doubled integer" in lines, out


def test_sequence_and_identity_over_the_wire(cluster, protocol):
    s, t = _name("seq"), _name("ident")
    with cluster.connect(cursor_factory=cursor_factory(protocol)) as conn:
        with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
            conn.execute(f"CREATE SEQUENCE {s} CACHE 10")
        assert "65536" in str(e.value)
        conn.execute(f"CREATE SEQUENCE {s} CACHE 65536")
        assert conn.execute(f"SELECT nextval('{s}'), nextval('{s}')").fetchone() == (1, 2)
        conn.execute(f"CREATE TABLE {t} (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) "
                     "PRIMARY KEY, v text)")
        conn.execute(f"INSERT INTO {t} (v) VALUES (%s), (%s)", ("a", "b"))
        assert conn.execute(f"SELECT id, v FROM {t} ORDER BY id").fetchall() == [(1, "a"),
                                                                                 (2, "b")]
        cache = conn.execute("SELECT cache_size FROM pg_sequences WHERE sequencename = %s",
                             (s,)).fetchone()
        assert cache == (65536,)
    out = psql(cluster, f"\\d {t}")
    assert "bigint not null generated always as identity" in " ".join(_lines(out)), out
    out = psql(cluster, f"\\d {s}")
    assert f'Sequence "public.{s}"' in out and "65536" in out, out
