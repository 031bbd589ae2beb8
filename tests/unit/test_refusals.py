"""Everything DSQL does not support is refused with its SQLSTATE and a message naming the
feature, and the session stays usable (dsql-facts.md, "Not supported")."""
import pytest

from dsql_ray.errors import DsqlError

from .conftest import sql


@pytest.fixture
def run(run_wire):
    """Every scenario here runs in-process and again over the wire, through the simple and
    the extended protocol (conftest.run_wire)."""
    return run_wire


async def refused(s, stmt: str) -> list[DsqlError]:
    """Run ``stmt`` outside a transaction and inside one: both fail; the block then
    answers COMMIT with ROLLBACK. Returns both errors."""
    errors = []
    for block in (False, True):
        if block:
            await sql(s, "BEGIN")
        with pytest.raises(DsqlError) as e:
            await sql(s, stmt)
        errors.append(e.value)
        if block:
            assert (await sql(s, "COMMIT"))[0].tag == "ROLLBACK"
    return errors

REFUSALS = [
    ("TRUNCATE t", "0A000", "TRUNCATE"),
    ("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "0A000",
     "triggers"),
    ("CREATE TEMP TABLE x (a int)", "0A000", "temporary tables"),
    ("CREATE TEMPORARY TABLE x (a int)", "0A000", "temporary tables"),
    ("CREATE UNLOGGED TABLE x (a int)", "0A000", "unlogged tables"),
    ("CREATE EXTENSION pgcrypto", "0A000", "extensions"),
    ("CREATE TYPE mood AS ENUM ('a')", "0A000", "enums"),
    ("CREATE TYPE pair AS (a int, b int)", "0A000", "user-defined types"),
    ("CREATE TABLE p (id int) PARTITION BY RANGE (id)", "0A000", "partitioned tables"),
    ("CREATE TABLE inh (a int) INHERITS (t)", "0A000", "inheritance"),
    ("CREATE TABLESPACE ts LOCATION '/tmp'", "0A000", "tablespaces"),
    ("CREATE TABLE c AS SELECT 1", "0A000", "CREATE TABLE AS"),
    ("SELECT 1 INTO newt", "0A000", "SELECT INTO"),
    ("CREATE MATERIALIZED VIEW mv AS SELECT 1", "0A000", "materialized views"),
    ("VACUUM", "0A000", "VACUUM"),
    ("LISTEN ch", "0A000", "LISTEN"),
    ("NOTIFY ch", "0A000", "NOTIFY"),
    ("SAVEPOINT a", "0A000", "SAVEPOINT"),
    ("ALTER SYSTEM SET work_mem = '1MB'", "0A000", "ALTER SYSTEM"),
    ("CREATE DATABASE d2", "0A000", "CREATE DATABASE"),
    ("DROP DATABASE postgres", "0A000", "DROP DATABASE"),
    ("CREATE TABLE s (id serial PRIMARY KEY)", "0A000", "serial"),
    ("CREATE TABLE s (id bigserial)", "0A000", "bigserial"),
    ("ALTER TABLE t ALTER COLUMN v TYPE bigint", "0A000", "ALTER COLUMN TYPE"),
    ("CREATE INDEX i ON t (v)", "0A000", "please use CREATE INDEX ASYNC"),
    ("CREATE SEQUENCE sq", "0A000", "CACHE"),
    ("CREATE SEQUENCE sq CACHE 10", "0A000", "CACHE must be 1 or at least 65536"),
    ("CREATE TABLE j (id int PRIMARY KEY, doc jsonb)", "0A000", "datatype jsonb"),
    ("CREATE FUNCTION f() RETURNS int AS 'begin return 1; end' LANGUAGE plpgsql", "0A000",
     "plpgsql"),
    ("LOCK TABLE t", "0A000", "LOCK"),
    ("CREATE RULE r AS ON INSERT TO t DO NOTHING", "0A000", "rules"),
    ("CREATE POLICY p ON t USING (true)", "0A000", "row-level security"),
    ("CLUSTER t", "0A000", "CLUSTER"),
    ("REINDEX TABLE t", "0A000", "REINDEX"),
    ("COPY t TO '/tmp/x'", "0A000", "COPY TO a file"),
]


@pytest.mark.parametrize("stmt, sqlstate, names", REFUSALS, ids=[r[0][:40] for r in REFUSALS])
def test_refused_with_sqlstate_naming_the_feature(run, stmt, sqlstate, names):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        for attempt in ("simple", "in a transaction"):
            if attempt == "in a transaction":
                await sql(s, "BEGIN")
            with pytest.raises(DsqlError) as e:
                await sql(s, stmt)
            assert e.value.sqlstate == sqlstate, (stmt, e.value.message)
            assert names.lower() in e.value.message.lower(), e.value.message
            if attempt == "in a transaction":
                assert (await sql(s, "COMMIT"))[0].tag == "ROLLBACK"
        assert (await sql(s, "SELECT count(*) FROM t"))[-1].rows == [(0,)]   # still usable
    run(scenario)


