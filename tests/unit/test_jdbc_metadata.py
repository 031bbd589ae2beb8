"""The catalog queries pgjdbc 42.5.5's DatabaseMetaData sends (what DBeaver, DataGrip,
Flyway and Liquibase read the schema with), copied from PgDatabaseMetaData.java as the
driver builds them for a schema/table pattern on a PostgreSQL 16 server with
standard_conforming_strings off (E'' literals). Expected rows are what PostgreSQL 16
returns for the same tables (checked against a real server), run here in process."""
from __future__ import annotations

from dsql_ray.compute.query import sqltypes as S

from .test_system_catalog import T3, rows, run

GET_TABLES = "SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND c.relname LIKE {t} AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ) )  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME "

GET_COLUMNS = "SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND c.relname LIKE {t}) c WHERE true  ORDER BY nspname,c.relname,attnum "

GET_PRIMARY_KEYS = 'SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,        result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND ct.relname = {t} AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq'

GET_INDEX_INFO = 'SELECT     tmp.TABLE_CAT,     tmp.TABLE_SCHEM,     tmp.TABLE_NAME,     tmp.NON_UNIQUE,     tmp.INDEX_QUALIFIER,     tmp.INDEX_NAME,     tmp.TYPE,     tmp.ORDINAL_POSITION,     trim(both \'"\' from pg_catalog.pg_get_indexdef(tmp.CI_OID, tmp.ORDINAL_POSITION, false)) AS COLUMN_NAME,   CASE tmp.AM_NAME     WHEN \'btree\' THEN CASE tmp.I_INDOPTION[tmp.ORDINAL_POSITION - 1] & 1::smallint       WHEN 1 THEN \'D\'       ELSE \'A\'     END     ELSE NULL   END AS ASC_OR_DESC,     tmp.CARDINALITY,     tmp.PAGES,     tmp.FILTER_CONDITION FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN 1    ELSE CASE am.amname       WHEN \'hash\' THEN 2      ELSE 3    END   END AS TYPE,   (information_schema._pg_expandarray(i.indkey)).n AS ORDINAL_POSITION,   ci.reltuples AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS FILTER_CONDITION,   ci.oid AS CI_OID,   i.indoption AS I_INDOPTION,   am.amname AS AM_NAME FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) WHERE true  AND ct.relname = {t}) AS tmp ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION '

GET_IMPORTED_KEYS = "SELECT NULL::text AS PKTABLE_CAT, pkn.nspname AS PKTABLE_SCHEM, pkc.relname AS PKTABLE_NAME, pka.attname AS PKCOLUMN_NAME, NULL::text AS FKTABLE_CAT, fkn.nspname AS FKTABLE_SCHEM, fkc.relname AS FKTABLE_NAME, fka.attname AS FKCOLUMN_NAME, pos.n AS KEY_SEQ, CASE con.confupdtype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS UPDATE_RULE, CASE con.confdeltype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS DELETE_RULE, con.conname AS FK_NAME, pkic.relname AS PK_NAME, CASE  WHEN con.condeferrable AND con.condeferred THEN 5 WHEN con.condeferrable THEN 6 ELSE 7 END AS DEFERRABILITY  FROM  pg_catalog.pg_namespace pkn, pg_catalog.pg_class pkc, pg_catalog.pg_attribute pka,  pg_catalog.pg_namespace fkn, pg_catalog.pg_class fkc, pg_catalog.pg_attribute fka,  pg_catalog.pg_constraint con,  pg_catalog.generate_series(1, 32) pos(n),  pg_catalog.pg_class pkic WHERE pkn.oid = pkc.relnamespace AND pkc.oid = pka.attrelid AND pka.attnum = con.confkey[pos.n] AND con.confrelid = pkc.oid  AND fkn.oid = fkc.relnamespace AND fkc.oid = fka.attrelid AND fka.attnum = con.conkey[pos.n] AND con.conrelid = fkc.oid  AND con.contype = 'f' AND (pkic.relkind = 'i' OR pkic.relkind = 'I') AND pkic.oid = con.conindid  AND fkc.relname = {t} ORDER BY pkn.nspname,pkc.relname, con.conname,pos.n"



