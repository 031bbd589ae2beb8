"""CREATE DOMAIN / DROP DOMAIN: a domain as a column's type and in casts, its NOT NULL,
CHECK and DEFAULT enforced on INSERT, UPDATE and COPY with PostgreSQL's messages, and
its rows in pg_type; in-process and over both wire protocols."""
import pytest

from dsql_ray.compute import types as T
from dsql_ray.errors import DsqlError

from .conftest import sql
from .test_copy import copy
from .test_indexes import fails, one


@pytest.fixture
def run(run_wire):
    return run_wire


DOMAINS = ("CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
           "CREATE DOMAIN email AS varchar(40) NOT NULL DEFAULT 'nobody@x' "
           "CONSTRAINT email_at CHECK (VALUE LIKE '%@%')")


def test_domain_columns_enforce_not_null_and_check(run):
    async def scenario(c):
        s = c.session()
        for ddl in DOMAINS:
            assert (await one(s, ddl)).tag == "CREATE DOMAIN"
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY, n posint, e email)")
        await sql(s, "INSERT INTO p VALUES (1, 5, 'a@b')")
        e = await fails(s, "INSERT INTO p VALUES (2, -1, 'a@b')", "23514")
        assert str(e) == 'value for domain posint violates check constraint "posint_check"'
        e = await fails(s, "INSERT INTO p VALUES (3, 1, 'ab')", "23514")
        assert str(e) == 'value for domain email violates check constraint "email_at"'
        e = await fails(s, "INSERT INTO p VALUES (4, 1, NULL)", "23502")
        assert str(e) == "domain email does not allow null values"
        await sql(s, "INSERT INTO p (id, n) VALUES (5, NULL)")     # the domain's DEFAULT
        await fails(s, "UPDATE p SET n = 0 WHERE id = 1", "23514")
        await sql(s, "UPDATE p SET n = n + 1 WHERE id = 1")
        r = await one(s, "SELECT * FROM p ORDER BY id")
        assert r.rows == [(1, 6, "a@b"), (5, None, "nobody@x")]
        # clients see the base type's OID, as PostgreSQL reports a domain column
        assert [col.type_oid for col in r.columns] == [T.INT4, T.INT4, T.VARCHAR]
    run(scenario)


def test_casts_to_a_domain_check_it(run):
    async def scenario(c):
        s = c.session()
        await sql(s, DOMAINS[0])
        r = await one(s, "SELECT '5'::posint, 3::posint + 1")
        assert r.rows == [(5, 4)] and r.columns[0].name == "posint"
        e = await fails(s, "SELECT (-3)::posint", "23514")
        assert str(e) == 'value for domain posint violates check constraint "posint_check"'
        await sql(s, DOMAINS[1])
        await fails(s, "SELECT NULL::public.email", "23502")
        await fails(s, "SELECT 1::nosuchdomain", "42704")
        assert (await one(s, "SELECT 1")).rows == [(1,)]           # the session goes on
    run(scenario)


def test_create_and_drop_domain_errors_and_catalog(run):
    async def scenario(c):
        s = c.session()
        await sql(s, DOMAINS[0])
        await sql(s, DOMAINS[1])
        e = await fails(s, "CREATE DOMAIN posint AS int", "42710")
        assert str(e) == 'type "posint" already exists'
        await fails(s, "CREATE DOMAIN bad AS int CHECK (VALUE)", "42804")
        await fails(s, "CREATE DOMAIN bad AS nosuchtype", "42704")
        r = await one(s, "SELECT typname, typtype, typbasetype, typnotnull, typdefault, "
                         "format_type(typbasetype, typtypmod) FROM pg_type "
                         "WHERE typtype = 'd' ORDER BY typname")
        assert r.rows == [("email", "d", T.VARCHAR, True, "'nobody@x'",
                           "character varying(40)"),
                          ("posint", "d", T.INT4, False, None, "integer")]
        r = await one(s, "SELECT domain_name, data_type, character_maximum_length, "
                         "domain_default FROM information_schema.domains "
                         "WHERE domain_schema = 'public' ORDER BY 1")
        assert r.rows == [("email", "character varying", 40, "'nobody@x'"),
                          ("posint", "integer", None, None)]
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY, n posint)")
        r = await one(s, "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                         "WHERE a.attrelid = 'p'::regclass AND a.attname = 'n'")
        assert r.rows == [("posint",)]
        # a domain's DEFAULT is not the column's (PostgreSQL's pg_attrdef has none)
        await sql(s, "CREATE TABLE q (id int PRIMARY KEY, e email)")
        r = await one(s, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'q'::regclass")
        assert r.rows == [(0,)]
        e = await fails(s, "DROP DOMAIN posint", "2BP01")
        assert str(e) == "cannot drop type posint because other objects depend on it"
        await sql(s, "DROP TABLE p")
        assert (await one(s, "DROP DOMAIN posint")).tag == "DROP DOMAIN"
        await fails(s, "DROP DOMAIN posint", "42704")
        await sql(s, "DROP DOMAIN IF EXISTS posint")
        assert (await one(s, "SELECT count(*) FROM pg_type WHERE typtype = 'd'")).rows == [(1,)]
    run(scenario)


def test_copy_into_a_domain_column_checks_it(run_in_process):
    async def scenario(c):
        s = c.session()
        await sql(s, DOMAINS[0])
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY, n posint)")
        assert (await copy(s, "COPY p FROM STDIN", b"1\t5\n2\t7\n")).tag == "COPY 2"
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY p FROM STDIN", b"3\t8\n4\t0\n")
        assert e.value.sqlstate == "23514"
        assert (await one(s, "SELECT id, n FROM p ORDER BY id")).rows == [(1, 5), (2, 7)]
    run_in_process(scenario)