NOT_STORED = ["money", "xml", "inet", "cidr", "macaddr", "macaddr8", "point", "line", "lseg",
              "box", "path", "polygon", "circle", "tsvector", "tsquery", "int4range",
              "int8range", "numrange", "tstzrange", "daterange", "int4multirange", "bit(3)",
              "varbit", "bit varying(5)", "pg_lsn", "txid_snapshot", "pg_catalog.money"]


@pytest.mark.parametrize("typ", NOT_STORED)
def test_types_postgres_knows_but_dsql_does_not_store_are_refused(run, typ):
    """CREATE TABLE and ALTER TABLE ADD COLUMN refuse them with 0A000 naming the type; an
    unknown type name stays 42704; the session stays usable, in and out of a block."""
    shown = typ.removeprefix("pg_catalog.").split("(")[0].replace("varbit", "bit varying")

    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        for stmt in (f"CREATE TABLE x (id int, v {typ})", f"ALTER TABLE t ADD COLUMN v {typ}"):
            for e in await refused(s, stmt):
                assert (e.sqlstate, e.message) == ("0A000", f"datatype {shown} not supported")
        with pytest.raises(DsqlError) as e:
            await sql(s, "CREATE TABLE x (v nosuchtype)")
        assert e.value.sqlstate == "42704" and 'type "nosuchtype"' in e.value.message
        await sql(s, "INSERT INTO t VALUES (1)")              # still usable, no column added
        assert (await sql(s, "SELECT * FROM t"))[-1].rows == [(1,)]
    run(scenario)


SETTINGS_REFUSED = [
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SET TRANSACTION READ ONLY",
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "SET default_transaction_isolation = 'serializable'",
    "SET default_transaction_isolation TO 'repeatable read'",
    "SET SESSION transaction_isolation = 'read committed'",
    "SET default_transaction_read_only = on",
]


@pytest.mark.parametrize("stmt", SETTINGS_REFUSED)
def test_isolation_and_read_only_settings_are_refused(run, stmt):
    async def scenario(c):
        s = c.session()
        for e in await refused(s, stmt):
            assert e.sqlstate == "0A000", e.message
            assert e.message.startswith("SET ") and "not supported" in e.message
            assert "REPEATABLE READ" in e.hint
        assert (await sql(s, "SHOW transaction_isolation"))[-1].rows == [("repeatable read",)]
    run(scenario)


def test_begin_repeatable_read_is_accepted_and_other_levels_refused(run):
    async def scenario(c):
        s = c.session()
        for begin in ("BEGIN ISOLATION LEVEL REPEATABLE READ",
                      "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", "BEGIN READ WRITE"):
            tag = "START TRANSACTION" if begin.startswith("START") else "BEGIN"  # as PostgreSQL
            assert (await sql(s, begin))[0].tag == tag
            assert (await sql(s, "SHOW transaction_isolation"))[-1].rows == [
                ("repeatable read",)]
            assert (await sql(s, "COMMIT"))[0].tag == "COMMIT"
        for level in ("SERIALIZABLE", "READ COMMITTED"):
            with pytest.raises(DsqlError) as e:
                await sql(s, f"BEGIN ISOLATION LEVEL {level}")
            assert e.value.sqlstate == "0A000"
            assert e.value.message == f"isolation level {level.lower()} is not supported"
        assert (await sql(s, "SELECT 1"))[-1].rows == [(1,)]
    run(scenario)


@pytest.mark.parametrize("clause", ["FOR SHARE", "FOR NO KEY UPDATE", "FOR SHARE OF t NOWAIT"])
def test_for_share_and_for_no_key_update_are_refused(run, clause):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")
        strength = clause.removesuffix(" OF t NOWAIT")
        for query in (f"SELECT v FROM t WHERE id = 1 {clause}",
                      f"SELECT * FROM (SELECT v FROM t {clause}) s",
                      f"SELECT t.v FROM t JOIN t u ON u.id = t.id {clause}"):
            for e in await refused(s, query):
                assert (e.sqlstate, e.message) == (
                    "0A000", f"SELECT ... {strength} is not supported"), query
        assert (await sql(s, "SELECT v FROM t"))[-1].rows == [(1,)]
    run(scenario)


@pytest.mark.parametrize("clause", ["FOR UPDATE", "FOR KEY SHARE"])
@pytest.mark.parametrize("shape", ["SELECT v FROM t WHERE id = 1",
                                   "SELECT t.v FROM t JOIN t u ON u.id = t.id WHERE t.id = 1"])
def test_for_update_and_for_key_share_put_the_rows_into_the_conflict_check(run, clause, shape):
    """A block that read a row FOR UPDATE / FOR KEY SHARE fails at COMMIT with 40001 when
    another transaction changed that row after its snapshot; without the clause it commits."""
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(a, "INSERT INTO t VALUES (1, 1), (2, 2)")
        for locked in (True, False):
            await sql(a, "BEGIN")
            query = f"{shape} {clause}" if locked else shape
            assert (await sql(a, query))[-1].rows in ([(1,)], [(2,)])
            await sql(b, "UPDATE t SET v = v + 1 WHERE id = 1")
            if locked:
                with pytest.raises(DsqlError) as e:
                    await sql(a, "COMMIT")
                assert e.value.sqlstate == "40001", e.value.message
            else:
                assert (await sql(a, "COMMIT"))[0].tag == "COMMIT"
        assert (await sql(a, "SELECT v FROM t WHERE id = 1"))[-1].rows == [(3,)]
    run(scenario)


