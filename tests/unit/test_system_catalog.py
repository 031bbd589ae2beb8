"""pg_catalog / information_schema virtual tables, run through the real planner and engine
against an in-memory snapshot (no cluster)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from pglast import parse_sql

from dsql_ray.compute import types as T
from dsql_ray.compute.catalog import (ColumnDef, TableDef, table_key, table_to_row,
                                      tables_range)
from dsql_ray.compute.catalog import UnknownTable
from dsql_ray.compute.plan.select import plan_select
from dsql_ray.compute.system import CURRENT_SETTINGS
from dsql_ray.compute.system import tables as ST
from dsql_ray.errors import DsqlError

T1 = TableDef(1, "public", "t", (
    ColumnDef("id", T.INT4, True),
    ColumnDef("name", T.VARCHAR, True, "'x'::character varying", 24),
    ColumnDef("score", T.NUMERIC, False, None, ((10 << 16) | 2) + 4),
    ColumnDef("created", T.TIMESTAMPTZ, False, "now()")), (0,))
T2 = TableDef(2, "public", "u", (ColumnDef("a", T.INT8), ColumnDef("b", T.TEXT)), (),
              hidden_pk=True)
T3 = TableDef(3, "app", "orders", (ColumnDef("k1", T.TEXT, True), ColumnDef("k2", T.INT4, True),
                                    ColumnDef("v", T.JSONB)), (1, 0))


class FakeCatalog:
    def __init__(self, tables):
        self.tables = {(t.schema, t.name): t for t in tables}
        self.version = 1

    def resolve(self, rv):
        t = self.tables.get((rv.schemaname or "public", rv.relname))
        if t is None:
            raise UnknownTable(rv.relname)
        return t


class FakeTxn:
    def __init__(self, tables):
        self.rows = sorted((table_key(t.schema, t.name), table_to_row(t)) for t in tables)

    async def scan(self, low, high):
        if (low, high) != tables_range():
            return []        # other catalog rows (secondary indexes, jobs): none here
        return list(self.rows)


TABLES = [T1, T2, T3]


def run(sql: str, params=(), param_oids=(), tables=TABLES, settings=None):
    stmt = parse_sql(sql)[0].stmt
    catalog = FakeCatalog(tables)
    plan = plan_select(stmt, catalog, list(param_oids))
    session = SimpleNamespace(node=SimpleNamespace(catalog=catalog), interrupt=None,
                              settings=settings or {"search_path": "public"})
    CURRENT_SETTINGS.set(session.settings)
    return asyncio.run(plan.run(FakeTxn(tables), list(params), session))


def rows(sql, *a, **kw):
    return run(sql, *a, **kw).rows


def test_every_generator_matches_its_columns():
    snap = ST.Snapshot(TABLES, {"a": "b"})
    for key, sys in ST.SYSTEM.items():
        for r in sys.rows(snap):
            assert len(r) == len(sys.table.columns), key


def test_psql_dt():
    out = rows("""
SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;""")
    assert out == [("public", "t", "table", "admin"), ("public", "u", "table", "admin")]


PSQL_D = [
    """SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;""",
    """SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '16386';""",
    """SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16386' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;""",
    """SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '16386' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;""",
    """SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '16386' ORDER BY 1;""",
    """SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '16386'
ORDER BY nsp, stxname;""",
    """SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='16386' and pg_catalog.pg_relation_is_publishable('16386')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '16386'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('16386')
ORDER BY 1;""",
    """SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '16386'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;""",
    """SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '16386'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;""",
]


def test_psql_d_table():
    outs = [rows(q) for q in PSQL_D]
    assert outs[0] == [(16386, "public", "t")]
    assert outs[1][0][1] == "r" and outs[1][0][2] is True and outs[1][0][-1] == "heap"
    assert outs[2] == [
        ("id", "integer", None, True, None, "", ""),
        ("name", "character varying(20)", "'x'::character varying", True, None, "", ""),
        ("score", "numeric(10,2)", None, False, None, "", ""),
        ("created", "timestamp with time zone", "now()", False, None, "", "")]
    assert outs[3] == [("t_pkey", True, True, False, True,
                        "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
                        "PRIMARY KEY (id)", "p", False, False, False, 0)]
    assert all(o == [] for o in outs[4:])


