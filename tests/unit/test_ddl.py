"""DDL and the versioned catalog on the in-process cluster: OC001, schemas, ALTER TABLE,
CHECK constraints, views, sequences and identity columns, type modifiers."""
import asyncio
from decimal import Decimal

import pytest

from dsql_ray.compute.session import Session
from dsql_ray.errors import DsqlError

from .conftest import sql


@pytest.fixture
def run(run_wire):
    """Every scenario here runs in-process and again over the wire, through the simple and
    the extended protocol (conftest.run_wire)."""
    return run_wire

OC001 = "schema has been updated by another transaction, please retry: (OC001)"


async def rows(s, text):
    return (await sql(s, text))[-1].rows


async def another_compute_session(c) -> Session:
    """A session on a second compute of the cluster, its clock synchronized."""
    other = c.compute()
    await other.sync_clock()
    return Session(other)


async def fails(s, text, sqlstate, message=None):
    with pytest.raises(DsqlError) as e:
        await sql(s, text)
    assert e.value.sqlstate == sqlstate, (e.value.sqlstate, e.value.message)
    if message is not None:
        assert message in e.value.message, e.value.message
    return e.value


# -- catalog versioning: OC001 ------------------------------------------------------------
@pytest.mark.parametrize("ddl", ["ALTER TABLE t ADD COLUMN c int", "ALTER TABLE t DROP COLUMN v",
                                 "ALTER TABLE t RENAME TO t2", "DROP TABLE t",
                                 "ALTER TABLE t RENAME COLUMN v TO w"])
def test_writer_that_used_a_table_changed_by_ddl_fails_with_oc001(run, ddl):
    async def scenario(c):
        s1, s2 = c.session(), c.session()
        await sql(s1, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s1, "BEGIN")
        await sql(s1, "INSERT INTO t VALUES (1, 1)")
        await sql(s2, ddl)
        await fails(s1, "COMMIT", "40001", OC001)
        await sql(s1, "SELECT 1")                       # the session stays usable
    run(scenario)


def test_reading_a_changed_table_fails_a_writer_but_not_a_reader(run):
    async def scenario(c):
        s1, s2 = c.session(), c.session()
        await sql(s1, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s1, "CREATE TABLE u (id int PRIMARY KEY)")
        await sql(s1, "BEGIN")                          # read-only: consistent at its snapshot
        assert await rows(s1, "SELECT * FROM t") == []
        await sql(s2, "ALTER TABLE t ADD COLUMN c int")
        assert (await sql(s1, "COMMIT"))[0].tag == "COMMIT"
        await sql(s1, "BEGIN")                          # read t, write u
        await rows(s1, "SELECT * FROM t")
        await sql(s1, "INSERT INTO u VALUES (1)")
        await sql(s2, "ALTER TABLE t ADD COLUMN d int")
        await fails(s1, "COMMIT", "40001", OC001)
        assert await rows(s1, "SELECT * FROM u") == []
        await sql(s1, "BEGIN")                          # a DDL on another table: no conflict
        await sql(s1, "INSERT INTO u VALUES (2)")
        await sql(s2, "ALTER TABLE t ADD COLUMN e int")
        assert (await sql(s1, "COMMIT"))[0].tag == "COMMIT"
    run(scenario)


def test_concurrent_ddl_on_one_table_fails_the_second_with_oc001(run):
    async def scenario(c):
        s1, s2 = c.session(), c.session()
        await sql(s1, "CREATE TABLE t (id int PRIMARY KEY)")
        await sql(s1, "BEGIN")
        await sql(s1, "ALTER TABLE t ADD COLUMN a int")
        await sql(s2, "ALTER TABLE t ADD COLUMN b int")
        await fails(s1, "COMMIT", "40001", OC001)
        cols = await rows(s1, "SELECT column_name FROM information_schema.columns "
                              "WHERE table_name = 't' ORDER BY ordinal_position")
        assert cols == [("id",), ("b",)]
    run(scenario)


