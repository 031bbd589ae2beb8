"""Partial indexes (``CREATE INDEX ASYNC … WHERE``) and expression indexes
(``CREATE INDEX ASYNC … ((lower(email)))``): their entries, uniqueness among the rows
they cover, the plans that use them and the catalog's account of them, in-process and
over both wire protocols."""
import pytest

from .test_indexes import build, fails, one, plan
from .conftest import sql


@pytest.fixture
def run(run_wire):
    return run_wire


async def rows(s, query: str) -> list:
    return sorted((await one(s, query)).rows)


def test_partial_index_holds_only_matching_rows_and_serves_implying_queries(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, x int, y int)")
        await sql(s, "INSERT INTO t VALUES " +
                  ", ".join(f"({i}, {i % 50}, {None if i % 3 == 0 else i})".replace(
                      "None", "NULL") for i in range(120)))
        _, ok = await build(s, "CREATE INDEX ASYNC p ON t (x) INCLUDE (y) "
                               "WHERE x > 10 AND y IS NOT NULL")
        assert ok is True
        await sql(s, "INSERT INTO t VALUES (500, 30, 7), (501, 30, NULL), (502, 5, 1)")
        await sql(s, "UPDATE t SET y = NULL WHERE id = 31")       # leaves the index
        await sql(s, "UPDATE t SET x = 30 WHERE id = 2")          # enters it
        # the WHERE repeats the predicate's conjunct, or implies it by range
        for q in ("SELECT * FROM t WHERE x = 30 AND y IS NOT NULL",
                  "SELECT * FROM t WHERE x > 20 AND y IS NOT NULL",
                  "SELECT * FROM t WHERE x >= 11 AND x < 40 AND y > 0"):
            text = await plan(s, q)
            assert text.splitlines()[0] == "Index Scan using p on t", text
            scan = q.replace("WHERE x", "WHERE x + 0")
            assert await rows(s, q) == await rows(s, scan) and await rows(s, q), q
        # a query the predicate does not cover reads the table
        for q in ("SELECT * FROM t WHERE x = 30", "SELECT * FROM t WHERE x > 5 AND y > 0",
                  "SELECT * FROM t WHERE x = 5 AND y IS NOT NULL"):
            assert "using p" not in await plan(s, q), q
        got = await rows(s, "SELECT id FROM t WHERE x = 30 AND y IS NOT NULL")
        assert got == [(2,), (80,), (500,)]           # 30 has no y
    run(scenario)


