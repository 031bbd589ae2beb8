"""Virtual pg_catalog / information_schema relations, generated from the table catalog.

Each relation is a :class:`TableDef` with a negative ``table_id`` (never a storage key)
and a row generator over the user tables of the statement's snapshot. OIDs are stable:
user table ``t`` is ``16384 + 2 * t.table_id``, its primary-key index (and constraint)
the next number; system relations get fixed numbers below 16384.
"""
from __future__ import annotations

import re
import zlib
from typing import Callable, Iterable

from .. import types as T
from ..catalog import ColumnDef, TableDef
from ..constraints import column_refs, parse_expr
from ..jobs import update_time
from ..query import sqltypes as S

OWNER_OID, OWNER = 10, "admin"
DATABASE = "postgres"
PG_CATALOG_NS, PUBLIC_NS, INFO_SCHEMA_NS = 11, 2200, 13000
HEAP_AM, BTREE_AM = 2, 403
DEFAULT_COLLATION = 100
FIRST_USER_OID = 16384
NAME, CHAR, REGCLASS, REGTYPE, REGPROC, INT2VECTOR, OIDVECTOR, RECORD, VOID = (
    19, 18, 2205, 2206, 24, 22, 30, 2249, 2278)
INT2_ARRAY, INT8_ARRAY, TEXT_ARRAY, OID_ARRAY = 1005, 1016, 1009, 1028

#: column type letters used in the compact definitions below
_TYPES = {"o": T.OID, "n": T.TEXT, "c": T.TEXT, "t": T.TEXT, "b": T.BOOL, "i2": T.INT2,
          "i4": T.INT4, "i8": T.INT8, "f4": T.FLOAT4, "ai2": INT2_ARRAY, "ao": OID_ARRAY,
          "at": TEXT_ARRAY, "tz": T.TIMESTAMPTZ, "v2": INT2VECTOR, "vo": OIDVECTOR}


def table_oid(t: TableDef) -> int:
    return table_id_oid(t.table_id)


def table_id_oid(table_id: int) -> int:
    if table_id < 0:
        return 5000 - table_id
    return FIRST_USER_OID + 2 * table_id


def index_oid(t: TableDef) -> int:
    return table_oid(t) + 1


def schema_oid(name: str) -> int:
    fixed = {"pg_catalog": PG_CATALOG_NS, "public": PUBLIC_NS,
             "information_schema": INFO_SCHEMA_NS}
    if name in fixed:
        return fixed[name]
    return 1_000_000 + zlib.crc32(name.encode()) % 1_000_000_000


def pk_name(t: TableDef) -> str:
    return f"{t.name}_pkey"


# -- built-in types ---------------------------------------------------------------------------
# oid: (typname, typlen, typcategory, collatable)
_BASE_TYPES = {
    T.BOOL: ("bool", 1, "B", False), T.BYTEA: ("bytea", -1, "U", False),
    T.INT8: ("int8", 8, "N", False), T.INT2: ("int2", 2, "N", False),
    T.INT4: ("int4", 4, "N", False), T.TEXT: ("text", -1, "S", True),
    T.OID: ("oid", 4, "N", False), T.FLOAT4: ("float4", 4, "N", False),
    T.FLOAT8: ("float8", 8, "N", False), T.UNKNOWN: ("unknown", -2, "X", False),
    T.BPCHAR: ("bpchar", -1, "S", True), T.VARCHAR: ("varchar", -1, "S", True),
    T.DATE: ("date", 4, "D", False), T.TIME: ("time", 8, "D", False),
    T.TIMESTAMP: ("timestamp", 8, "D", False), T.TIMESTAMPTZ: ("timestamptz", 8, "D", False),
    T.TIMETZ: ("timetz", 12, "D", False),
    T.INTERVAL: ("interval", 16, "T", False), T.NUMERIC: ("numeric", -1, "N", False),
    T.UUID: ("uuid", 16, "U", False), T.JSON: ("json", -1, "U", False),
    T.JSONB: ("jsonb", -1, "U", False), NAME: ("name", 64, "S", False),
    CHAR: ('char', 1, "Z", False), REGCLASS: ("regclass", 4, "N", False),
    REGTYPE: ("regtype", 4, "N", False), REGPROC: ("regproc", 4, "N", False),
    INT2VECTOR: ("int2vector", -1, "A", False), OIDVECTOR: ("oidvector", -1, "A", False),
    RECORD: ("record", -1, "P", False), VOID: ("void", 4, "P", False),
}
_EXTRA_ARRAYS = {T.BYTEA: 1001, T.OID: 1028, T.BPCHAR: 1014, T.TIME: 1183, T.INTERVAL: 1187,
                 T.UUID: 2951, T.JSON: 199, T.JSONB: 3807, NAME: 1003, CHAR: 1002,
                 REGCLASS: 2210, REGTYPE: 2211}
ARRAY_TYPES: dict[int, int] = {**S.ARRAY_OF, **_EXTRA_ARRAYS}     # element → array
ELEMENT_OF: dict[int, int] = {a: e for e, a in ARRAY_TYPES.items()}
S.CATALOG_ARRAYS.update({1003: T.TEXT, 1002: T.TEXT, 2210: T.INT8, 2211: T.INT8})

#: format_type names of the base types (OID_TO_NAME covers the engine's)
_DISPLAY = {**T.OID_TO_NAME, NAME: "name", CHAR: '"char"', REGCLASS: "regclass",
            REGTYPE: "regtype", REGPROC: "regproc", INT2VECTOR: "int2vector",
            OIDVECTOR: "oidvector", RECORD: "record", VOID: "void"}


def type_name_of(oid: int) -> str | None:
    if oid in _BASE_TYPES:
        return _BASE_TYPES[oid][0]
    if oid in ELEMENT_OF and ELEMENT_OF[oid] in _BASE_TYPES:
        return "_" + _BASE_TYPES[ELEMENT_OF[oid]][0]
    return None


def format_type(oid: int | None, typmod: int | None = -1) -> str | None:
    """PostgreSQL's format_type(oid, typmod)."""
    if oid is None:
        return None
    if oid in ELEMENT_OF:
        inner = format_type(ELEMENT_OF[oid], typmod)
        return inner + "[]"
    name = _DISPLAY.get(oid)
    if name is None:
        return "???"
    mod = -1 if typmod is None else typmod
    if mod >= 0:
        if oid in (T.VARCHAR, T.BPCHAR) and mod >= 4:
            return f"{name}({mod - 4})"
        if oid == T.NUMERIC and mod >= 4:
            p, s = ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
            return f"numeric({p},{s})"
        if oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME):
            base, _, rest = name.partition(" ")
            return f"{base}({mod}) {rest}".strip()
    return name