def test_another_compute_sees_ddl_at_its_next_snapshot(run):
    async def scenario(c):
        s1 = c.session()
        s2 = await another_compute_session(c)
        await sql(s1, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s1, "INSERT INTO t VALUES (1, 1)")
        assert await rows(s2, "SELECT * FROM t") == [(1, 1)]      # cached on s2's compute
        await sql(s1, "ALTER TABLE t ADD COLUMN c int")
        assert await rows(s2, "SELECT * FROM t") == [(1, 1, None)]
        await sql(s2, "INSERT INTO t VALUES (2, 2, 2)")
        await sql(s1, "ALTER TABLE t DROP COLUMN v")
        assert await rows(s2, "SELECT * FROM t ORDER BY id") == [(1, None), (2, 2)]
    run(scenario)


# -- schemas ---------------------------------------------------------------------------------
def test_schemas(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE SCHEMA app")
        await fails(s, "CREATE SCHEMA app", "42P06", 'schema "app" already exists')
        await sql(s, "CREATE SCHEMA IF NOT EXISTS app")
        assert s.notices[-1] == 'schema "app" already exists, skipping'
        await fails(s, "CREATE TABLE nope.t (id int)", "3F000", 'schema "nope" does not exist')
        await sql(s, "CREATE TABLE app.t (id int PRIMARY KEY, v text)")
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")           # public.t, another one
        await sql(s, "INSERT INTO app.t VALUES (1, 'a')")
        assert await rows(s, "SELECT * FROM app.t") == [(1, "a")]
        assert await rows(s, "SELECT * FROM t") == []
        await sql(s, "SET search_path = app, public")
        assert await rows(s, "SELECT * FROM t") == [(1, "a")]
        await sql(s, "SET search_path = public")
        assert ("app",) in await rows(s, "SELECT schema_name FROM information_schema.schemata")
        assert ("app",) in await rows(s, "SELECT nspname FROM pg_namespace")
        assert await rows(s, "SELECT table_schema FROM information_schema.tables "
                             "WHERE table_name = 't' ORDER BY 1") == [("app",), ("public",)]
        await fails(s, "DROP SCHEMA app", "2BP01", "other objects depend on it")
        await sql(s, "DROP SCHEMA app CASCADE")
        await fails(s, "SELECT * FROM app.t", "42P01")
        await fails(s, "DROP SCHEMA app", "3F000")
        await sql(s, "DROP SCHEMA IF EXISTS app")
        await fails(s, "CREATE SCHEMA pg_x", "42939")
    run(scenario)


# -- ALTER TABLE ------------------------------------------------------------------------------
def test_add_column_takes_a_plain_column(run):
    """DSQL adds a plain column only (existing rows read NULL); a DEFAULT comes after it
    with ALTER COLUMN ... SET DEFAULT, for new rows. DEFAULT, NOT NULL, UNIQUE, PRIMARY KEY
    and REFERENCES in ADD COLUMN are refused (tests/unit/test_refusals.py)."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        await sql(s, "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        await sql(s, "ALTER TABLE t ADD COLUMN n int")
        await sql(s, "ALTER TABLE t ADD COLUMN m int NULL")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "a", None, None),
                                                                (2, "b", None, None)]
        await sql(s, "ALTER TABLE t ALTER COLUMN n SET DEFAULT 5")
        await sql(s, "INSERT INTO t (id, v) VALUES (3, 'c')")
        assert await rows(s, "SELECT id, n, m FROM t ORDER BY id") == [
            (1, None, None), (2, None, None), (3, 5, None)]
        await fails(s, "ALTER TABLE t ADD COLUMN x int NOT NULL", "0A000",
                    "ALTER TABLE ADD COLUMN with NOT NULL is not supported")
        await fails(s, "ALTER TABLE t ADD COLUMN v int", "42701")
        await sql(s, "ALTER TABLE t ADD COLUMN IF NOT EXISTS v int")
        await sql(s, "CREATE SEQUENCE q CACHE 1")
        await fails(s, "ALTER TABLE t ADD COLUMN r bigint DEFAULT nextval('q')", "0A000")
        await fails(s, "ALTER TABLE t ALTER COLUMN v TYPE int", "0A000",
                    "ALTER COLUMN TYPE is not supported")
    run(scenario)


def test_drop_column_keeps_rows_correct(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, a text, b int, c text)")
        await sql(s, "INSERT INTO t VALUES (1, 'x', 10, 'p'), (2, 'y', 20, 'q')")
        await sql(s, "ALTER TABLE t DROP COLUMN b")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "x", "p"), (2, "y", "q")]
        await sql(s, "ALTER TABLE t ADD COLUMN b int")            # a new column, new slot
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "x", "p", None),
                                                                (2, "y", "q", None)]
        await sql(s, "UPDATE t SET b = 0")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "x", "p", 0),
                                                                (2, "y", "q", 0)]
        await sql(s, "INSERT INTO t VALUES (3, 'z', 'r', 30)")
        await sql(s, "UPDATE t SET c = 'pp' WHERE id = 1")
        await sql(s, "DELETE FROM t WHERE id = 2")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "x", "pp", 0),
                                                                (3, "z", "r", 30)]
        assert await rows(s, "SELECT c, b FROM t WHERE b > 5") == [("r", 30)]
        assert await rows(s, "SELECT count(*), sum(b) FROM t") == [(2, 30)]
        await fails(s, "ALTER TABLE t DROP COLUMN id", "0A000")
        await fails(s, "ALTER TABLE t DROP COLUMN nope", "42703")
        await sql(s, "ALTER TABLE t DROP COLUMN IF EXISTS nope")
    run(scenario)


def test_rename_table_and_column(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int CHECK (v > 0))")
        await sql(s, "CREATE TABLE other (id int PRIMARY KEY)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")
        await sql(s, "ALTER TABLE t RENAME COLUMN v TO w")
        assert await rows(s, "SELECT w FROM t") == [(1,)]
        await fails(s, "SELECT v FROM t", "42703")
        await fails(s, "INSERT INTO t VALUES (2, -1)", "23514")     # the check follows
        await fails(s, "ALTER TABLE t RENAME COLUMN w TO id", "42701")
        await fails(s, "ALTER TABLE t RENAME TO other", "42P07")
        await sql(s, "ALTER TABLE t RENAME TO t2")
        assert await rows(s, "SELECT * FROM t2") == [(1, 1)]
        await fails(s, "SELECT * FROM t", "42P01")
    run(scenario)


def test_check_constraint_not_valid_and_validate(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t VALUES (1, -5)")
        await fails(s, "ALTER TABLE t ADD CONSTRAINT pos CHECK (v > 0)", "0A000", "NOT VALID")
        await sql(s, "ALTER TABLE t ADD CONSTRAINT pos CHECK (v > 0) NOT VALID")
        assert await rows(s, "SELECT * FROM t") == [(1, -5)]       # old rows are not checked
        e = await fails(s, "INSERT INTO t VALUES (2, -1)", "23514")
        assert e.message == 'new row for relation "t" violates check constraint "pos"'
        assert await rows(s, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                             "WHERE conname = 'pos'") == [("CHECK ((v > 0)) NOT VALID",)]
        # validation is a job: it fails while a row breaks the constraint
        job = (await rows(s, "ALTER TABLE ASYNC t VALIDATE CONSTRAINT pos"))[0][0]
        assert await rows(s, f"CALL sys.wait_for_job('{job}')") == [(False,)]
        assert await rows(s, "SELECT status, job_type, details, object_name FROM sys.jobs "
                             f"WHERE job_id = '{job}'") == [
            ("failed", "VALIDATE_CONSTRAINT", 'check constraint "pos" of relation "t" is violated by '
             "some row", "public.t")]
        # the job names the table it checks (by its pg_class OID)
        assert await rows(s, "SELECT j.class_id = 'pg_class'::regclass, c.relname FROM "
                             "sys.jobs j JOIN pg_class c ON c.oid = j.object_id "
                             f"WHERE job_id = '{job}'") == [(True, "t")]
        await sql(s, "UPDATE t SET v = 5 WHERE id = 1")
        job = (await rows(s, "ALTER TABLE ASYNC t VALIDATE CONSTRAINT pos"))[0][0]
        assert await rows(s, f"CALL sys.wait_for_job('{job}')") == [(True,)]
        assert await rows(s, "SELECT convalidated, pg_get_constraintdef(oid) FROM "
                             "pg_constraint WHERE conname = 'pos'") == [
            (True, "CHECK ((v > 0))")]
        await fails(s, "ALTER TABLE ASYNC t VALIDATE CONSTRAINT nope", "42704")
        await sql(s, "ALTER TABLE t DROP CONSTRAINT pos")
        await sql(s, "INSERT INTO t VALUES (2, -1)")
        await fails(s, "ALTER TABLE t DROP CONSTRAINT pos", "42704")
    run(scenario)


# -- CHECK constraints ---------------------------------------------------------------------------
def test_check_constraints_in_create_table(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, x int CHECK (x > 0), "
                     "y int CONSTRAINT y_small CHECK (y < 10), CHECK (x < y), "
                     "z int CHECK (z <> 0))")
        await sql(s, "INSERT INTO t VALUES (1, 1, 2, 1)")
        await sql(s, "INSERT INTO t VALUES (2, 1, 2, NULL)")          # NULL passes a CHECK
        e = await fails(s, "INSERT INTO t VALUES (3, 0, 2, 1)", "23514")
        assert e.message == 'new row for relation "t" violates check constraint "t_x_check"'
        assert e.detail == "Failing row contains (3, 0, 2, 1)."
        await fails(s, "INSERT INTO t VALUES (3, 1, 11, 1)", "23514", '"y_small"')
        await fails(s, "INSERT INTO t VALUES (3, 5, 4, 1)", "23514", '"t_x_check1"')
        await fails(s, "UPDATE t SET x = -1 WHERE id = 1", "23514", '"t_x_check"')
        await fails(s, "UPDATE t SET z = 0", "23514", '"t_z_check"')
        assert await rows(s, "SELECT x, y FROM t ORDER BY id") == [(1, 2), (1, 2)]
        names = await rows(s, "SELECT constraint_name FROM information_schema.check_constraints "
                              "ORDER BY 1")
        assert names == [("t_x_check",), ("t_x_check1",), ("t_z_check",), ("y_small",)]
        await fails(s, "CREATE TABLE bad (x int CHECK (x + 1))", "42804")
    run(scenario)


# -- views ---------------------------------------------------------------------------------------
def test_views(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)")
        await sql(s, "CREATE VIEW big (k, val) AS SELECT id, v FROM t WHERE v > 15")
        assert await rows(s, "SELECT * FROM big ORDER BY k") == [(2, 20), (3, 30)]
        assert await rows(s, "SELECT sum(val) FROM big") == [(50,)]
        assert await rows(s, "SELECT t.id FROM t JOIN big ON big.k = t.id WHERE val < 25") \
            == [(2,)]
        await sql(s, "INSERT INTO t VALUES (4, 40)")                   # expanded when queried
        assert await rows(s, "SELECT count(*) FROM big") == [(3,)]
        await fails(s, "CREATE VIEW big AS SELECT 1", "42P07")
        await sql(s, "CREATE OR REPLACE VIEW big (k, val) AS SELECT id, v FROM t WHERE v > 25")
        assert await rows(s, "SELECT k FROM big ORDER BY k") == [(3,), (4,)]
        await fails(s, "CREATE OR REPLACE VIEW big AS SELECT 1 AS k", "42P16")
        await fails(s, "INSERT INTO big VALUES (5, 50)", "0A000")
        assert await rows(s, "SELECT relkind FROM pg_class WHERE relname = 'big'") == [("v",)]
        assert await rows(s, "SELECT table_name, view_definition FROM information_schema.views"
                          ) == [("big", "SELECT id, v FROM t WHERE v > 25")]
        await fails(s, "DROP TABLE big", "42809")
        await fails(s, "DROP VIEW t", "42809")
        await sql(s, "DROP VIEW big")
        await fails(s, "SELECT * FROM big", "42P01")
        await sql(s, "DROP VIEW IF EXISTS big")
        assert s.notices[-1] == 'view "big" does not exist, skipping'
    run(scenario)


# -- sequences and identity ------------------------------------------------------------------------
def test_sequence_cache_rule(run):
    async def scenario(c):
        s = c.session()
        for bad in ("CREATE SEQUENCE s", "CREATE SEQUENCE s CACHE 2",
                    "CREATE SEQUENCE s CACHE 65535",
                    "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
                    "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 100))"):
            await fails(s, bad, "0A000", "CACHE must be 1 or at least 65536")
        await fails(s, "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (CACHE 1))",
                    "0A000", "bigint")
        await fails(s, "CREATE SEQUENCE s AS integer CACHE 1", "0A000", "bigint")
        await fails(s, "CREATE TABLE t (id serial PRIMARY KEY)", "0A000", "serial")
        await sql(s, "CREATE SEQUENCE s1 CACHE 1")
        await sql(s, "CREATE SEQUENCE s2 CACHE 65536")
        await sql(s, "CREATE SEQUENCE IF NOT EXISTS s2 CACHE 65536")
        await fails(s, "CREATE SEQUENCE s2 CACHE 65536", "42P07")
    run(scenario)


def test_nextval_currval_setval(run):
    async def scenario(c):
        s, s2 = c.session(), c.session()
        await sql(s, "CREATE SEQUENCE s CACHE 1 START 10 INCREMENT BY 5")
        await fails(s, "SELECT currval('s')", "55000",
                    'currval of sequence "s" is not yet defined in this session')
        assert await rows(s, "SELECT nextval('s')") == [(10,)]
        assert await rows(s, "SELECT nextval('s'), nextval('s')") == [(15, 20)]
        assert await rows(s, "SELECT currval('s')") == [(20,)]
        assert await rows(s2, "SELECT nextval('s')") == [(25,)]
        assert await rows(s, "SELECT currval('s')") == [(20,)]          # per session
        assert await rows(s, "SELECT setval('s', 100)") == [(100,)]
        assert await rows(s2, "SELECT nextval('s')") == [(105,)]
        await sql(s, "CREATE TABLE t (id bigint PRIMARY KEY DEFAULT nextval('s'), v text)")
        await sql(s, "INSERT INTO t (v) VALUES ('a'), ('b')")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(110, "a"), (115, "b")]
        await fails(s, "SELECT nextval('nope')", "42P01")
        await fails(s, "SELECT nextval('t')", "42809")
        assert await rows(s, "SELECT lastval()") == [(115,)]
        await fails(s2.__class__(s.node), "SELECT lastval()", "55000")
        await sql(s, "CREATE TABLE r (id bigint DEFAULT nextval('s'::regclass), v int)")
        await sql(s, "INSERT INTO r (v) SELECT 1")
        assert await rows(s, "SELECT id FROM r") == [(120,)]
        assert await rows(s, "SELECT nextval('s') FROM generate_series(1, 3)") \
            == [(125,), (130,), (135,)]
    run(scenario)


def test_sequence_values_without_rerunning_the_statement(run):
    """Values a statement needs are reserved before it runs; calls the engine makes past
    them continue the sequence; setval takes effect for the rest of its statement."""
    async def scenario(c):
        s, s2 = c.session(), c.session()
        await sql(s, "CREATE SEQUENCE s CACHE 1")
        await sql(s, "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) "
                     "PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t (v) SELECT g FROM generate_series(1, 4) g")
        assert await rows(s, "SELECT id, v FROM t ORDER BY id") == \
            [(1, 1), (2, 2), (3, 3), (4, 4)]
        assert await rows(s, "SELECT nextval('s') FROM generate_series(1, 5)") == \
            [(1,), (2,), (3,), (4,), (5,)]
        assert await rows(s2, "SELECT nextval('s')") == [(6,)]          # no gap, no reuse
        assert await rows(s, "SELECT setval('s', 50), nextval('s'), nextval('s')") == \
            [(50, 51, 52)]
        assert await rows(s2, "SELECT nextval('s'), currval('s')") == [(53, 53)]
        await sql(s, "UPDATE t SET v = nextval('s') WHERE id IN (SELECT id FROM t WHERE v > 2)")
        assert await rows(s, "SELECT v FROM t ORDER BY id") == [(1,), (2,), (54,), (55,)]
        assert await rows(s, "SELECT lastval()") == [(55,)]
        assert await rows(s, "SELECT nextval('s'), nextval('public.s'), nextval('\"s\"')") \
            == [(56, 57, 58)]
        await sql(s, "INSERT INTO t (v) VALUES (7), (8) RETURNING id")
        assert await rows(s, "SELECT max(id) FROM t") == [(6,)]
        await fails(s, "SELECT setval('s', 0)", "22003")
        assert await rows(s, "SELECT nextval('s')") == [(59,)]          # still usable
        await sql(s, "CREATE SEQUENCE v_s CACHE 1")
        await sql(s, "CREATE VIEW numbered AS SELECT nextval('v_s') AS n, v FROM t")
        assert sorted(await rows(s2, "SELECT n FROM numbered")) == \
            [(1,), (2,), (3,), (4,), (5,), (6,)]
    run(scenario)


def test_sequence_exhausted_is_2200h(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE SEQUENCE small CACHE 1 MAXVALUE 3")
        assert await rows(s, "SELECT nextval('small') FROM generate_series(1, 3)") == \
            [(1,), (2,), (3,)]
        await fails(s, "SELECT nextval('small')", "2200H")
        await fails(s, "SELECT nextval('small') FROM generate_series(1, 2)", "2200H")
        assert await rows(s, "SELECT currval('small')") == [(3,)]
    run(scenario)


def test_values_taken_past_a_stale_block_fail_with_40001_not_twice(run):
    """Compute A's engine runs past what it holds while compute B took the next block:
    A's statement fails (retryable), and no value is handed out twice."""
    async def scenario(c):
        a = c.session()
        b = await another_compute_session(c)
        await sql(a, "CREATE SEQUENCE big CACHE 65536")
        assert await rows(a, "SELECT nextval('big')") == [(1,)]        # A holds 1..65536
        assert await rows(b, "SELECT nextval('big')") == [(65537,)]    # B the next block
        await fails(a, "SELECT count(nextval('big')) FROM generate_series(1, 70000)",
                    "40001")
        assert await rows(a, "SELECT nextval('big')") == [(131073,)]   # a fresh block
        assert await rows(b, "SELECT nextval('big')") == [(65538,)]
    run(scenario)


def test_identity_columns(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 65536) "
                     "PRIMARY KEY, v text)")
        await sql(s, "INSERT INTO t (v) VALUES ('a'), ('b')")
        await sql(s, "INSERT INTO t VALUES (DEFAULT, 'c')")
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]
        await fails(s, "INSERT INTO t VALUES (9, 'x')", "428C9",
                    'cannot insert a non-DEFAULT value into column "id"')
        await fails(s, "UPDATE t SET id = 5", "428C9")
        await sql(s, "CREATE TABLE u (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) "
                     "PRIMARY KEY, v text)")
        await sql(s, "INSERT INTO u VALUES (100, 'x')")
        await sql(s, "INSERT INTO u (v) VALUES ('y')")
        assert await rows(s, "SELECT * FROM u ORDER BY id") == [(1, "y"), (100, "x")]
        assert await rows(s, "SELECT attidentity FROM pg_attribute WHERE attname = 'id' "
                             "AND attrelid = 't'::regclass") == [("a",)]
        assert await rows(s, "SELECT sequencename, cache_size FROM pg_sequences ORDER BY 1") \
            == [("t_id_seq", 65536), ("u_id_seq", 1)]
        await sql(s, "DROP TABLE t")                                   # takes its sequence
        assert await rows(s, "SELECT sequencename FROM pg_sequences") == [("u_id_seq",)]
    run(scenario)


