"""FOREIGN KEY / REFERENCES on the in-process cluster and over the wire (both protocols):
DDL, PostgreSQL's errors, referential actions, MATCH, deferred checks, NOT VALID with a
validation job, and the optimistic-concurrency guarantee (no orphan under races)."""
import pytest

from dsql_ray.errors import DsqlError

from .conftest import sql
from .test_ddl import another_compute_session, fails, rows


@pytest.fixture
def run(run_wire):
    return run_wire


PARENT = "CREATE TABLE p (id int PRIMARY KEY, name text)"


def test_child_insert_needs_its_parent(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p)")
        await sql(s, "INSERT INTO p VALUES (1, 'a')")
        await sql(s, "INSERT INTO c VALUES (10, 1), (11, NULL)")
        e = await fails(s, "INSERT INTO c VALUES (12, 5)", "23503",
                        'insert or update on table "c" violates foreign key constraint '
                        '"c_p_id_fkey"')
        assert e.detail == 'Key (p_id)=(5) is not present in table "p".'
        await fails(s, "UPDATE c SET p_id = 7 WHERE id = 10", "23503")
        e = await fails(s, "DELETE FROM p WHERE id = 1", "23503",
                        'update or delete on table "p" violates foreign key constraint '
                        '"c_p_id_fkey" on table "c"')
        assert e.detail == 'Key (id)=(1) is still referenced from table "c".'
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO p VALUES (2, 'b')")        # own writes are seen
        await sql(s, "INSERT INTO c VALUES (13, 2)")
        await sql(s, "COMMIT")
        assert await rows(s, "SELECT id, p_id FROM c ORDER BY id") == \
            [(10, 1), (11, None), (13, 2)]
        await sql(s, "DELETE FROM c WHERE p_id = 1")
        await sql(s, "DELETE FROM p WHERE id = 1")
        assert await rows(s, "SELECT id FROM p") == [(2,)]
    run(scenario)


def test_referential_actions(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int DEFAULT 0, "
                     "FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE CASCADE "
                     "ON UPDATE CASCADE)")
        await sql(s, "CREATE TABLE n (id int PRIMARY KEY, p_id int DEFAULT 0 "
                     "REFERENCES p ON DELETE SET NULL ON UPDATE SET DEFAULT)")
        await sql(s, "CREATE TABLE g (id int PRIMARY KEY, c_id int REFERENCES c ON DELETE "
                     "CASCADE)")
        await sql(s, "INSERT INTO p VALUES (0, 'zero'), (1, 'a'), (2, 'b')")
        await sql(s, "INSERT INTO c VALUES (10, 1), (11, 1), (12, 2)")
        await sql(s, "INSERT INTO n VALUES (20, 1), (21, 2)")
        await sql(s, "INSERT INTO g VALUES (30, 10), (31, 12)")
        await sql(s, "UPDATE p SET id = 3 WHERE id = 2")
        assert await rows(s, "SELECT id, p_id FROM c ORDER BY id") == \
            [(10, 1), (11, 1), (12, 3)]
        assert await rows(s, "SELECT id, p_id FROM n ORDER BY id") == [(20, 1), (21, 0)]
        await sql(s, "DELETE FROM p WHERE id = 1")
        assert await rows(s, "SELECT id, p_id FROM c ORDER BY id") == [(12, 3)]
        assert await rows(s, "SELECT id, p_id FROM n ORDER BY id") == [(20, None), (21, 0)]
        assert await rows(s, "SELECT id FROM g ORDER BY id") == [(31,)]    # nested cascade
        await sql(s, "DELETE FROM p WHERE id = 0")
        assert await rows(s, "SELECT id, p_id FROM n ORDER BY id") == [(20, None), (21, None)]
    run(scenario)


