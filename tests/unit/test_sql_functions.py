"""CREATE FUNCTION … LANGUAGE sql: one-expression bodies inlined where they are called
(select lists, WHERE, INSERT values), named and positional parameters, DEFAULTs, STRICT,
OR REPLACE, DROP FUNCTION, pg_proc; other languages and bodies refused. In-process and
over both wire protocols."""
import pytest

from .conftest import sql
from .test_indexes import fails, one


@pytest.fixture
def run(run_wire):
    return run_wire


FUNCTIONS = (
    "CREATE FUNCTION add1(a int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + 1 $$",
    "CREATE OR REPLACE FUNCTION greet(who text, greeting text DEFAULT 'hello') RETURNS text "
    "LANGUAGE sql STRICT AS $$ SELECT greeting || ', ' || who $$",
    "CREATE FUNCTION twice(int) RETURNS bigint RETURN $1 * 2")


def test_sql_functions_are_called_like_built_ins(run):
    async def scenario(c):
        s = c.session()
        for ddl in FUNCTIONS:
            assert (await one(s, ddl)).tag == "CREATE FUNCTION"
        r = await one(s, "SELECT add1(1), greet('ann'), greet('bob', 'hi'), greet(NULL), "
                         "twice(add1(3)), greet(greeting => 'yo', who => 'z')")
        assert r.rows == [(2, "hello, ann", "hi, bob", None, 8, "yo, z")]
        assert r.columns[0].name == "add1" and r.columns[4].type_oid == 20
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, x int)")
        await sql(s, "INSERT INTO t VALUES (1, 10), (2, 20), (add1(2), twice(4))")
        assert (await one(s, "SELECT id, add1(x) FROM t WHERE add1(x) > 15 ORDER BY id")
                ).rows == [(2, 21)]
        assert (await one(s, "SELECT sum(public.twice(x)) FROM t")).rows == [(76,)]
        await fails(s, "SELECT add1(1, 2)", "42883")
        await fails(s, "SELECT add1()", "42883")
        await fails(s, "SELECT greet(nobody => 'x')", "42883")
    run(scenario)


def test_create_or_replace_drop_and_errors(run):
    async def scenario(c):
        s = c.session()
        await sql(s, FUNCTIONS[0])
        e = await fails(s, FUNCTIONS[0], "42723")
        assert str(e) == 'function "add1" already exists with same argument types'
        await sql(s, FUNCTIONS[0].replace("CREATE", "CREATE OR REPLACE").replace("+ 1", "+ 2"))
        assert (await one(s, "SELECT add1(1)")).rows == [(3,)]
        e = await fails(s, "CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql "
                           "AS $$ begin return 1; end $$", "0A000")
        assert str(e) == 'language "plpgsql" is not supported'
        e = await fails(s, "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql "
                           "AS $$ SELECT a FROM pg_class $$", "0A000")
        assert "one SELECT of one expression" in str(e)
        e = await fails(s, "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql "
                           "AS $$ SELECT 'x'::text $$", "42P13")
        assert str(e) == "return type mismatch in function declared to return integer"
        await fails(s, "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql "
                       "AS $$ SELECT nope $$", "42703")
        # a function that calls itself fails when called, not forever
        await sql(s, "CREATE FUNCTION loop(a int) RETURNS int LANGUAGE sql AS "
                     "$$ SELECT loop(a) $$")
        await fails(s, "SELECT loop(1)", "54001")
        assert (await one(s, "DROP FUNCTION add1")).tag == "DROP FUNCTION"
        await fails(s, "SELECT add1(1)", "42883")
        await fails(s, "DROP FUNCTION add1", "42883")
        await sql(s, "DROP FUNCTION IF EXISTS add1")
        assert (await one(s, "SELECT 1")).rows == [(1,)]
    run(scenario)


def test_pg_proc_lists_sql_functions(run):
    async def scenario(c):
        s = c.session()
        for ddl in FUNCTIONS:
            await sql(s, ddl)
        r = await one(s, "SELECT p.proname, pg_get_function_result(p.oid), "
                         "pg_get_function_arguments(p.oid), p.provolatile, p.proisstrict, "
                         "p.prosrc, l.lanname FROM pg_proc p "
                         "JOIN pg_namespace n ON n.oid = p.pronamespace "
                         "LEFT JOIN pg_language l ON l.oid = p.prolang "
                         "WHERE n.nspname = 'public' ORDER BY 1")
        assert r.rows == [
            ("add1", "integer", "a integer", "i", False, "SELECT a + 1", "sql"),
            ("greet", "text", "who text, greeting text DEFAULT 'hello'", "v", True,
             "SELECT greeting || ', ' || who", "sql"),
            ("twice", "bigint", "integer", "v", False, "RETURN $1 * 2", "sql")]
        r = await one(s, "SELECT routine_name, routine_type, data_type, routine_body, "
                         "is_deterministic FROM information_schema.routines "
                         "WHERE routine_schema = 'public' ORDER BY 1")
        assert r.rows == [("add1", "FUNCTION", "integer", "SQL", "YES"),
                          ("greet", "FUNCTION", "text", "SQL", "NO"),
                          ("twice", "FUNCTION", "bigint", "SQL", "NO")]
    run(scenario)