def test_concurrent_inserters_do_not_conflict_on_the_sequence(run):
    async def scenario(c):
        setup = c.session()
        await sql(setup, "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY "
                         "(CACHE 65536) PRIMARY KEY, w int)")
        other = c.compute()
        await other.sync_clock()
        sessions = [c.session() for _ in range(4)] + [Session(other) for _ in range(4)]

        async def insert(i, s):
            for j in range(10):
                await sql(s, f"INSERT INTO t (w) VALUES ({i})")
        await asyncio.gather(*(insert(i, s) for i, s in enumerate(sessions)))
        ids = [r[0] for r in await rows(setup, "SELECT id FROM t")]
        assert len(ids) == len(set(ids)) == 80
    run(scenario)


# -- type modifiers -------------------------------------------------------------------------------
def test_type_modifiers_show_and_enforce(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, a varchar(3), b char(2), "
                     "n numeric(5,2))")
        assert await rows(s, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                             "WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum") \
            == [("integer",), ("character varying(3)",), ("character(2)",), ("numeric(5,2)",)]
        assert await rows(s, "SELECT character_maximum_length, numeric_precision, "
                             "numeric_scale FROM information_schema.columns "
                             "WHERE table_name = 't' AND column_name IN ('a', 'n') "
                             "ORDER BY ordinal_position") == [(3, None, None), (None, 5, 2)]
        await fails(s, "INSERT INTO t VALUES (1, 'abcd', 'x', 1)", "22001",
                    "value too long for type character varying(3)")
        await fails(s, "INSERT INTO t VALUES (1, 'a', 'xyz', 1)", "22001",
                    "value too long for type character(2)")
        await fails(s, "INSERT INTO t VALUES (1, 'a', 'x', 1000)", "22003",
                    "numeric field overflow")
        await sql(s, "INSERT INTO t VALUES (1, 'abc', 'x', 1.005)")
        assert await rows(s, "SELECT n FROM t") == [(Decimal("1.01"),)]
        await fails(s, "UPDATE t SET a = 'long value'", "22001")
        await sql(s, "ALTER TABLE t ADD COLUMN m numeric(4,1)")
        await sql(s, "UPDATE t SET m = 2.25")
        assert await rows(s, "SELECT m FROM t") == [(Decimal("2.3"),)]
    run(scenario)