ADD_COLUMN_REFUSED = [
    ("ALTER TABLE t ADD COLUMN c int DEFAULT 0", "DEFAULT"),
    ("ALTER TABLE t ADD COLUMN c text DEFAULT 'x' NOT NULL", "DEFAULT"),
    ("ALTER TABLE t ADD COLUMN c int NOT NULL", "NOT NULL"),
    ("ALTER TABLE t ADD c int UNIQUE", "UNIQUE"),
    ("ALTER TABLE t ADD COLUMN c int PRIMARY KEY", "PRIMARY KEY"),
    ("ALTER TABLE t ADD COLUMN c int REFERENCES t (id)", "REFERENCES"),
    ("ALTER TABLE t ADD COLUMN IF NOT EXISTS v int DEFAULT 1", "DEFAULT"),
]


@pytest.mark.parametrize("stmt, what", ADD_COLUMN_REFUSED, ids=[r[0][14:] for r in ADD_COLUMN_REFUSED])
def test_add_column_with_a_constraint_or_default_is_refused(run, stmt, what):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")
        for e in await refused(s, stmt):
            assert (e.sqlstate, e.message) == (
                "0A000", f"ALTER TABLE ADD COLUMN with {what} is not supported")
        assert (await sql(s, "SELECT * FROM t"))[-1].rows == [(1, 1)]    # nothing added
        await sql(s, "ALTER TABLE t ADD COLUMN c int")                    # a plain one is
        assert (await sql(s, "SELECT * FROM t"))[-1].rows == [(1, 1, None)]
    run(scenario)


MULTI_REFUSED = [
    ("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)",
     "multiple ddl statements are not supported in a transaction"),
    ("INSERT INTO t VALUES (5, 5); CREATE TABLE a (id int PRIMARY KEY)",
     "ddl and dml are not supported in the same transaction"),
    ("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO t VALUES (5, 5)",
     "ddl and dml are not supported in the same transaction"),
    ("ALTER TABLE t ADD COLUMN c int; UPDATE t SET v = 0",
     "ddl and dml are not supported in the same transaction"),
]


@pytest.mark.parametrize("query, message", MULTI_REFUSED, ids=[q[:40] for q, _ in MULTI_REFUSED])
def test_a_multi_statement_query_is_one_implicit_transaction(run_simple, query, message):
    """What psql -c 'a; b' sends: the DDL rules hold across its statements (0A000) and on
    an error nothing of it is kept; the session stays usable."""
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        await sql(s, "INSERT INTO t VALUES (1, 1)")
        with pytest.raises(DsqlError) as e:
            await sql(s, query)
        assert (e.value.sqlstate, e.value.message) == ("0A000", message)
        assert s.txn_status == "I"
        assert (await sql(s, "SELECT * FROM t"))[-1].rows == [(1, 1)]        # nothing kept
        for name in ("a", "b"):
            with pytest.raises(DsqlError) as e:
                await sql(s, f"SELECT * FROM {name}")
            assert e.value.sqlstate == "42P01"
        results = await sql(s, "CREATE TABLE a (id int PRIMARY KEY); SELECT 1")
        assert [r.tag for r in results][0] == "CREATE TABLE"
        assert (await sql(s, "SELECT count(*) FROM a"))[-1].rows == [(0,)]
    run_simple(scenario)


def test_a_multi_statement_query_commits_together_or_not_at_all(run_simple):
    async def scenario(c):
        s, other = c.session(), c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        with pytest.raises(DsqlError) as e:       # the second row breaks the key: no row kept
            await sql(s, "INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (1, 2)")
        assert e.value.sqlstate == "23505"
        assert (await sql(other, "SELECT count(*) FROM t"))[-1].rows == [(0,)]
        await sql(s, "INSERT INTO t VALUES (1, 1); UPDATE t SET v = 10 WHERE id = 1; "
                     "INSERT INTO t VALUES (2, 2)")
        assert (await sql(other, "SELECT * FROM t ORDER BY id"))[-1].rows == [(1, 10), (2, 2)]
        # BEGIN in the string opens a block that stays open; COMMIT in it ends the block
        await sql(s, "INSERT INTO t VALUES (3, 3); BEGIN; INSERT INTO t VALUES (4, 4)")
        assert s.txn_status == "T"
        assert (await sql(other, "SELECT count(*) FROM t"))[-1].rows == [(2,)]
        await sql(s, "COMMIT; INSERT INTO t VALUES (5, 5)")
        assert s.txn_status == "I"
        assert (await sql(other, "SELECT count(*) FROM t"))[-1].rows == [(5,)]
        # in an explicit block the statements of a string join the block, as before
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (6, 6); INSERT INTO t VALUES (7, 7)")
        await sql(s, "ROLLBACK")
        assert (await sql(other, "SELECT count(*) FROM t"))[-1].rows == [(5,)]
    run_simple(scenario)