def char_max_length(c: ColumnDef) -> int | None:
    if c.type_oid in (T.VARCHAR, T.BPCHAR) and c.type_modifier >= 4:
        return c.type_modifier - 4
    if c.type_oid == T.BPCHAR:
        return 1
    return None


def numeric_precision(c: ColumnDef) -> tuple[int | None, int | None, int | None]:
    """(numeric_precision, radix, scale) as information_schema.columns reports them."""
    bits = {T.INT2: 16, T.INT4: 32, T.INT8: 64, T.FLOAT4: 24, T.FLOAT8: 53}
    if c.type_oid in bits:
        return bits[c.type_oid], 2, (0 if c.type_oid in S.INTS else None)
    if c.type_oid == T.NUMERIC:
        if c.type_modifier >= 4:
            m = c.type_modifier - 4
            return (m >> 16) & 0xFFFF, 10, m & 0xFFFF
        return None, 10, None
    return None, None, None


def type_len(oid: int) -> int:
    if oid in _BASE_TYPES:
        return _BASE_TYPES[oid][1]
    return -1


def collation_of(oid: int) -> int:
    return DEFAULT_COLLATION if oid in (T.TEXT, T.VARCHAR, T.BPCHAR) else 0


# -- relation definitions -------------------------------------------------------------------
class SysTable:
    def __init__(self, schema: str, name: str, spec: str, rows=None, table_id: int = 0):
        cols = []
        for item in spec.split():
            cname, _, kind = item.partition(":")
            cols.append(ColumnDef(cname, _TYPES[kind]))
        self.table = TableDef(table_id, schema, name, tuple(cols), ())
        self.rows: Callable[["Snapshot"], Iterable[tuple]] = rows or (lambda snap: ())


class Snapshot:
    """What the row generators read: the user tables and the session's settings."""

    indexes: tuple = ()         # secondary IndexDefs (compute/indexes.py)
    domains: tuple = ()         # CREATE DOMAIN's DomainDefs (compute/userdefs.py)
    functions: tuple = ()       # CREATE FUNCTION's FunctionDefs (compute/userdefs.py)
    jobs: tuple = ()            # compute/jobs.py's Jobs, oldest first

    def __init__(self, tables: list[TableDef], settings: dict[str, str], user: str = OWNER,
                 schemas: Iterable[str] = ()):
        self.tables = sorted(tables, key=lambda t: (t.schema, t.name))
        self.settings = settings
        self.user = user
        self._schemas = set(schemas)     # CREATE SCHEMA'd, empty ones included

    @property
    def schemas(self) -> list[str]:
        return sorted({"public"} | self._schemas | {t.schema for t in self.tables})

    def all_relations(self) -> list[TableDef]:
        return [s.table for s in SYSTEM.values() if s.table.schema != "sys"] + self.tables


def _namespaces(snap):
    yield PG_CATALOG_NS, "pg_catalog", OWNER_OID, None
    yield INFO_SCHEMA_NS, "information_schema", OWNER_OID, None
    for s in snap.schemas:
        yield schema_oid(s), s, OWNER_OID, None


def _class(snap):
    triggers = _with_foreign_keys(snap)        # PostgreSQL enforces them with triggers
    for t in snap.all_relations():
        user = t.table_id >= 0
        has_pk = user and bool(t.pk) and not t.hidden_pk
        kind, checks = (t.kind, len(t.checks)) if user else ("r", 0)   # r table, v view, S seq
        # oid relname relnamespace reltype reloftype relowner relam relfilenode
        # reltablespace relpages reltuples relallvisible reltoastrelid relhasindex
        # relisshared relpersistence relkind relnatts relchecks relhasrules relhastriggers
        # relhassubclass relrowsecurity relforcerowsecurity relispopulated relreplident
        # relispartition relrewrite relfrozenxid relminmxid relacl reloptions relpartbound
        yield (table_oid(t), t.name, schema_oid(t.schema), 0, 0, OWNER_OID, HEAP_AM,
               table_oid(t), 0, 0, -1.0, 0, 0, has_pk, False, "p", kind, len(t.columns), checks,
               False, user and t.table_id in triggers, False, False, False, True, "d", False,
               0, 0, 0, None, None, None)
        if has_pk:
            yield (index_oid(t), pk_name(t), schema_oid(t.schema), 0, 0, OWNER_OID, BTREE_AM,
                   index_oid(t), 0, 0, -1.0, 0, 0, False, False, "p", "i", len(t.pk), 0,
                   False, False, False, False, False, True, "n", False, 0, 0, 0, None, None,
                   None)
    yield from _secondary_class(snap)          # secondary indexes (compute/indexes.py)


def _attribute(snap):
    for t in snap.all_relations():
        rel = table_oid(t)
        for i, c in enumerate(t.columns, 1):
            # attrelid attname atttypid attlen attnum attcacheoff atttypmod attndims
            # attbyval attalign attstorage attcompression attnotnull atthasdef
            # atthasmissing attidentity attgenerated attisdropped attislocal attinhcount
            # attstattarget attcollation attacl attoptions attfdwoptions attmissingval
            yield (rel, c.name, c.domain[1] if c.domain else c.type_oid,
                   type_len(c.type_oid), i, -1, c.type_modifier,
                   1 if c.type_oid in ELEMENT_OF else 0, type_len(c.type_oid) in (1, 2, 4, 8),
                   "i", "p", "", c.not_null, c.default_sql is not None and not c.identity,
                   False, c.identity, "", False,
                   True, 0, -1, collation_of(c.type_oid), None, None, None, None)
        if t.table_id >= 0 and t.pk and not t.hidden_pk:
            for i, p in enumerate(t.pk, 1):
                c = t.columns[p]
                yield (index_oid(t), c.name, c.type_oid, type_len(c.type_oid), i, -1,
                       c.type_modifier, 0, type_len(c.type_oid) in (1, 2, 4, 8), "i", "p", "",
                       False, False, False, "", "", False, True, 0, -1,
                       collation_of(c.type_oid), None, None, None, None)
    yield from _index_attributes(snap)