def test_ddl_rules_still_hold(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        await sql(s, "BEGIN")
        await sql(s, "CREATE SCHEMA a")
        await fails(s, "CREATE VIEW v AS SELECT 1", "0A000", "multiple ddl")
        await sql(s, "ROLLBACK")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (1)")
        await fails(s, "ALTER TABLE t ADD COLUMN c int", "0A000", "ddl and dml")
        await sql(s, "ROLLBACK")
    run(scenario)


def test_copy_into_an_altered_table(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, a text, b int)")
        await sql(s, "INSERT INTO t VALUES (1, 'x', 1)")
        await sql(s, "ALTER TABLE t DROP COLUMN a")
        await sql(s, "ALTER TABLE t ADD COLUMN c text")
        await sql(s, "UPDATE t SET c = 'd'")
        copy = (await sql(s, "COPY t FROM STDIN"))[-1]
        await copy.data(b"2\t2\tz\n")
        await copy.done()
        assert await rows(s, "SELECT * FROM t ORDER BY id") == [(1, 1, "d"), (2, 2, "z")]
    run(scenario)


def test_sequence_made_or_dropped_on_another_compute(run):
    async def scenario(c):
        s1 = c.session()
        s2 = await another_compute_session(c)
        assert await rows(s2, "SELECT 1") == [(1,)]
        await sql(s1, "CREATE SEQUENCE s CACHE 1")
        assert await rows(s2, "SELECT nextval('s')") == [(1,)]
        await sql(s1, "DROP SEQUENCE s")
        await fails(s2, "SELECT nextval('s')", "42P01")
        await fails(s2, "SELECT nextval('s')", "42P01")
    run(scenario)


def test_alter_table_keeps_secondary_indexes_usable(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
        await sql(s, "INSERT INTO t VALUES (1, 10, 100)")
        job = (await rows(s, "CREATE INDEX ASYNC t_a ON t (a)"))[0][0]
        assert (await rows(s, f"CALL sys.wait_for_job('{job}')"))[0][0] is True
        await fails(s, "ALTER TABLE t DROP COLUMN a", "0A000", 'index "t_a" uses it')
        await sql(s, "ALTER TABLE t RENAME COLUMN a TO aa")
        await sql(s, "ALTER TABLE t DROP COLUMN b")
        await sql(s, "INSERT INTO t VALUES (2, 20)")
        assert await rows(s, "SELECT id FROM t WHERE aa = 20") == [(2,)]
        assert await rows(s, "SELECT id, aa FROM t ORDER BY id") == [(1, 10), (2, 20)]
    run(scenario)


def test_views_follow_their_tables(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int, spare int)")
        await sql(s, "INSERT INTO t VALUES (1, 10, 0)")
        await sql(s, "CREATE VIEW tv AS SELECT id, v FROM t")
        await sql(s, "CREATE VIEW tvv AS SELECT v FROM tv")
        e = await fails(s, "DROP TABLE t", "2BP01",
                        "cannot drop table t because other objects depend on it")
        assert "view tv depends on table t" in e.detail
        await fails(s, "ALTER TABLE t DROP COLUMN v", "2BP01")
        await sql(s, "ALTER TABLE t DROP COLUMN spare")
        await sql(s, "ALTER TABLE t RENAME COLUMN v TO w")
        await sql(s, "ALTER TABLE t RENAME TO t2")
        assert await rows(s, "SELECT * FROM tv") == [(1, 10)]
        assert await rows(s, "SELECT * FROM tvv") == [(10,)]
        assert await rows(s, "SELECT column_name FROM information_schema.columns "
                             "WHERE table_name = 'tv' ORDER BY ordinal_position") \
            == [("id",), ("v",)]
        await sql(s, "DROP TABLE t2 CASCADE")
        assert "drop cascades to view tv" in s.notices
        await fails(s, "SELECT * FROM tvv", "42P01")
    run(scenario)


def test_json_is_a_query_time_type_only(run):
    """DSQL has json/jsonb at query time but not as column types."""
    async def scenario(c):
        s = c.session()
        for ddl in ("CREATE TABLE docs (id int PRIMARY KEY, body json)",
                    "CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL)"):
            await fails(s, ddl, "0A000", "datatype json")
        await sql(s, "CREATE TABLE docs (id int PRIMARY KEY, body text)")
        await fails(s, "ALTER TABLE docs ADD COLUMN extra jsonb", "0A000", "datatype jsonb")
        await sql(s, """INSERT INTO docs VALUES (1, '{"a": {"b": 2}}')""")
        assert await rows(s, "SELECT body::jsonb -> 'a' ->> 'b' FROM docs") == [("2",)]
    run(scenario)