SA_COLUMNS = """SELECT pg_catalog.pg_attribute.attname AS name, pg_catalog.format_type(pg_catalog.pg_attribute.atttypid, pg_catalog.pg_attribute.atttypmod) AS format_type, CASE WHEN pg_catalog.pg_attribute.atthasdef THEN (SELECT pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid) AS pg_get_expr_1
FROM pg_catalog.pg_attrdef
WHERE pg_catalog.pg_attribute.atthasdef AND pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attrdef.adnum = pg_catalog.pg_attribute.attnum) ELSE NULL END AS "default", pg_catalog.pg_attribute.attnotnull AS not_null, pg_catalog.pg_class.relname AS table_name, pg_catalog.pg_description.description AS comment, pg_catalog.pg_attribute.attgenerated AS generated, CASE WHEN (pg_catalog.pg_attribute.attidentity != $1::VARCHAR) THEN (SELECT json_build_object($2::VARCHAR, pg_catalog.pg_attribute.attidentity = $3::VARCHAR, $4::VARCHAR, pg_catalog.pg_sequence.seqstart, $5::VARCHAR, pg_catalog.pg_sequence.seqincrement, $6::VARCHAR, pg_catalog.pg_sequence.seqmin, $7::VARCHAR, pg_catalog.pg_sequence.seqmax, $8::VARCHAR, pg_catalog.pg_sequence.seqcache, $9::VARCHAR, pg_catalog.pg_sequence.seqcycle) AS json_build_object_1
FROM pg_catalog.pg_sequence
WHERE pg_catalog.pg_attribute.attidentity != $10::VARCHAR AND pg_catalog.pg_sequence.seqrelid = CAST(CAST(pg_catalog.pg_get_serial_sequence(CAST(CAST(pg_catalog.pg_attribute.attrelid AS REGCLASS) AS TEXT), pg_catalog.pg_attribute.attname) AS REGCLASS) AS OID)) ELSE NULL END AS identity_options, CASE WHEN (pg_catalog.pg_attribute.attcollation != $11::INTEGER AND (SELECT pg_catalog.pg_type.typcollation
FROM pg_catalog.pg_type
WHERE pg_catalog.pg_type.oid = pg_catalog.pg_attribute.atttypid) != pg_catalog.pg_attribute.attcollation) THEN (SELECT json_build_object($12::VARCHAR, pg_catalog.pg_collation.collname, $13::VARCHAR, CASE WHEN pg_catalog.pg_collation_is_visible(pg_catalog.pg_collation.oid) THEN NULL ELSE pg_catalog.pg_namespace.nspname END) AS json_build_object_9
FROM pg_catalog.pg_collation JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_collation.collnamespace
WHERE pg_catalog.pg_collation.oid = pg_catalog.pg_attribute.attcollation) ELSE NULL END AS collation
FROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_attribute ON pg_catalog.pg_class.oid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attribute.attnum > $14::SMALLINT AND NOT pg_catalog.pg_attribute.attisdropped LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_description.objsubid = pg_catalog.pg_attribute.attnum JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace
WHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$15::VARCHAR, $16::VARCHAR, $17::VARCHAR, $18::VARCHAR, $19::VARCHAR]) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != $20::VARCHAR AND pg_catalog.pg_class.relname IN ($21::VARCHAR) ORDER BY pg_catalog.pg_class.relname, pg_catalog.pg_attribute.attnum"""

SA_PK = """SELECT attr.conrelid, array_agg(CAST(attr.attname AS TEXT) ORDER BY attr.ord) AS cols, attr.conname, min(attr.description) AS description, min(attr.indnkeyatts) AS indnkeyatts, bool_and(attr.indnullsnotdistinct) AS indnullsnotdistinct
FROM (SELECT con.conrelid AS conrelid, con.conname AS conname, con.description AS description, con.ord AS ord, con.indnkeyatts AS indnkeyatts, con.indnullsnotdistinct AS indnullsnotdistinct, pg_catalog.pg_attribute.attname AS attname
FROM pg_catalog.pg_attribute JOIN (SELECT pg_catalog.pg_constraint.conrelid AS conrelid, pg_catalog.pg_constraint.conname AS conname, unnest(pg_catalog.pg_index.indkey) AS attnum, generate_subscripts(pg_catalog.pg_index.indkey, $1::INTEGER) AS ord, pg_catalog.pg_index.indnkeyatts AS indnkeyatts, pg_catalog.pg_index.indnullsnotdistinct AS indnullsnotdistinct, pg_catalog.pg_description.description AS description
FROM pg_catalog.pg_constraint JOIN pg_catalog.pg_index ON pg_catalog.pg_constraint.conindid = pg_catalog.pg_index.indexrelid LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_constraint.oid AND pg_catalog.pg_description.classoid = CAST($2 AS REGCLASS)
WHERE pg_catalog.pg_constraint.contype = $3::VARCHAR AND pg_catalog.pg_constraint.conrelid IN ($4)) AS con ON pg_catalog.pg_attribute.attnum = con.attnum AND pg_catalog.pg_attribute.attrelid = con.conrelid
WHERE con.conrelid IN ($4)) AS attr GROUP BY attr.conrelid, attr.conname ORDER BY attr.conrelid, attr.conname"""