def _index_attributes(snap):
    """A secondary index's columns (psql's ``\\d index``): an expression key is named as
    PostgreSQL names it (the function's name, else ``expr``, numbered when repeated)."""
    for t, d in _secondaries(snap):
        keys, include = d.positions(t)
        exprs = d.exprs or (None,) * len(keys)
        taken: set[str] = set()
        for i, p in enumerate((*keys, *include), 1):
            e = exprs[i - 1] if i <= len(keys) else None
            oid = d.key_type(t, i - 1) if i <= len(keys) else t.columns[p].type_oid
            name = t.columns[p].name if p >= 0 else _expr_column_name(e, taken)
            taken.add(name)
            yield (secondary_index_oid(d), name, oid, type_len(oid), i, -1,
                   t.columns[p].type_modifier if p >= 0 else -1, 0,
                   type_len(oid) in (1, 2, 4, 8), "i", "p", "", False, False, False, "", "",
                   False, True, 0, -1, collation_of(oid), None, None, None, None)


def _expr_column_name(sql: str, taken: set[str]) -> str:
    node = parse_expr(sql)
    base = node.funcname[-1].sval if hasattr(node, "funcname") else "expr"
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


def _types(snap):
    for oid, (name, length, cat, coll) in _BASE_TYPES.items():
        # oid typname typnamespace typowner typlen typbyval typtype typcategory
        # typispreferred typisdefined typdelim typrelid typsubscript typelem typarray
        # typinput typoutput typreceive typsend typalign typstorage typnotnull
        # typbasetype typtypmod typndims typcollation typdefault typacl
        yield (oid, name, PG_CATALOG_NS, OWNER_OID, length, length in (1, 2, 4, 8),
               "p" if cat == "P" else "b", cat, oid in (T.TEXT, T.FLOAT8, T.TIMESTAMPTZ, T.BOOL),
               True, ",", 0, None, 0, ARRAY_TYPES.get(oid, 0), name + "in", name + "out",
               name + "recv", name + "send", "i", "p", False, 0, -1, 0,
               DEFAULT_COLLATION if coll else 0, None, None)
    yield from _domain_types(snap)
    for elem, arr in ARRAY_TYPES.items():
        if elem not in _BASE_TYPES:
            continue
        _, _, _, coll = _BASE_TYPES[elem]
        yield (arr, "_" + _BASE_TYPES[elem][0], PG_CATALOG_NS, OWNER_OID, -1, False, "b",
               "A", False, True, ",", 0, "array_subscript_handler", elem, 0, "array_in",
               "array_out", "array_recv", "array_send", "i", "x", False, 0, -1, 0,
               DEFAULT_COLLATION if coll else 0, None, None)


def _domain_types(snap):
    """CREATE DOMAIN's types: typtype 'd', their base type and typmod, NOT NULL, default."""
    for d in snap.domains:
        base = _BASE_TYPES.get(d.base_oid, ("", -1, "U", False))
        yield (d.oid, d.name, schema_oid(d.schema), OWNER_OID, base[1],
               base[1] in (1, 2, 4, 8), "d", base[2], False, True, ",", 0, None, 0, 0,
               "domain_in", _DISPLAY.get(d.base_oid, "") + "out", "domain_recv",
               _DISPLAY.get(d.base_oid, "") + "send", "i", "p", d.not_null, d.base_oid,
               d.typmod, 0, DEFAULT_COLLATION if base[3] else 0, d.default_sql, None)


SQL_LANGUAGE = 14


def _procs(snap):
    """CREATE FUNCTION … LANGUAGE sql's functions (the built-in library is not listed)."""
    for f in snap.functions:
        yield (f.oid, f.name, schema_oid(f.schema), OWNER_OID, SQL_LANGUAGE, "f", f.ret_oid,
               list(f.arg_oids), False, f.volatility, f.strict, len(f.arg_oids),
               sum(d is not None for d in f.arg_defaults),
               [n or "" for n in f.arg_names] if any(f.arg_names) else None, f.source)


def _languages(snap):
    """internal, C and SQL: the languages this server has (no plpgsql)."""
    yield 12, "internal", OWNER_OID, False, False, 0, 0, 2246, None
    yield 13, "c", OWNER_OID, False, False, 0, 0, 2247, None
    yield SQL_LANGUAGE, "sql", OWNER_OID, False, True, 0, 0, 2248, None


def function_arguments(f) -> str:
    """pg_get_function_arguments: ``a integer, b text DEFAULT 'x'::text``."""
    out = []
    for n, o, d in zip(f.arg_names, f.arg_oids, f.arg_defaults):
        text = f"{n} {format_type(o)}" if n else format_type(o)
        out.append(text if d is None else f"{text} DEFAULT {d}")
    return ", ".join(out)


def _user_tables_with_pk(snap):
    return [t for t in snap.tables if t.pk and not t.hidden_pk]


def _index(snap):
    for t in _user_tables_with_pk(snap):
        keys = [p + 1 for p in t.pk]
        # indexrelid indrelid indnatts indnkeyatts indisunique indnullsnotdistinct
        # indisprimary indisexclusion indimmediate indisclustered indisvalid indcheckxmin
        # indisready indislive indisreplident indkey indcollation indclass indoption
        # indexprs indpred
        yield (index_oid(t), table_oid(t), len(keys), len(keys), True, False, True, False,
               True, False, True, False, True, True, False, keys,
               [collation_of(t.columns[p].type_oid) for p in t.pk],
               [opclass_of(t.columns[p].type_oid) for p in t.pk],
               [0] * len(keys), None, None)
    yield from _secondary_index(snap)