def test_match_full_self_reference_and_unique_parent(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE pu (id int PRIMARY KEY, a int, b int, UNIQUE (a, b))")
        await sql(s, "CREATE TABLE cf (id int PRIMARY KEY, a int, b int, CONSTRAINT cf_ab "
                     "FOREIGN KEY (a, b) REFERENCES pu (a, b) MATCH FULL)")
        await sql(s, "INSERT INTO pu VALUES (1, 1, 2)")
        await sql(s, "INSERT INTO cf VALUES (1, 1, 2), (2, NULL, NULL)")
        e = await fails(s, "INSERT INTO cf VALUES (3, 1, NULL)", "23503")
        assert e.detail == "MATCH FULL does not allow mixing of null and nonnull key values."
        e = await fails(s, "INSERT INTO cf VALUES (4, 2, 2)", "23503", '"cf_ab"')
        assert e.detail == 'Key (a, b)=(2, 2) is not present in table "pu".'
        await sql(s, "CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree "
                     "ON DELETE CASCADE)")
        await sql(s, "INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 4)")
        await fails(s, "INSERT INTO tree VALUES (5, 9)", "23503")
        await sql(s, "DELETE FROM tree WHERE id = 1")
        assert await rows(s, "SELECT id FROM tree") == [(4,)]
    run(scenario)


def test_ddl_errors(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY, code text, v int)")
        await fails(s, "CREATE TABLE c (x int REFERENCES p (v))", "42830",
                    'there is no unique constraint matching given keys for referenced table '
                    '"p"')
        e = await fails(s, "CREATE TABLE c (x text REFERENCES p)", "42804",
                        'foreign key constraint "c_x_fkey" cannot be implemented')
        assert e.detail == ('Key columns "x" and "id" are of incompatible types: text and '
                            "integer.")
        await fails(s, "CREATE TABLE c (x int REFERENCES nope)", "42P01")
        await fails(s, "CREATE TABLE c (x int, FOREIGN KEY (y) REFERENCES p)", "42703")
        await sql(s, "CREATE TABLE c (x int REFERENCES p)")
        e = await fails(s, "DROP TABLE p", "2BP01",
                        "cannot drop table p because other objects depend on it")
        assert e.detail == "constraint c_x_fkey on table c depends on table p"
        await sql(s, "INSERT INTO p VALUES (1, 'a', 1)")
        await sql(s, "INSERT INTO c VALUES (1)")
        await sql(s, "DROP TABLE p CASCADE")
        await sql(s, "INSERT INTO c VALUES (2)")          # no constraint any more
        assert await rows(s, "SELECT count(*) FROM c") == [(2,)]
    run(scenario)


def test_add_constraint_not_valid_then_validate(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int)")
        await sql(s, "INSERT INTO p VALUES (1, 'a')")
        await sql(s, "INSERT INTO c VALUES (1, 1), (2, 2)")
        await fails(s, "ALTER TABLE c ADD CONSTRAINT c_fk FOREIGN KEY (p_id) REFERENCES p",
                    "0A000")
        await sql(s, "ALTER TABLE c ADD CONSTRAINT c_fk FOREIGN KEY (p_id) REFERENCES p "
                     "NOT VALID")
        await fails(s, "INSERT INTO c VALUES (3, 3)", "23503")   # new rows are checked
        job = (await rows(s, "ALTER TABLE ASYNC c VALIDATE CONSTRAINT c_fk"))[0][0]
        await sql(s, f"CALL sys.wait_for_job('{job}')")
        status = await rows(s, f"SELECT status, details FROM sys.jobs WHERE job_id = '{job}'")
        assert status[0][0] == "failed" and "c_fk" in status[0][1], status
        await sql(s, "DELETE FROM c WHERE id = 2")
        job = (await rows(s, "ALTER TABLE ASYNC c VALIDATE CONSTRAINT c_fk"))[0][0]
        await sql(s, f"CALL sys.wait_for_job('{job}')")
        assert await rows(s, f"SELECT status FROM sys.jobs WHERE job_id = '{job}'") == \
            [("completed",)]
        await sql(s, "ALTER TABLE c DROP CONSTRAINT c_fk")
        await sql(s, "INSERT INTO c VALUES (3, 3)")
    run(scenario)


def test_deferred_constraint_is_checked_at_commit(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p "
                     "DEFERRABLE INITIALLY DEFERRED)")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO c VALUES (1, 1)")         # parent comes later
        await sql(s, "INSERT INTO p VALUES (1, 'a')")
        await sql(s, "COMMIT")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO c VALUES (2, 2)")
        await fails(s, "COMMIT", "23503")
        assert await rows(s, "SELECT id FROM c") == [(1,)]
    run(scenario)


def test_parent_delete_racing_child_insert_one_commits(run):
    async def scenario(c):
        s1 = c.session()
        s2 = await another_compute_session(c)
        await sql(s1, PARENT)
        await sql(s1, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p)")
        for i in range(6):
            await sql(s1, f"INSERT INTO p VALUES ({i}, 'x')")
            await sql(s1, "BEGIN")
            await sql(s2, "BEGIN")
            await sql(s1, f"DELETE FROM p WHERE id = {i}")
            await sql(s2, f"INSERT INTO c VALUES ({i}, {i})")
            first, second = (s1, s2) if i % 2 else (s2, s1)
            await sql(first, "COMMIT")
            await fails(second, "COMMIT", "40001")
        orphans = await rows(s1, "SELECT count(*) FROM c WHERE p_id NOT IN (SELECT id FROM p)")
        assert orphans == [(0,)]
    run(scenario)


def test_catalog_shows_foreign_keys_as_postgresql(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE "
                     "CASCADE, q int, CONSTRAINT c_q FOREIGN KEY (q) REFERENCES p (id) "
                     "MATCH FULL ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED)")
        got = await rows(s, "SELECT conname, contype, confrelid::regclass::text, conkey, "
                            "confkey, confupdtype, confdeltype, confmatchtype, condeferrable, "
                            "condeferred, convalidated, pg_get_constraintdef(oid, true) "
                            "FROM pg_constraint WHERE conrelid = 'c'::regclass "
                            "AND contype = 'f' ORDER BY conname")
        assert got == [
            ("c_p_id_fkey", "f", "p", [2], [1], "a", "c", "s", False, False, True,
             "FOREIGN KEY (p_id) REFERENCES p(id) ON DELETE CASCADE"),
            ("c_q", "f", "p", [3], [1], "n", "a", "f", True, True, True,
             "FOREIGN KEY (q) REFERENCES p(id) MATCH FULL ON UPDATE SET NULL DEFERRABLE "
             "INITIALLY DEFERRED")]
        assert await rows(s, "SELECT constraint_name, unique_constraint_name, match_option, "
                             "update_rule, delete_rule FROM "
                             "information_schema.referential_constraints ORDER BY 1") == [
            ("c_p_id_fkey", "p_pkey", "NONE", "NO ACTION", "CASCADE"),
            ("c_q", "p_pkey", "FULL", "SET NULL", "NO ACTION")]
        assert await rows(s, "SELECT constraint_name, constraint_type, is_deferrable, "
                             "initially_deferred FROM information_schema.table_constraints "
                             "WHERE table_name = 'c' AND constraint_type = 'FOREIGN KEY' "
                             "ORDER BY 1") == [("c_p_id_fkey", "FOREIGN KEY", "NO", "NO"),
                                               ("c_q", "FOREIGN KEY", "YES", "YES")]
        assert await rows(s, "SELECT column_name, ordinal_position, "
                             "position_in_unique_constraint FROM "
                             "information_schema.key_column_usage WHERE constraint_name = "
                             "'c_p_id_fkey'") == [("p_id", 1, 1)]
        assert await rows(s, "SELECT table_name, column_name FROM "
                             "information_schema.constraint_column_usage WHERE "
                             "constraint_name = 'c_q'") == [("p", "id")]
    run(scenario)


#: what psql 15's \d sends for "Foreign-key constraints:" and "Referenced by:"
PSQL_FOREIGN_KEYS = """SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{oid}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname"""
PSQL_REFERENCED_BY = """SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{oid}')
                     UNION ALL VALUES ('{oid}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;"""


def test_psql_describe_queries(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE "
                     "CASCADE)")
        child = (await rows(s, "SELECT 'c'::regclass::oid"))[0][0]
        parent = (await rows(s, "SELECT 'p'::regclass::oid"))[0][0]
        assert await rows(s, "SELECT relhastriggers FROM pg_class WHERE relname IN "
                             "('p', 'c')") == [(True,), (True,)]
        assert await rows(s, PSQL_FOREIGN_KEYS.format(oid=child)) == [
            (True, "c_p_id_fkey", "FOREIGN KEY (p_id) REFERENCES p(id) ON DELETE CASCADE",
             "c")]
        assert await rows(s, PSQL_REFERENCED_BY.format(oid=parent)) == [
            ("c_p_id_fkey", "c", "FOREIGN KEY (p_id) REFERENCES p(id) ON DELETE CASCADE")]
    run(scenario)


def test_dropping_columns_and_tables_that_foreign_keys_use(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY, v int)")
        await sql(s, "CREATE TABLE nopk (a int)")
        await fails(s, "CREATE TABLE c2 (x int REFERENCES nopk)", "42704",
                    'there is no primary key for referenced table "nopk"')
        await fails(s, "CREATE TABLE c2 (x int, y int, FOREIGN KEY (x, y) REFERENCES p (id))",
                    "42830", "number of referencing and referenced columns for foreign key "
                             "disagree")
        await fails(s, "CREATE TABLE c2 (x int, y int, FOREIGN KEY (x) REFERENCES p ON DELETE "
                       "SET NULL (y))", "42P10")
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, a int REFERENCES p, b int)")
        await sql(s, "ALTER TABLE c ADD CONSTRAINT c_b FOREIGN KEY (b) REFERENCES p")  # empty
        e = await fails(s, "DROP TABLE p", "2BP01")
        assert e.detail == ("constraint c_a_fkey on table c depends on table p\n"
                            "constraint c_b on table c depends on table p")
        await sql(s, "ALTER TABLE c DROP COLUMN a")         # its constraint goes with it
        await sql(s, "INSERT INTO p VALUES (1, 1)")
        await sql(s, "INSERT INTO c VALUES (1, 1)")
        await fails(s, "INSERT INTO c VALUES (2, 2)", "23503", '"c_b"')
        assert await rows(s, "SELECT conname FROM pg_constraint WHERE contype = 'f'") == \
            [("c_b",)]
        await sql(s, "DROP TABLE c, p")                   # together: nothing depends
    run(scenario)