def test_unique_partial_index_enforces_uniqueness_among_covered_rows(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE acct (id int PRIMARY KEY, owner text, active bool)")
        await sql(s, "INSERT INTO acct VALUES (1, 'ann', true), (2, 'ann', false), "
                     "(3, 'ann', false), (4, 'bob', true)")
        _, ok = await build(s, "CREATE UNIQUE INDEX ASYNC one_active ON acct (owner) "
                               "WHERE active")
        assert ok is True
        await sql(s, "INSERT INTO acct VALUES (5, 'ann', false)")        # not covered
        e = await fails(s, "INSERT INTO acct VALUES (6, 'ann', true)", "23505")
        assert str(e) == 'duplicate key value violates unique constraint "one_active"'
        assert e.detail == "Key (owner)=(ann) already exists."
        await fails(s, "UPDATE acct SET active = true WHERE id = 2", "23505")
        await sql(s, "UPDATE acct SET active = false WHERE id = 1")
        await sql(s, "UPDATE acct SET active = true WHERE id = 2")       # now the only one
        assert await rows(s, "SELECT id FROM acct WHERE owner = 'ann' AND active") == [(2,)]
        # a build over existing duplicates fails
        _, ok = await build(s, "CREATE UNIQUE INDEX ASYNC dup ON acct (owner) "
                               "WHERE NOT active")
        assert ok is False
    run(scenario)


def test_expression_index_keys_entries_by_the_expression(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE users (id int PRIMARY KEY, email text, n int)")
        await sql(s, "INSERT INTO users VALUES (1, 'Ann@X.org', 1), (2, 'bob@y.org', 2), "
                     "(3, NULL, 3)")
        _, ok = await build(s, "CREATE UNIQUE INDEX ASYNC users_email ON users "
                               "((lower(email)))")
        assert ok is True
        e = await fails(s, "INSERT INTO users VALUES (4, 'ANN@x.ORG', 4)", "23505")
        assert str(e) == 'duplicate key value violates unique constraint "users_email"'
        assert e.detail == "Key (lower(email))=(ann@x.org) already exists."
        await sql(s, "INSERT INTO users VALUES (5, NULL, 5), (6, 'Carl@z.org', 6)")
        await fails(s, "UPDATE users SET email = 'BOB@Y.ORG' WHERE id = 6", "23505")
        await sql(s, "UPDATE users SET email = 'ann@other.org' WHERE id = 1")
        await sql(s, "INSERT INTO users VALUES (7, 'ann@x.org', 7)")     # freed
        q = "SELECT id FROM users WHERE lower(email) = 'ann@x.org'"
        text = await plan(s, q)
        assert text.splitlines()[:2] == ["Index Scan using users_email on users",
                                         "  Index Cond: (lower(email) = 'ann@x.org')"], text
        assert await rows(s, q) == [(7,)]
        q = "SELECT u.id FROM users u WHERE lower(u.email) = 'ann@x.org'"   # qualified
        assert "Index Scan using users_email on users" in await plan(s, q)
        assert await rows(s, q) == [(7,)]
        r = await one(s, "SELECT id FROM users WHERE lower(email) = $1"
                      .replace("$1", "'carl@z.org'"))
        assert r.rows == [(6,)]
        # mixed with a plain column; an operator expression
        _, ok = await build(s, "CREATE INDEX ASYNC users_mix ON users (n, (n * 10))")
        assert ok is True
        q = "SELECT id FROM users WHERE n = 6 AND n * 10 = 60"
        assert "Index Scan using users_mix on users" in await plan(s, q)
        assert await rows(s, q) == [(6,)]
    run(scenario)


def test_index_expressions_must_be_immutable(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, x int, ts timestamptz)")
        e = await fails(s, "CREATE INDEX ASYNC r ON t ((random()))", "42P17")
        assert str(e) == "functions in index expression must be marked IMMUTABLE"
        e = await fails(s, "CREATE INDEX ASYNC r ON t (x) WHERE ts > now()", "42P17")
        assert str(e) == "functions in index predicate must be marked IMMUTABLE"
        await fails(s, "CREATE INDEX ASYNC r ON t ((count(*)))", "42803")
        await fails(s, "CREATE INDEX ASYNC r ON t ((lower(nope)))", "42703")
        await fails(s, "CREATE INDEX ASYNC r ON t (x) WHERE x", "42804")
        await fails(s, "CREATE INDEX ASYNC r ON t (x) WHERE x IN (SELECT 1)", "0A000")
        assert (await one(s, "SELECT count(*) FROM pg_indexes WHERE tablename = 't'")
                ).rows == [(1,)]                      # the session is usable, nothing made
    run(scenario)


def test_catalog_shows_partial_and_expression_indexes_as_postgresql(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, email text, x int, y int)")
        for ddl in ("CREATE UNIQUE INDEX ASYNC u ON t ((lower(email)))",
                    "CREATE INDEX ASYNC p ON t (x) INCLUDE (y) WHERE x > 10 AND y IS NOT NULL",
                    "CREATE INDEX ASYNC m ON t (x, (x + y), lower(email))"):
            assert (await build(s, ddl))[1] is True
        got = await rows(s, "SELECT indexdef FROM pg_indexes WHERE tablename = 't'")
        # PostgreSQL 15's text, byte for byte
        assert got == [
            ("CREATE INDEX m ON public.t USING btree (x, ((x + y)), lower(email))",),
            ("CREATE INDEX p ON public.t USING btree (x) INCLUDE (y) "
             "WHERE ((x > 10) AND (y IS NOT NULL))",),
            ("CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",),
            ("CREATE UNIQUE INDEX u ON public.t USING btree (lower(email))",)]
        got = await rows(s, "SELECT c.relname, pg_get_indexdef(i.indexrelid, 0, true), "
                            "i.indexprs IS NOT NULL, i.indpred IS NOT NULL, "
                            "CASE WHEN i.indnatts > 1 THEN "
                            "pg_get_indexdef(i.indexrelid, 2, true) END "
                            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                            "WHERE i.indrelid = 't'::regclass AND c.relname <> 't_pkey'")
        assert got == [
            ("m", "CREATE INDEX m ON t USING btree (x, (x + y), lower(email))", True, False,
             "(x + y)"),
            ("p", "CREATE INDEX p ON t USING btree (x) INCLUDE (y) "
             "WHERE x > 10 AND y IS NOT NULL", False, True, "y"),
            ("u", "CREATE UNIQUE INDEX u ON t USING btree (lower(email))", True, False, None)]
        # the index's own columns (psql's \d m): expressions named as PostgreSQL names them
        got = (await one(s, "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
                            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                            "WHERE c.relname = 'm' ORDER BY a.attnum")).rows
        assert got == [("x", "integer"), ("expr", "integer"), ("lower", "text")]
        # int2vector: 0-based, printed space-separated
        got = (await one(s, "SELECT i.indkey[0], i.indkey[1], i.indkey::text, i.indclass::text "
                            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                            "WHERE c.relname = 'm'")).rows
        assert got == [(3, 0, "3 0 0", "1978 1978 3126")]
    run(scenario)


def test_rename_and_drop_column_follow_expressions_and_predicates(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, email text, x int)")
        await sql(s, "INSERT INTO t VALUES (1, 'A@x', 5), (2, 'b', 20)")
        assert (await build(s, "CREATE UNIQUE INDEX ASYNC u ON t ((lower(email)))"))[1]
        assert (await build(s, "CREATE INDEX ASYNC p ON t (id) WHERE x > 10"))[1]
        await sql(s, "ALTER TABLE t RENAME COLUMN email TO mail")
        await sql(s, "ALTER TABLE t RENAME COLUMN x TO xx")
        assert await rows(s, "SELECT indexdef FROM pg_indexes WHERE tablename = 't'") == [
            ("CREATE INDEX p ON public.t USING btree (id) WHERE (xx > 10)",),
            ("CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",),
            ("CREATE UNIQUE INDEX u ON public.t USING btree (lower(mail))",)]
        e = await fails(s, "INSERT INTO t VALUES (3, 'a@X', 1)", "23505")
        assert e.detail == "Key (lower(mail))=(a@x) already exists."
        assert "Index Scan using u on t" in await plan(s, "SELECT * FROM t "
                                                          "WHERE lower(mail) = 'b'")
        e = await fails(s, "ALTER TABLE t DROP COLUMN xx", "0A000")
        assert 'index "p" uses it' in str(e)
    run(scenario)


def test_on_conflict_do_nothing_arbitrates_on_expression_and_partial_unique_indexes(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE u (id int PRIMARY KEY, email text, active bool)")
        await sql(s, "INSERT INTO u VALUES (1, 'A@x', true), (2, 'b@x', false)")
        assert (await build(s, "CREATE UNIQUE INDEX ASYNC ue ON u ((lower(email)))"))[1]
        assert (await build(s, "CREATE UNIQUE INDEX ASYNC ua ON u ((email IS NULL)) "
                               "WHERE active"))[1]
        r = await one(s, "INSERT INTO u VALUES (3, 'a@X', false) ON CONFLICT DO NOTHING")
        assert r.tag == "INSERT 0 0"
        r = await one(s, "INSERT INTO u VALUES (4, 'c@x', true), (5, 'd@x', false) "
                         "ON CONFLICT DO NOTHING")
        assert r.tag == "INSERT 0 1"            # 4: a second active row (ua); 5: no conflict
        await fails(s, "INSERT INTO u VALUES (6, 'B@X', false)", "23505")
        assert await rows(s, "SELECT id FROM u") == [(1,), (2,), (5,)]
    run(scenario)


def test_another_compute_describes_a_new_index_at_once(run_in_process):
    """psql's \\d on a compute whose index registry has not refreshed since the index was
    built: pg_index lists the index (read at the snapshot), and pg_get_indexdef must give
    its definition from the same snapshot, not NULL."""
    from .test_ddl import another_compute_session

    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, email text)")
        other = await another_compute_session(c)
        query = ("SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                 "JOIN pg_class c ON c.oid = i.indexrelid "
                 "JOIN pg_class r ON r.oid = i.indrelid WHERE r.relname = 't' ORDER BY 1")
        assert (await one(other, query)).rows == [
            ("t_pkey", "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)")]
        await build(s, "CREATE UNIQUE INDEX ASYNC t_email ON t ((lower(email)))")
        assert (await one(other, query)).rows == [
            ("t_email", "CREATE UNIQUE INDEX t_email ON public.t USING btree (lower(email))"),
            ("t_pkey", "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)")]
    run_in_process(scenario)