def _constraint(snap):
    for t in _user_tables_with_pk(snap):
        # oid conname connamespace contype condeferrable condeferred convalidated
        # conrelid contypid conindid conparentid confrelid confupdtype confdeltype
        # confmatchtype conislocal coninhcount connoinherit conkey confkey conpfeqop
        # conppeqop conffeqop confdelsetcols conexclop conbin
        yield (index_oid(t), pk_name(t), schema_oid(t.schema), "p", False, False, True,
               table_oid(t), 0, index_oid(t), 0, 0, " ", " ", " ", True, 0, True,
               [p + 1 for p in t.pk], None, None, None, None, None, None, None)
    for t, d in _secondaries(snap):            # UNIQUE constraints are unique indexes
        if d.constraint:
            yield (secondary_index_oid(d), d.name, schema_oid(t.schema), "u", False, False,
                   True, table_oid(t), 0, secondary_index_oid(d), 0, 0, " ", " ", " ", True,
                   0, True, [p + 1 for p in d.positions(t)[0]], None, None, None, None, None,
                   None, None)
    for t, i, k in _checks(snap):
        yield (check_oid(t, i), k.name, schema_oid(t.schema), "c", False, False, k.validated,
               table_oid(t), 0, 0, 0, 0, " ", " ", " ", True, 0, False,
               _check_columns(t, k), None, None, None, None, None, None, k.expr_sql)
    for t, i, k, parent in foreign_keys(snap):
        yield (fk_oid(t, i), k.name, schema_oid(t.schema), "f", k.deferrable, k.deferred,
               k.validated, table_oid(t), 0, _referenced_index(snap, parent, k), 0,
               table_oid(parent), k.on_update, k.on_delete, k.match, True, 0, True,
               _attnums(t, k.columns), _attnums(parent, k.ref_columns), None, None, None,
               _attnums(t, k.delete_set) or None, None, None)
    yield from _domain_checks(snap)


# -- FOREIGN KEY constraints (compute/ddl/references.py, compute/fkeys.py) -------------------
FK_OID_OFFSET = 800            # fk_oid: table oid * 1000 + 800 + i (CHECKs use 500 + i)
_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
          "d": "SET DEFAULT"}


def fk_oid(t: TableDef, i: int) -> int:
    return table_oid(t) * 1000 + FK_OID_OFFSET + i


def foreign_keys(snap):
    """(table, position, ForeignKeyDef, parent) of every foreign key whose parent is known."""
    by_id = {t.table_id: t for t in snap.tables}
    for t in snap.tables:
        for i, k in enumerate(t.fkeys):
            parent = by_id.get(k.ref_id)
            if parent is not None:
                yield t, i, k, parent


def _with_foreign_keys(snap) -> set[int]:
    out: set[int] = set()
    for t in snap.tables:
        if t.fkeys:
            out.add(t.table_id)
            out.update(k.ref_id for k in t.fkeys)
    return out


def _attnums(t: TableDef, names) -> list[int]:
    return [t.column_names.index(n) + 1 for n in names if n in t.column_names]


def _referenced_constraint(snap, parent: TableDef, k):
    """The parent's primary key or UNIQUE index the foreign key relies on: (oid, name)."""
    pk = [parent.columns[p].name for p in parent.pk]
    if not parent.hidden_pk and sorted(pk) == sorted(k.ref_columns):
        return index_oid(parent), pk_name(parent)
    for t, d in _secondaries(snap):
        if t.table_id == parent.table_id and d.unique and d.whole and \
                sorted(d.key_names(t)) == sorted(k.ref_columns):
            return secondary_index_oid(d), d.name
    return 0, None


def _referenced_index(snap, parent: TableDef, k) -> int:
    return _referenced_constraint(snap, parent, k)[0]


def fk_def(k, parent: TableDef) -> str:
    """pg_get_constraintdef of a foreign key, as PostgreSQL prints it."""
    ref = _quote(parent.name) if parent.schema == "public" else \
        f"{_quote(parent.schema)}.{_quote(parent.name)}"
    out = (f"FOREIGN KEY ({', '.join(map(_quote, k.columns))}) REFERENCES {ref}"
           f"({', '.join(map(_quote, k.ref_columns))})")
    if k.match == "f":
        out += " MATCH FULL"
    if k.on_update != "a":
        out += f" ON UPDATE {_RULES[k.on_update]}"
    if k.on_delete != "a":
        out += f" ON DELETE {_RULES[k.on_delete]}"
        if k.delete_set:
            out += f" ({', '.join(map(_quote, k.delete_set))})"
    if k.deferrable:
        out += " DEFERRABLE"
    if k.deferred:
        out += " INITIALLY DEFERRED"
    return out if k.validated else out + " NOT VALID"


def _is_referential_constraints(snap):
    for t, _, k, parent in foreign_keys(snap):
        unique = _referenced_constraint(snap, parent, k)[1]
        yield (DATABASE, t.schema, k.name, DATABASE, parent.schema, unique,
               "FULL" if k.match == "f" else "NONE", _RULES[k.on_update], _RULES[k.on_delete])


def _is_constraint_column_usage(snap):
    for t in _user_tables_with_pk(snap):
        for p in t.pk:
            yield (DATABASE, t.schema, t.name, t.columns[p].name, DATABASE, t.schema,
                   pk_name(t))
    for t, _, k, parent in foreign_keys(snap):
        for c in k.ref_columns:
            yield DATABASE, parent.schema, parent.name, c, DATABASE, t.schema, k.name



def domain_check_oid(domain_oid: int, i: int) -> int:
    return domain_oid * 100 + i


def domain_check_def(sql: str) -> str:
    """``CHECK (VALUE > 0)``: VALUE upper-case as PostgreSQL prints it (not in literals)."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    return "CHECK (" + "".join(p if i % 2 else re.sub(r"\bvalue\b", "VALUE", p)
                               for i, p in enumerate(parts)) + ")"


def _domain_checks(snap):
    """A domain's CHECK constraints: contypid its type, no relation."""
    for d in snap.domains:
        for i, (name, sql) in enumerate(d.checks):
            yield (domain_check_oid(d.oid, i), name, schema_oid(d.schema), "c", False, False,
                   True, 0, d.oid, 0, 0, 0, " ", " ", " ", True, 0, False, None, None, None,
                   None, None, None, None, sql)


# -- CHECK constraints, views, sequences (compute/ddl/) -----------------------------------------
def check_oid(t: TableDef, i: int) -> int:
    return table_oid(t) * 1000 + 500 + i


def _checks(snap):
    for t in snap.tables:
        for i, k in enumerate(t.checks):
            yield t, i, k


def _check_columns(t: TableDef, k) -> list[int]:
    refs = set(column_refs(parse_expr(k.expr_sql)))
    return [i for i, c in enumerate(t.columns, 1) if c.name in refs]


def check_def(k) -> str:
    return f"CHECK (({k.expr_sql}))" + ("" if k.validated else " NOT VALID")


def _pg_views(snap):
    for t in snap.tables:
        if t.kind == "v":
            yield t.schema, t.name, OWNER, t.view_sql


def _is_views(snap):
    for t in snap.tables:
        if t.kind == "v":
            yield DATABASE, t.schema, t.name, t.view_sql, "NONE", "NO", "NO"


def _sequences(snap):
    return [t for t in snap.tables if t.kind == "S"]