def test_for_key_share_holders_do_not_conflict_with_each_other(run):
    """FOR KEY SHARE holds rows shared: two holders both commit; a writer of the row
    racing a holder makes one side fail (40001), whichever commits first."""
    async def scenario(c):
        a, b = c.session(), c.session()
        await sql(a, PARENT)
        await sql(a, "INSERT INTO p VALUES (1, 'a')")
        for stmt in ("SELECT id FROM p WHERE id = 1 FOR KEY SHARE",
                     "SELECT p.id FROM p JOIN p q ON q.id = p.id WHERE p.id = 1 FOR KEY SHARE"):
            await sql(a, "BEGIN")
            await sql(b, "BEGIN")
            await sql(a, stmt)
            await sql(b, stmt)
            await sql(a, "COMMIT")
            await sql(b, "COMMIT")                  # sharers: both commit
            await sql(a, "BEGIN")
            await sql(b, "BEGIN")
            await sql(a, stmt)
            await sql(b, "UPDATE p SET name = 'b' WHERE id = 1")
            await sql(a, "COMMIT")
            await fails(b, "COMMIT", "40001")      # the writer started before the sharer
    run(scenario)


def test_on_conflict_index_lookup_and_not_null_set_null(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p "
                     "ON DELETE SET NULL, k int REFERENCES p ON DELETE CASCADE)")
        job = (await rows(s, "CREATE INDEX ASYNC c_k ON c (k)"))[0][0]
        await sql(s, f"CALL sys.wait_for_job('{job}')")
        await sql(s, "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        await sql(s, "INSERT INTO c VALUES (1, 1, 3), (2, 2, 3), (3, 2, NULL)")
        e = await fails(s, "INSERT INTO c VALUES (1, 1, 3) ON CONFLICT (id) DO UPDATE SET "
                           "k = 9", "23503")
        assert e.detail == 'Key (k)=(9) is not present in table "p".'
        await sql(s, "INSERT INTO c VALUES (1, 1, 3) ON CONFLICT (id) DO UPDATE SET k = 2")
        e = await fails(s, "DELETE FROM p WHERE id = 1", "23502",
                        'null value in column "p_id" of relation "c" violates not-null '
                        "constraint")
        await sql(s, "DELETE FROM p WHERE id = 3")        # children found through c_k
        assert await rows(s, "SELECT id, k FROM c ORDER BY id") == [(1, 2), (3, None)]
        assert await rows(s, "SELECT count(*) FROM c WHERE k = 3") == [(0,)]
    run(scenario)


def test_partial_indexes_are_not_what_a_foreign_key_relies_on(run):
    """A partial index has no entry for some rows: a cascade must not look for children
    through one (it would miss them), and it is no unique constraint to reference."""
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p "
                     "ON DELETE CASCADE, note text)")
        job = (await rows(s, "CREATE INDEX ASYNC c_noted ON c (p_id) WHERE note IS NOT NULL"))
        await sql(s, f"CALL sys.wait_for_job('{job[0][0]}')")
        await sql(s, "INSERT INTO p VALUES (1, 'a'), (2, 'b')")
        await sql(s, "INSERT INTO c VALUES (10, 1, 'x'), (11, 1, NULL), (12, 2, NULL)")
        await sql(s, "DELETE FROM p WHERE id = 1")
        assert await rows(s, "SELECT id FROM c ORDER BY id") == [(12,)]
        await sql(s, "CREATE TABLE q (id int PRIMARY KEY, code int)")
        job = (await rows(s, "CREATE UNIQUE INDEX ASYNC q_code ON q (code) WHERE id > 0"))
        await sql(s, f"CALL sys.wait_for_job('{job[0][0]}')")
        await fails(s, "CREATE TABLE r (id int PRIMARY KEY, code int REFERENCES q (code))",
                    "42830")
    run(scenario)