def test_get_tables():
    assert rows(GET_TABLES.format(t="E't'")) == [
        (None, "public", "t", "TABLE", None, "", "", "", "", "")]
    assert rows(GET_TABLES.format(t="E'%'")) == [
        (None, "app", "orders", "TABLE", None, "", "", "", "", ""),
        (None, "public", "t", "TABLE", None, "", "", "", "", ""),
        (None, "public", "u", "TABLE", None, "", "", "", "", "")]


def test_get_columns():
    assert rows(GET_COLUMNS.format(t="E't'")) == [
        ("public", "t", "id", 23, True, -1, 4, -1, 1, None, None, None, None, 0, "b"),
        ("public", "t", "name", 1043, True, 24, -1, -1, 2, None, None,
         "'x'::character varying", None, 0, "b"),
        ("public", "t", "score", 1700, False, 655366, -1, -1, 3, None, None, None, None, 0, "b"),
        ("public", "t", "created", 1184, False, -1, 8, -1, 4, None, None, "now()", None, 0,
         "b")]


def test_get_primary_keys():
    assert rows(GET_PRIMARY_KEYS.format(t="E't'")) == [(None, "public", "t", "id", 1, "t_pkey")]
    # a two-column key declared (k2, k1): KEY_SEQ follows the key, not the column order
    assert rows(GET_PRIMARY_KEYS.format(t="E'orders'")) == [
        (None, "app", "orders", "k2", 1, "orders_pkey"),
        (None, "app", "orders", "k1", 2, "orders_pkey")]
    assert rows(GET_PRIMARY_KEYS.format(t="E'u'")) == []      # no declared primary key


def test_get_index_info():
    got = rows(GET_INDEX_INFO.format(t="E'orders'"))
    # (CARDINALITY and PAGES are statistics: PostgreSQL shows 0.0 and 1 for a fresh index)
    assert [r[:10] + r[12:] for r in got] == [
        (None, "app", "orders", False, None, "orders_pkey", 3, 1, "k2", "A", None),
        (None, "app", "orders", False, None, "orders_pkey", 3, 2, "k1", "A", None)]


def test_get_imported_keys_is_empty():
    assert rows(GET_IMPORTED_KEYS.format(t="E't'")) == []     # DSQL has no foreign keys


def test_pg_expandarray_composite():
    assert rows("SELECT information_schema._pg_expandarray(ARRAY[5, 7])") == [((5, 1),), ((7, 2),)]
    assert rows("SELECT (information_schema._pg_expandarray(ARRAY['a', 'b'])).x, "
                "(information_schema._pg_expandarray(ARRAY['a', 'b'])).n") == [("a", 1), ("b", 2)]
    assert rows("SELECT (k).n * 10, (k).x FROM (SELECT information_schema._pg_expandarray("
                "ARRAY[4, 6]) AS k) s WHERE (s.k).x > 4") == [(20, 6)]
    # indkey is an int2vector: its subscripts start at 0, as in PostgreSQL
    assert rows("SELECT i.indkey[0], i.indkey[1], i.indkey[2] FROM pg_catalog.pg_index i "
                "JOIN pg_catalog.pg_class c ON c.oid = i.indrelid WHERE c.relname = 'orders'") \
        == [(2, 1, None)]
    assert T3.pk == (1, 0)


def test_a_composite_reaches_the_client_as_a_record():
    res = run("SELECT information_schema._pg_expandarray(ARRAY['a b', NULL]) AS k")
    assert [(c.name, c.type_oid) for c in res.columns] == [("k", 2249)]
    assert [S.to_text(r[0]) for r in res.rows] == ['("a b",1)', "(,2)"]