def _pg_sequences(snap):
    for t in _sequences(snap):
        q = t.sequence
        yield (t.schema, t.name, OWNER, "bigint", q.start, q.min_value, q.max_value,
               q.increment, q.cycle, q.cache, None)


def _pg_sequence(snap):
    for t in _sequences(snap):
        q = t.sequence
        yield (table_oid(t), T.INT8, q.start, q.increment, q.max_value, q.min_value, q.cache,
               q.cycle)


def _is_sequences(snap):
    for t in _sequences(snap):
        yield DATABASE, t.schema, t.name, "bigint"


def _is_check_constraints(snap):
    for t, _, k in _checks(snap):
        yield DATABASE, t.schema, k.name, f"({k.expr_sql})"


def _attrdef(snap):
    for t in snap.tables:
        for i, c in enumerate(t.columns, 1):
            if c.default_sql is not None and not c.identity:
                yield (table_oid(t) * 1000 + i, table_oid(t), i, c.default_sql)


def _database(snap):
    yield (5, DATABASE, OWNER_OID, 6, "c", False, True, -1, 0, 0, 1663, "C", "C", None,
           None, None, None)


def _roles(snap):
    yield (OWNER, True, True, True, True, True, False, -1, "********", None, True, None,
           OWNER_OID)


def _user(snap):
    yield (OWNER, OWNER_OID, True, True, False, True, "********", None, None)


def _settings(snap):
    for name, value in sorted(snap.settings.items(), key=lambda kv: kv[0].lower()):
        yield (name, value, None, "Client Connection Defaults", "", None, "user", "string",
               "default", None, None, None, value, value, None, None, False)


def _am(snap):
    yield HEAP_AM, "heap", "heap_tableam_handler", "t"
    yield BTREE_AM, "btree", "bthandler", "i"


#: btree's default operator classes (PostgreSQL's OIDs): type → (opclass oid, name)
BTREE_OPCLASSES = {
    T.INT2: (1979, "int2_ops"), T.INT4: (1978, "int4_ops"), T.INT8: (3124, "int8_ops"),
    T.TEXT: (3126, "text_ops"), T.VARCHAR: (3126, "text_ops"), T.BPCHAR: (426, "bpchar_ops"),
    T.BOOL: (424, "bool_ops"), T.NUMERIC: (3125, "numeric_ops"),
    T.FLOAT4: (1970, "float4_ops"), T.FLOAT8: (1971, "float8_ops"), T.DATE: (3122, "date_ops"),
    T.TIMESTAMP: (3128, "timestamp_ops"), T.TIMESTAMPTZ: (3127, "timestamptz_ops"),
    T.UUID: (2968, "uuid_ops"), T.BYTEA: (428, "bytea_ops"), T.TIME: (1991, "time_ops"),
    T.INTERVAL: (3129, "interval_ops"), T.OID: (1981, "oid_ops")}


def opclass_of(type_oid: int) -> int:
    return BTREE_OPCLASSES.get(type_oid, (0, ""))[0]


def _opclass(snap):
    """btree's default operator classes (opcfamily is not modelled: 0)."""
    seen = set()
    for type_oid, (oid, name) in BTREE_OPCLASSES.items():
        if oid not in seen:
            seen.add(oid)
            yield oid, BTREE_AM, name, PG_CATALOG_NS, OWNER_OID, 0, type_oid, True, 0


def _tablespace(snap):
    yield 1663, "pg_default", OWNER_OID, None, None
    yield 1664, "pg_global", OWNER_OID, None, None


def _pg_tables(snap):
    for t in snap.all_relations():
        if t.table_id >= 0 and t.kind != "r":
            continue
        yield (t.schema, t.name, OWNER, None, bool(t.pk) and not t.hidden_pk, False, False,
               False)


def _pg_indexes(snap):
    for t in _user_tables_with_pk(snap):
        yield t.schema, t.name, pk_name(t), None, index_def(t)
    for t, d in _secondaries(snap):
        yield t.schema, t.name, d.name, None, d.definition(t)


# -- secondary indexes and jobs (compute/indexes.py, compute/jobs.py) -------------------------
SECONDARY_INDEX_OID_BASE = 1_000_000_000


def secondary_index_oid(d) -> int:
    return SECONDARY_INDEX_OID_BASE + d.index_id


def _secondaries(snap):
    """(table, index) of each secondary index whose table is in the snapshot."""
    by_id = {t.table_id: t for t in snap.tables}
    for d in sorted(snap.indexes, key=lambda d: (d.schema, d.name)):
        t = by_id.get(d.table_id)
        if t is not None and d.positions(t) is not None:
            yield t, d


def _secondary_class(snap):
    for t, d in _secondaries(snap):
        natts = sum(map(len, d.positions(t)))
        yield (secondary_index_oid(d), d.name, schema_oid(t.schema), 0, 0, OWNER_OID,
               BTREE_AM, secondary_index_oid(d), 0, 0, -1.0, 0, 0, False, False, "p", "i",
               natts, 0, False, False, False, False, False, True, "n", False, 0, 0, 0, None,
               None, None)


def _secondary_index(snap):
    """Secondary indexes: indkey 0 for an expression key, indexprs its expressions (SQL
    text, where PostgreSQL keeps a node tree), indpred a partial index's predicate."""
    for t, d in _secondaries(snap):
        keys, include = d.positions(t)
        cols = [p + 1 for p in (*keys, *include)]
        exprs = [e for e in d.exprs if e is not None]
        types = [d.key_type(t, i) for i in range(len(keys))] + \
            [t.columns[p].type_oid for p in include]
        yield (secondary_index_oid(d), table_oid(t), len(cols), len(keys), d.unique, False,
               False, False, True, False, d.state == "valid", False,
               d.state in ("write_only", "valid"), True, False, cols,
               [collation_of(o) for o in types[:len(keys)]],
               [opclass_of(o) for o in types[:len(keys)]],
               [0] * len(keys), "\n".join(exprs) if exprs else None, d.predicate)


def _sys_jobs(snap):
    """class_id is pg_class's OID (a job works on a table or an index), object_id the
    OID that object had (kept after a DROP)."""
    pg_class = table_oid(SYSTEM[("pg_catalog", "pg_class")].table)
    for j in snap.jobs:
        oid = (SECONDARY_INDEX_OID_BASE + j.index_id if j.index_id
               else table_id_oid(j.table_id) if j.table_id else None)
        yield (j.job_id, j.status, j.details, j.job_type, pg_class if oid else None, oid,
               j.object_name, j.start_time, update_time(j))