def test_sqlalchemy_queries():
    params = ["", "always", "a", "start", "increment", "minvalue", "maxvalue", "cache",
              "cycle", "", 0, "name", "schema", 0, "r", "p", "f", "v", "m", "pg_catalog", "t"]
    out = rows(SA_COLUMNS, params)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in out] == [
        ("id", "integer", None, True, "t"),
        ("name", "character varying(20)", "'x'::character varying", True, "t"),
        ("score", "numeric(10,2)", None, False, "t"),
        ("created", "timestamp with time zone", "now()", False, "t")]
    out = rows(SA_PK, [1, "pg_catalog.pg_constraint", "p", 16386])
    assert out == [(16386, ["id"], "t_pkey", None, 1, False)]
    out = rows(SA_PK, [1, "pg_catalog.pg_constraint", "p", ST.table_oid(T3)])
    assert out == [(ST.table_oid(T3), ["k2", "k1"], "orders_pkey", None, 2, False)]


def test_information_schema():
    out = rows("SELECT column_name, data_type, is_nullable, column_default, ordinal_position, "
               "character_maximum_length, numeric_precision, numeric_scale "
               "FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
               ["t"])
    assert out == [("id", "integer", "NO", None, 1, None, 32, 0),
                   ("name", "character varying", "NO", "'x'::character varying", 2, 20, None, None),
                   ("score", "numeric", "YES", None, 3, None, 10, 2),
                   ("created", "timestamp with time zone", "YES", "now()", 4, None, None, None)]
    out = rows("SELECT table_schema, table_name, table_type FROM information_schema.tables "
               "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")
    assert out == [("app", "orders", "BASE TABLE"), ("public", "t", "BASE TABLE"),
                   ("public", "u", "BASE TABLE")]
    out = rows("SELECT tc.constraint_name, kcu.column_name, kcu.ordinal_position "
               "FROM information_schema.table_constraints tc JOIN "
               "information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
               "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = 'orders' "
               "ORDER BY 3")
    assert out == [("orders_pkey", "k2", 1), ("orders_pkey", "k1", 2)]
    assert ("app",) in rows("SELECT schema_name FROM information_schema.schemata")


def test_functions_and_casts():
    assert rows("SELECT 't'::regclass, 'app.orders'::regclass::oid, "
                "format_type(1043, 24), format_type(23, NULL), "
                "pg_catalog.current_schemas(true), to_regclass('nope'), "
                "has_table_privilege('t', 'SELECT'), obj_description(16386, 'pg_class'), "
                "current_setting('search_path'), 16386::regclass::text, "
                "'int4'::regtype::oid, 23::regtype") == [
        (16386, ST.table_oid(T3), "character varying(20)", "integer",
         ["pg_catalog", "public"], None, True, None, "public", "t", 23, "integer")]
    with pytest.raises(DsqlError) as e:
        rows("SELECT 'nope'::regclass")
    assert e.value.sqlstate == "42P01"
    assert rows("SELECT current_setting('TimeZone')", settings={"TimeZone": "Europe/Paris"}) \
        == [("Europe/Paris",)]


def test_pg_type_and_settings():
    out = rows("SELECT oid, typname, typlen, typcategory, typarray FROM pg_type "
               "WHERE typname IN ('int4', '_int4', 'varchar') ORDER BY oid")
    assert out == [(23, "int4", 4, "N", 1007), (1007, "_int4", -1, "A", 0),
                   (1043, "varchar", -1, "S", 1015)]
    assert rows("SELECT setting FROM pg_settings WHERE name = 'search_path'") == [("public",)]
    assert rows("SELECT datname FROM pg_database") == [("postgres",)]
    assert rows("SELECT rolname FROM pg_roles") == [("admin",)]
    assert rows("SELECT usename FROM pg_user") == [("admin",)]
    assert rows("SELECT count(*) FROM pg_description") == [(0,)]
    assert rows("SELECT nspname FROM pg_namespace ORDER BY 1") == [
        ("app",), ("information_schema",), ("pg_catalog",), ("public",)]


def test_user_table_named_like_catalog_is_still_readable():
    assert rows("SELECT relname FROM pg_class WHERE relname = 'orders'") == [("orders",)]
    assert rows("SELECT indexrelid FROM pg_index", tables=[]) == []