def test_a_cascade_is_bounded_by_the_transaction_row_limit(run_simple):
    """A cascade writes rows like any statement: past DSQL's 3,000 rows the delete fails
    with 54000 and nothing changes."""
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE "
                     "CASCADE)")
        await sql(s, "INSERT INTO p VALUES (1, 'a'), (2, 'b')")
        await sql(s, "INSERT INTO c SELECT g, 1 FROM generate_series(1, 2000) g")
        await sql(s, "INSERT INTO c SELECT g, 1 FROM generate_series(2001, 3000) g")
        await sql(s, "INSERT INTO c VALUES (3001, 2)")
        await fails(s, "DELETE FROM p WHERE id = 1", "54000", "transaction row limit exceeded")
        assert await rows(s, "SELECT count(*) FROM c") == [(3001,)]
        await sql(s, "DELETE FROM p WHERE id = 2")
        assert await rows(s, "SELECT count(*) FROM c") == [(3000,)]
    run_simple(scenario)


def test_child_inserts_share_the_parent_and_other_columns_may_change(run):
    """Children of one parent inserted at once both commit, and so does an update of the
    parent's other columns; a key update of the parent conflicts with them."""
    async def scenario(c):
        s1, s2, s3 = c.session(), c.session(), c.session()
        await sql(s1, PARENT)
        await sql(s1, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p "
                      "ON UPDATE CASCADE)")
        await sql(s1, "INSERT INTO p VALUES (1, 'a')")
        for s in (s1, s2, s3):
            await sql(s, "BEGIN")
        await sql(s1, "INSERT INTO c VALUES (1, 1)")
        await sql(s2, "INSERT INTO c VALUES (2, 1)")
        await sql(s3, "UPDATE p SET name = 'b' WHERE id = 1")
        for s in (s3, s1, s2):
            await sql(s, "COMMIT")
        await sql(s1, "BEGIN")
        await sql(s2, "BEGIN")
        await sql(s1, "INSERT INTO c VALUES (3, 1)")
        await sql(s2, "UPDATE p SET id = 5 WHERE id = 1")      # cascades to c 1 and 2
        await sql(s1, "COMMIT")
        await fails(s2, "COMMIT", "40001")
        assert await rows(s1, "SELECT id, p_id FROM c ORDER BY id") == \
            [(1, 1), (2, 1), (3, 1)]
        assert await rows(s1, "SELECT id, name FROM p") == [(1, "b")]
    run(scenario)