def index_def(t: TableDef) -> str:
    cols = ", ".join(_quote(t.columns[p].name) for p in t.pk)
    return (f"CREATE UNIQUE INDEX {_quote(pk_name(t))} ON {_quote(t.schema)}."
            f"{_quote(t.name)} USING btree ({cols})")


def constraint_def(t: TableDef) -> str:
    return "PRIMARY KEY (" + ", ".join(_quote(t.columns[p].name) for p in t.pk) + ")"


def _quote(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


quote_name = _quote            # an identifier as SQL text, quoted when needed


# -- information_schema ---------------------------------------------------------------------
def _is_schemata(snap):
    for s in ["information_schema", "pg_catalog"] + snap.schemas:
        yield DATABASE, s, OWNER, None, None, None, None


def _is_tables(snap):
    for t in snap.all_relations():
        if t.table_id >= 0 and t.kind == "S":
            continue
        kind = "VIEW" if t.schema == "information_schema" or t.kind == "v" else "BASE TABLE"
        yield (DATABASE, t.schema, t.name, kind, None, None, None, None, None,
               "YES" if t.table_id >= 0 else "NO", "NO", None)


def _is_columns(snap):
    for t in snap.all_relations():
        if t.table_id >= 0 and t.kind == "S":
            continue
        for i, c in enumerate(t.columns, 1):
            prec, radix, scale = numeric_precision(c)
            dtp = 6 if c.type_oid in (T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL) else \
                (0 if c.type_oid == T.DATE else None)
            if c.type_oid in ELEMENT_OF:
                data_type = "ARRAY"
            else:
                data_type = T.OID_TO_NAME.get(c.type_oid) or type_name_of(c.type_oid) or "USER-DEFINED"
            maxlen = char_max_length(c)
            yield (DATABASE, t.schema, t.name, c.name, i,
                   None if c.identity else c.default_sql,
                   "NO" if c.not_null else "YES", data_type, maxlen,
                   maxlen * 4 if maxlen is not None else (1073741824 if c.type_oid == T.TEXT else None),
                   prec, radix, scale, dtp, None, None, None, None, None, None, None, None,
                   None, None, None, DATABASE, "pg_catalog", type_name_of(c.type_oid), None, None, None,
                   None, str(i), "NO", "NO", None, None, None, None, None, "NO", "NEVER",
                   None, "YES" if t.table_id >= 0 else "NO")


def _is_domains(snap):
    """CREATE DOMAIN's domains: their base type as information_schema.columns shows one."""
    for d in snap.domains:
        base = ColumnDef(d.name, d.base_oid, type_modifier=d.typmod)
        prec, _, scale = numeric_precision(base)
        yield (DATABASE, d.schema, d.name, T.OID_TO_NAME.get(d.base_oid, "USER-DEFINED"),
               char_max_length(base), prec, scale, d.default_sql)


def _is_routines(snap):
    """CREATE FUNCTION … LANGUAGE sql's functions."""
    for f in snap.functions:
        yield (DATABASE, f.schema, f"{f.name}_{f.oid}", DATABASE, f.schema, f.name,
               "FUNCTION", T.OID_TO_NAME.get(f.ret_oid, "USER-DEFINED"), "SQL", f.source,
               "SQL", "YES" if f.volatility == "i" else "NO")


def _is_table_constraints(snap):
    for t in _user_tables_with_pk(snap):
        yield (DATABASE, t.schema, pk_name(t), DATABASE, t.schema, t.name, "PRIMARY KEY",
               "NO", "NO", "YES", None)
    for t, d in _secondaries(snap):
        if d.constraint:
            yield (DATABASE, t.schema, d.name, DATABASE, t.schema, t.name, "UNIQUE", "NO",
                   "NO", "YES", None)
    for t, _, k in _checks(snap):
        yield (DATABASE, t.schema, k.name, DATABASE, t.schema, t.name, "CHECK", "NO", "NO",
               "YES", None)
    for t, _, k, _ in foreign_keys(snap):
        yield (DATABASE, t.schema, k.name, DATABASE, t.schema, t.name, "FOREIGN KEY",
               "YES" if k.deferrable else "NO", "YES" if k.deferred else "NO", "YES", None)


def _is_key_column_usage(snap):
    for t in _user_tables_with_pk(snap):
        for i, p in enumerate(t.pk, 1):
            yield (DATABASE, t.schema, pk_name(t), DATABASE, t.schema, t.name,
                   t.columns[p].name, i, None)
    for t, _, k, _ in foreign_keys(snap):
        for i, c in enumerate(k.columns, 1):
            yield DATABASE, t.schema, k.name, DATABASE, t.schema, t.name, c, i, i


_DEFS: list[tuple[str, str, str, Callable | None]] = [
    ("pg_catalog", "pg_namespace", "oid:o nspname:n nspowner:o nspacl:at", _namespaces),
    ("pg_catalog", "pg_class",
     "oid:o relname:n relnamespace:o reltype:o reloftype:o relowner:o relam:o relfilenode:o "
     "reltablespace:o relpages:i4 reltuples:f4 relallvisible:i4 reltoastrelid:o "
     "relhasindex:b relisshared:b relpersistence:c relkind:c relnatts:i2 relchecks:i2 "
     "relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b "
     "relforcerowsecurity:b relispopulated:b relreplident:c relispartition:b relrewrite:o "
     "relfrozenxid:i8 relminmxid:i8 relacl:at reloptions:at relpartbound:t", _class),
    ("pg_catalog", "pg_attribute",
     "attrelid:o attname:n atttypid:o attlen:i2 attnum:i2 attcacheoff:i4 atttypmod:i4 "
     "attndims:i2 attbyval:b attalign:c attstorage:c attcompression:c attnotnull:b "
     "atthasdef:b atthasmissing:b attidentity:c attgenerated:c attisdropped:b attislocal:b "
     "attinhcount:i2 attstattarget:i2 attcollation:o attacl:at attoptions:at "
     "attfdwoptions:at attmissingval:t", _attribute),
    ("pg_catalog", "pg_type",
     "oid:o typname:n typnamespace:o typowner:o typlen:i2 typbyval:b typtype:c "
     "typcategory:c typispreferred:b typisdefined:b typdelim:c typrelid:o typsubscript:t "
     "typelem:o typarray:o typinput:t typoutput:t typreceive:t typsend:t typalign:c "
     "typstorage:c typnotnull:b typbasetype:o typtypmod:i4 typndims:i4 typcollation:o "
     "typdefault:t typacl:at", _types),
    ("pg_catalog", "pg_index",
     "indexrelid:o indrelid:o indnatts:i2 indnkeyatts:i2 indisunique:b "
     "indnullsnotdistinct:b indisprimary:b indisexclusion:b indimmediate:b "
     "indisclustered:b indisvalid:b indcheckxmin:b indisready:b indislive:b "
     "indisreplident:b indkey:v2 indcollation:vo indclass:vo indoption:v2 indexprs:t "
     "indpred:t", _index),
    ("pg_catalog", "pg_constraint",
     "oid:o conname:n connamespace:o contype:c condeferrable:b condeferred:b "
     "convalidated:b conrelid:o contypid:o conindid:o conparentid:o confrelid:o "
     "confupdtype:c confdeltype:c confmatchtype:c conislocal:b coninhcount:i2 "
     "connoinherit:b conkey:ai2 confkey:ai2 conpfeqop:ao conppeqop:ao conffeqop:ao "
     "confdelsetcols:ai2 conexclop:ao conbin:t", _constraint),
    ("pg_catalog", "pg_attrdef", "oid:o adrelid:o adnum:i2 adbin:t", _attrdef),
    ("pg_catalog", "pg_description", "objoid:o classoid:o objsubid:i4 description:t", None),
    ("pg_catalog", "pg_shdescription", "objoid:o classoid:o description:t", None),
    ("pg_catalog", "pg_am", "oid:o amname:n amhandler:t amtype:c", _am),
    ("pg_catalog", "pg_opclass", "oid:o opcmethod:o opcname:n opcnamespace:o opcowner:o "
     "opcfamily:o opcintype:o opcdefault:b opckeytype:o", _opclass),
    ("pg_catalog", "pg_database",
     "oid:o datname:n datdba:o encoding:i4 datlocprovider:c datistemplate:b datallowconn:b "
     "datconnlimit:i4 datfrozenxid:i8 datminmxid:i8 dattablespace:o datcollate:t "
     "datctype:t daticulocale:t daticurules:t datcollversion:t datacl:at", _database),
    ("pg_catalog", "pg_roles",
     "rolname:n rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b "
     "rolreplication:b rolconnlimit:i4 rolpassword:t rolvaliduntil:t rolbypassrls:b "
     "rolconfig:at oid:o", _roles),
    ("pg_catalog", "pg_authid",
     "rolname:n rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b "
     "rolreplication:b rolconnlimit:i4 rolpassword:t rolvaliduntil:t rolbypassrls:b "
     "rolconfig:at oid:o", _roles),
    ("pg_catalog", "pg_user",
     "usename:n usesysid:o usecreatedb:b usesuper:b userepl:b usebypassrls:b passwd:t "
     "valuntil:t useconfig:at", _user),
    ("pg_catalog", "pg_settings",
     "name:t setting:t unit:t category:t short_desc:t extra_desc:t context:t vartype:t "
     "source:t min_val:t max_val:t enumvals:at boot_val:t reset_val:t sourcefile:t "
     "sourceline:i4 pending_restart:b", _settings),
    ("pg_catalog", "pg_tablespace", "oid:o spcname:n spcowner:o spcacl:at spcoptions:at",
     _tablespace),
    ("pg_catalog", "pg_tables",
     "schemaname:n tablename:n tableowner:n tablespace:n hasindexes:b hasrules:b "
     "hastriggers:b rowsecurity:b", _pg_tables),
    ("pg_catalog", "pg_indexes",
     "schemaname:n tablename:n indexname:n tablespace:n indexdef:t", _pg_indexes),
    ("sys", "jobs", "job_id:t status:t details:t job_type:t class_id:o object_id:o "
                    "object_name:t start_time:tz update_time:tz",
     _sys_jobs),
    # always empty ------------------------------------------------------------------------
    ("pg_catalog", "pg_views", "schemaname:n viewname:n viewowner:n definition:t",
     _pg_views),
    ("pg_catalog", "pg_matviews",
     "schemaname:n matviewname:n matviewowner:n tablespace:n hasindexes:b ispopulated:b "
     "definition:t", None),
    ("pg_catalog", "pg_sequences",
     "schemaname:n sequencename:n sequenceowner:n data_type:t start_value:i8 min_value:i8 "
     "max_value:i8 increment_by:i8 cycle:b cache_size:i8 last_value:i8", _pg_sequences),
    ("pg_catalog", "pg_sequence",
     "seqrelid:o seqtypid:o seqstart:i8 seqincrement:i8 seqmax:i8 seqmin:i8 seqcache:i8 "
     "seqcycle:b", _pg_sequence),
    ("pg_catalog", "pg_collation",
     "oid:o collname:n collnamespace:o collowner:o collprovider:c collisdeterministic:b "
     "collencoding:i4 collcollate:t collctype:t colliculocale:t collicurules:t "
     "collversion:t", None),
    ("pg_catalog", "pg_policy",
     "oid:o polname:n polrelid:o polcmd:c polpermissive:b polroles:ao polqual:t "
     "polwithcheck:t", None),
    ("pg_catalog", "pg_statistic_ext",
     "oid:o stxrelid:o stxname:n stxnamespace:o stxowner:o stxstattarget:i4 stxkeys:ai2 "
     "stxkind:at stxexprs:t", None),
    ("pg_catalog", "pg_publication",
     "oid:o pubname:n pubowner:o puballtables:b pubinsert:b pubupdate:b pubdelete:b "
     "pubtruncate:b pubviaroot:b", None),
    ("pg_catalog", "pg_publication_namespace", "oid:o pnpubid:o pnnspid:o", None),
    ("pg_catalog", "pg_publication_rel",
     "oid:o prpubid:o prrelid:o prqual:t prattrs:ai2", None),
    ("pg_catalog", "pg_inherits",
     "inhrelid:o inhparent:o inhseqno:i4 inhdetachpending:b", None),
    ("pg_catalog", "pg_trigger",
     "oid:o tgrelid:o tgparentid:o tgname:n tgfoid:o tgtype:i2 tgenabled:c tgisinternal:b "
     "tgconstrrelid:o tgconstrindid:o tgconstraint:o tgdeferrable:b tginitdeferred:b "
     "tgnargs:i2 tgattr:ai2 tgargs:t tgqual:t tgoldtable:n tgnewtable:n", None),
    ("pg_catalog", "pg_rewrite",
     "oid:o rulename:n ev_class:o ev_type:c ev_enabled:c is_instead:b ev_qual:t "
     "ev_action:t", None),
    ("pg_catalog", "pg_depend",
     "classid:o objid:o objsubid:i4 refclassid:o refobjid:o refobjsubid:i4 deptype:c", None),
    ("pg_catalog", "pg_enum", "oid:o enumtypid:o enumsortorder:f4 enumlabel:n", None),
    ("pg_catalog", "pg_range",
     "rngtypid:o rngsubtype:o rngmultitypid:o rngcollation:o rngsubopc:o", None),
    ("pg_catalog", "pg_extension",
     "oid:o extname:n extowner:o extnamespace:o extrelocatable:b extversion:t "
     "extconfig:ao extcondition:at", None),
    ("pg_catalog", "pg_proc",
     "oid:o proname:n pronamespace:o proowner:o prolang:o prokind:c prorettype:o "
     "proargtypes:vo proretset:b provolatile:c proisstrict:b pronargs:i2 pronargdefaults:i2 "
     "proargnames:at prosrc:t", _procs),
    ("pg_catalog", "pg_language", "oid:o lanname:n lanowner:o lanispl:b lanpltrusted:b "
     "lanplcallfoid:o laninline:o lanvalidator:o lanacl:at", _languages),
    ("pg_catalog", "pg_foreign_table", "ftrelid:o ftserver:o ftoptions:at", None),
    ("pg_catalog", "pg_partitioned_table",
     "partrelid:o partstrat:c partnatts:i2 partdefid:o partattrs:ai2", None),
    ("pg_catalog", "pg_event_trigger",
     "oid:o evtname:n evtevent:n evtowner:o evtfoid:o evtenabled:c evttags:at", None),
    ("pg_catalog", "pg_auth_members",
     "oid:o roleid:o member:o grantor:o admin_option:b inherit_option:b set_option:b",
     None),
    ("pg_catalog", "pg_stat_activity",
     "datid:o datname:n pid:i4 usename:n application_name:t client_addr:t state:t "
     "query:t", None),
    # information_schema --------------------------------------------------------------------
    ("information_schema", "schemata",
     "catalog_name:n schema_name:n schema_owner:n default_character_set_catalog:n "
     "default_character_set_schema:n default_character_set_name:n sql_path:t",
     _is_schemata),
    ("information_schema", "tables",
     "table_catalog:n table_schema:n table_name:n table_type:t "
     "self_referencing_column_name:n reference_generation:t user_defined_type_catalog:n "
     "user_defined_type_schema:n user_defined_type_name:n is_insertable_into:t is_typed:t "
     "commit_action:t", _is_tables),
    ("information_schema", "columns",
     "table_catalog:n table_schema:n table_name:n column_name:n ordinal_position:i4 "
     "column_default:t is_nullable:t data_type:t character_maximum_length:i4 "
     "character_octet_length:i4 numeric_precision:i4 numeric_precision_radix:i4 "
     "numeric_scale:i4 datetime_precision:i4 interval_type:t interval_precision:i4 "
     "character_set_catalog:n character_set_schema:n character_set_name:n "
     "collation_catalog:n collation_schema:n collation_name:n domain_catalog:n "
     "domain_schema:n domain_name:n udt_catalog:n udt_schema:n udt_name:n scope_catalog:n scope_schema:n "
     "scope_name:n maximum_cardinality:i4 dtd_identifier:n is_self_referencing:t "
     "is_identity:t identity_generation:t identity_start:t identity_increment:t "
     "identity_maximum:t identity_minimum:t identity_cycle:t is_generated:t "
     "generation_expression:t is_updatable:t", _is_columns),
    ("information_schema", "table_constraints",
     "constraint_catalog:n constraint_schema:n constraint_name:n table_catalog:n "
     "table_schema:n table_name:n constraint_type:t is_deferrable:t initially_deferred:t "
     "enforced:t nulls_distinct:t", _is_table_constraints),
    ("information_schema", "key_column_usage",
     "constraint_catalog:n constraint_schema:n constraint_name:n table_catalog:n "
     "table_schema:n table_name:n column_name:n ordinal_position:i4 "
     "position_in_unique_constraint:i4", _is_key_column_usage),
    ("information_schema", "views",
     "table_catalog:n table_schema:n table_name:n view_definition:t check_option:t "
     "is_updatable:t is_insertable_into:t", _is_views),
    ("information_schema", "sequences",
     "sequence_catalog:n sequence_schema:n sequence_name:n data_type:t", _is_sequences),
    ("information_schema", "referential_constraints",
     "constraint_catalog:n constraint_schema:n constraint_name:n "
     "unique_constraint_catalog:n unique_constraint_schema:n unique_constraint_name:n "
     "match_option:t update_rule:t delete_rule:t", _is_referential_constraints),
    ("information_schema", "check_constraints",
     "constraint_catalog:n constraint_schema:n constraint_name:n check_clause:t",
     _is_check_constraints),
    ("information_schema", "constraint_column_usage",
     "table_catalog:n table_schema:n table_name:n column_name:n constraint_catalog:n "
     "constraint_schema:n constraint_name:n", _is_constraint_column_usage),
    ("information_schema", "routines",
     "specific_catalog:n specific_schema:n specific_name:n routine_catalog:n "
     "routine_schema:n routine_name:n routine_type:t data_type:t routine_body:t "
     "routine_definition:t external_language:t is_deterministic:t", _is_routines),
    ("information_schema", "domains",
     "domain_catalog:n domain_schema:n domain_name:n data_type:t "
     "character_maximum_length:i4 numeric_precision:i4 numeric_scale:i4 "
     "domain_default:t", _is_domains),
]

#: (schema, name) → SysTable
SYSTEM: dict[tuple[str, str], SysTable] = {}
ALWAYS_EMPTY: set[tuple[str, str]] = set()
for _i, (_schema, _name, _spec, _rows) in enumerate(_DEFS, 1):
    SYSTEM[(_schema, _name)] = SysTable(_schema, _name, _spec, _rows, table_id=-_i)
    if _rows is None:
        ALWAYS_EMPTY.add((_schema, _name))
BY_ID: dict[int, SysTable] = {s.table.table_id: s for s in SYSTEM.values()}