def test_set_constraints(run):
    async def scenario(c):
        s = c.session()
        await sql(s, PARENT)
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p DEFERRABLE, "
                     "q int REFERENCES p)")
        await sql(s, "SET CONSTRAINTS ALL DEFERRED")           # outside a block: a warning
        await sql(s, "BEGIN")
        await fails(s, "SET CONSTRAINTS nope IMMEDIATE", "42704",
                    'constraint "nope" does not exist')
        await sql(s, "ROLLBACK")
        await sql(s, "BEGIN")
        await fails(s, "SET CONSTRAINTS c_q_fkey DEFERRED", "42809",
                    'constraint "c_q_fkey" is not deferrable')
        await sql(s, "ROLLBACK")
        await sql(s, "BEGIN")
        await sql(s, "SET CONSTRAINTS ALL DEFERRED")
        await sql(s, "INSERT INTO c VALUES (1, 5, NULL)")      # put off
        await fails(s, "INSERT INTO c VALUES (2, NULL, 5)", "23503")   # not deferrable
        await sql(s, "ROLLBACK")
        await sql(s, "BEGIN")
        await sql(s, "SET CONSTRAINTS ALL DEFERRED")
        await sql(s, "INSERT INTO c VALUES (1, 5, NULL)")
        e = await fails(s, "SET CONSTRAINTS ALL IMMEDIATE", "23503")
        assert e.detail == 'Key (p_id)=(5) is not present in table "p".'
        await sql(s, "ROLLBACK")
        await sql(s, "BEGIN")
        await sql(s, "SET CONSTRAINTS c_p_id_fkey DEFERRED")
        await sql(s, "INSERT INTO c VALUES (1, 5, NULL)")
        await sql(s, "INSERT INTO p VALUES (5, 'e')")
        await sql(s, "SET CONSTRAINTS c_p_id_fkey IMMEDIATE")
        await sql(s, "COMMIT")
        assert await rows(s, "SELECT id, p_id FROM c") == [(1, 5)]
    run(scenario)


def test_renaming_columns_keeps_foreign_keys(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE p (id int PRIMARY KEY)")
        await sql(s, "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p, "
                     "up int REFERENCES c)")
        await sql(s, "ALTER TABLE p RENAME COLUMN id TO pid")
        await sql(s, "ALTER TABLE c RENAME COLUMN p_id TO parent")
        await sql(s, "ALTER TABLE c RENAME COLUMN id TO cid")
        await sql(s, "INSERT INTO p VALUES (1)")
        await sql(s, "INSERT INTO c VALUES (1, 1, NULL), (2, 1, 1)")
        e = await fails(s, "INSERT INTO c VALUES (3, 9, 1)", "23503")
        assert e.detail == 'Key (parent)=(9) is not present in table "p".'
        await fails(s, "INSERT INTO c VALUES (3, 1, 9)", "23503")
        assert await rows(s, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                             "contype = 'f' ORDER BY conname") == [
            ("FOREIGN KEY (parent) REFERENCES p(pid)",), ("FOREIGN KEY (up) REFERENCES c(cid)",)]
    run(scenario)
