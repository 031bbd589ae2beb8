"""DDL: plans that change the catalog, and the rules rows must follow afterwards.

Every DDL runs as one transaction that reads catalog rows at its snapshot and writes
the changed definitions (table 0), bumps the catalog version and writes the schema
marker of each relation it changed (see :mod:`.catalog`), so a transaction that used the
old definition fails at COMMIT with OC001. Definitions are PostgreSQL's: CHECK
constraints and their generated names, type modifiers (varchar(n), char(n),
numeric(p,s)) enforced on write, views stored as their SQL text, sequences as a row
holding the next unallocated value; DSQL's rules on top (sequence CACHE 1 or ≥ 65536,
bigint only, no ALTER COLUMN TYPE, constraints on existing tables NOT VALID).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import AlterTableType as AT, DropBehavior, ObjectType

from .. import limits
from ..errors import (DependentObjectsStillExist, DsqlError, DuplicateColumn, DuplicateTable,
                      FeatureNotSupported, GeneratedAlways, InvalidParameterValue,
                      InvalidSchemaName, InvalidTableDefinition, ParseError,
                      UndefinedColumn, UndefinedObject, UndefinedParameter, UndefinedTable,
                      WrongObjectType)
from . import types as T
from .catalog import (BUILTIN_SCHEMAS, CATALOG_VERSION_KEY, FIRST_USER_TABLE_ID,
                      NEXT_TABLE_ID_KEY, CheckDef, ColumnDef, SequenceDef, TableDef,
                      namespace_key, row_to_table, schema_key, table_key,
                      table_to_row, tables_range)
from .constraints import check_name, column_refs, expr_sql, parse_expr, validate_check
from .query import astwalk
from .query.exprs import resolve_type
from .query.rowexpr import compile_constant
from .plan.base import Plan, result_column
from .result import QueryResult
from .query.sqltypes import type_modifier
from .index_plans import create_unique_constraints, unique_constraints
from .jobs import runner, submit_table_cleanup, submit_validation
from .query import prepare_select
from .system import SystemCatalog
from .indexes import load_indexes, put_index

MAX_BIGINT = 2 ** 63 - 1
SEQUENCE_CACHE_MIN = 65536
_SEQUENCE_COLUMNS = (ColumnDef("last_value", T.INT8, True), ColumnDef("log_cnt", T.INT8, True),
                     ColumnDef("is_called", T.BOOL, True))


def _search_path(catalog) -> tuple[str, ...]:
    return tuple(getattr(catalog, "search_path", ("public",)))


def _creation_schema(rel: ast.RangeVar, catalog) -> str:
    if rel.schemaname:
        return rel.schemaname
    schemas = getattr(catalog, "schemas", BUILTIN_SCHEMAS)
    for s in _search_path(catalog):
        if s in schemas:
            return s
    raise InvalidSchemaName("no schema has been selected to create in")


def _qualified(parts) -> tuple[str | None, str]:
    names = [p.sval for p in parts]
    return (names[-2], names[-1]) if len(names) > 1 else (None, names[0])


async def _lookup(txn, catalog, schema: str | None, name: str) -> TableDef | None:
    """A relation's definition at the transaction's snapshot (search path if unqualified)."""
    for s in ([schema] if schema else _search_path(catalog)):
        row = await txn.get(table_key(s, name))
        if row is not None:
            return row_to_table(row)
    return None


async def _schema_exists(txn, name: str) -> bool:
    return name in BUILTIN_SCHEMAS or await txn.get(namespace_key(name)) is not None


async def _require_schema(txn, name: str) -> None:
    if not await _schema_exists(txn, name):
        raise InvalidSchemaName(f'schema "{name}" does not exist')


async def _bump(txn) -> None:
    txn.put(CATALOG_VERSION_KEY, (await txn.get(CATALOG_VERSION_KEY) or 0) + 1)
    txn.touched_catalog = True


async def _new_id(txn) -> int:
    table_id = await txn.get(NEXT_TABLE_ID_KEY) or FIRST_USER_TABLE_ID
    txn.put(NEXT_TABLE_ID_KEY, table_id + 1)
    return table_id


async def _save(txn, new: TableDef, old: TableDef | None = None) -> None:
    """Write a changed definition, its schema marker and the catalog version."""
    if old is not None and (old.schema, old.name) != (new.schema, new.name):
        txn.delete(table_key(old.schema, old.name))
    txn.put(table_key(new.schema, new.name), table_to_row(new))
    if old is not None:
        txn.put(schema_key(new.table_id), txn.start_ts)
    await _bump(txn)


async def _drop(txn, t: TableDef) -> None:
    txn.delete(table_key(t.schema, t.name))
    txn.put(schema_key(t.table_id), txn.start_ts)


def _kind_name(kind: str) -> str:
    return {"r": "table", "v": "view", "S": "sequence"}[kind]


# -- types and their modifiers ------------------------------------------------------------
#: types DSQL has only at query time, never as a column's type
_QUERY_TIME_ONLY = {T.JSON: "json", T.JSONB: "jsonb"}


#: types PostgreSQL has that DSQL does not store in a column (0A000, not 42704); the
#: name as pglast reports it → the name PostgreSQL prints
_NOT_STORED = {name: name for name in (
    "money", "xml", "inet", "cidr", "macaddr", "macaddr8", "point", "line", "lseg", "box",
    "path", "polygon", "circle", "tsvector", "tsquery", "int4range", "int8range", "numrange",
    "tsrange", "tstzrange", "daterange", "int4multirange", "int8multirange", "nummultirange",
    "tsmultirange", "tstzmultirange", "datemultirange", "bit", "pg_lsn", "pg_snapshot",
    "txid_snapshot", "jsonpath", "tid", "xid", "xid8", "cid", "regclass", "regtype",
    "regproc", "regprocedure", "regoper", "regoperator", "regnamespace", "regrole",
    "regconfig", "regdictionary", "regcollation", "refcursor", "aclitem", "int2vector",
    "oidvector", "pg_node_tree", "gtsvector")} | {"varbit": "bit varying"}


def column_type(tn: ast.TypeName) -> tuple[int, int]:
    """(type oid, typmod) as PostgreSQL stores them."""
    names = [n.sval.lower() for n in tn.names if n.sval != "pg_catalog"]
    if len(names) == 1 and names[0] in _NOT_STORED:
        raise FeatureNotSupported(f"datatype {_NOT_STORED[names[0]]} not supported",
                                  hint="Aurora DSQL does not store this type in a column.")
    if tn.arrayBounds:
        raise FeatureNotSupported("array types are not supported")
    oid, _ = resolve_type(tn)
    if oid in _QUERY_TIME_ONLY:
        raise FeatureNotSupported(f"datatype {_QUERY_TIME_ONLY[oid]} not supported",
                                  hint="Store JSON documents as text and use json or jsonb "
                                       "casts and functions in queries.")
    return oid, type_modifier(tn, oid)


# -- sequences -----------------------------------------------------------------------------
def _int_option(opt: ast.DefElem) -> int:
    arg = opt.arg
    if isinstance(arg, ast.Integer):
        return arg.ival
    if isinstance(arg, ast.Float):
        return int(arg.fval)
    if isinstance(arg, ast.TypeName):
        raise FeatureNotSupported("sequences are bigint only")
    raise InvalidParameterValue(f"invalid value for sequence option {opt.defname}")


def sequence_def(options, owned_by: str | None = None) -> SequenceDef:
    """A sequence's parameters from CREATE SEQUENCE / identity options, with DSQL's rules."""
    given: dict[str, Any] = {}
    for opt in options or ():
        name = opt.defname
        if name == "as":
            tname = opt.arg.names[-1].sval.lower()
            if tname not in ("int8", "bigint"):
                raise FeatureNotSupported("sequences and identity columns must be bigint",
                                          hint="Use AS bigint or omit AS.")
            continue
        if name in ("sequence_name", "owned_by"):
            continue
        if name == "cycle":
            given["cycle"] = bool(getattr(opt.arg, "boolval", True)) if opt.arg else True
            continue
        if name in ("maxvalue", "minvalue") and opt.arg is None:
            continue
        if name == "restart":
            raise FeatureNotSupported("RESTART is not supported in CREATE SEQUENCE")
        given[name] = _int_option(opt)
    if "cache" not in given or not (given["cache"] == 1 or given["cache"] >= SEQUENCE_CACHE_MIN):
        raise FeatureNotSupported(
            f"CACHE must be 1 or at least {SEQUENCE_CACHE_MIN}"
            + ("" if "cache" in given else " and given explicitly"),
            hint="Aurora DSQL sequences and identity columns need CACHE 1 or "
                 f"CACHE >= {SEQUENCE_CACHE_MIN}, e.g. CACHE {SEQUENCE_CACHE_MIN}.")
    inc = given.get("increment", 1)
    if inc == 0:
        raise InvalidParameterValue("INCREMENT must not be zero")
    lo = given.get("minvalue", 1 if inc > 0 else -MAX_BIGINT - 1)
    hi = given.get("maxvalue", MAX_BIGINT if inc > 0 else -1)
    start = given.get("start", lo if inc > 0 else hi)
    if lo >= hi:
        raise InvalidParameterValue(f"MINVALUE ({lo}) must be less than MAXVALUE ({hi})")
    if not lo <= start <= hi:
        raise InvalidParameterValue(
            f"START value ({start}) cannot be "
            f"{'less than MINVALUE' if start < lo else 'greater than MAXVALUE'} "
            f"({lo if start < lo else hi})")
    return SequenceDef(start, inc, lo, hi, given["cache"], given.get("cycle", False), owned_by)


def _plain_sequence_args(node):
    """``nextval('s'::regclass)`` → ``nextval('s')``: the expression compiler has no
    regclass; the sequence functions take its name."""
    def walk(n):
        if isinstance(n, ast.FuncCall) and n.funcname[-1].sval in ("nextval", "currval",
                                                                    "setval") and n.args:
            first = n.args[0]
            if isinstance(first, ast.TypeCast) and first.typeName.names[-1].sval == "regclass":
                n.args = (first.arg,) + tuple(n.args[1:])
        if isinstance(n, ast.Node):
            for attr in n:
                walk(getattr(n, attr))
        elif isinstance(n, (tuple, list)):
            for x in n:
                walk(x)
    walk(node)
    return node


# -- CREATE TABLE ----------------------------------------------------------------------------
_UNSUPPORTED_TYPES = {"serial": "serial", "bigserial": "bigserial", "smallserial": "smallserial",
                      "serial4": "serial", "serial8": "bigserial", "serial2": "smallserial"}


@dataclass
class CreateTablePlan(Plan):
    schema: str = "public"
    name: str = ""
    column_defs: tuple[ColumnDef, ...] = ()
    pk_names: tuple[str, ...] = ()
    if_not_exists: bool = False
    checks: tuple[CheckDef, ...] = ()
    identities: tuple[tuple[str, SequenceDef], ...] = ()   # column → its sequence
    uniques: tuple[tuple[str | None, tuple[str, ...]], ...] = ()   # UNIQUE: name, columns

    async def run(self, txn, params, session) -> QueryResult:
        await _require_schema(txn, self.schema)
        if self.schema not in BUILTIN_SCHEMAS:
            txn.lock([namespace_key(self.schema)])
        if await txn.get(table_key(self.schema, self.name)) is not None:
            if self.if_not_exists:
                session.notice(f'relation "{self.name}" already exists, skipping')
                return QueryResult("CREATE TABLE")
            raise DuplicateTable(f'relation "{self.name}" already exists')
        columns = list(self.column_defs)
        for col_name, sdef in self.identities:
            seq_name = f"{self.name}_{col_name}_seq"
            if await txn.get(table_key(self.schema, seq_name)) is not None:
                raise DuplicateTable(f'relation "{seq_name}" already exists')
            seq = TableDef(await _new_id(txn), self.schema, seq_name, _SEQUENCE_COLUMNS, (),
                           True, kind="S",
                           sequence=replace(sdef, owned_by=f"{self.name}.{col_name}"))
            await _save(txn, seq)
            i = [c.name for c in columns].index(col_name)
            columns[i] = replace(columns[i],
                                 default_sql=f"nextval('{self.schema}.{seq_name}')")
        table_id = await _new_id(txn)
        names = [c.name for c in columns]
        pk = tuple(names.index(n) for n in self.pk_names)
        table = TableDef(table_id, self.schema, self.name, tuple(columns), pk, hidden_pk=not pk,
                         checks=self.checks)
        await _save(txn, table)
        await create_unique_constraints(txn, table, self.uniques)
        return QueryResult("CREATE TABLE")


def _column(elt: ast.ColumnDef, table: str, checks: list[CheckDef], taken: set[str],
            identities: list) -> tuple[ColumnDef, bool]:
    """A column definition; returns (column, is primary key)."""
    tname = elt.typeName.names[-1].sval.lower()
    if tname in _UNSUPPORTED_TYPES:
        raise FeatureNotSupported(f'type "{_UNSUPPORTED_TYPES[tname]}" is not supported',
                                  hint="Use an identity column or a sequence with "
                                       "CACHE 1 or CACHE >= 65536 instead.")
    oid, typmod = column_type(elt.typeName)
    not_null, default, is_pk, identity = bool(elt.is_not_null), None, False, ""
    for con in elt.constraints or ():
        kind = con.contype.name
        if kind == "CONSTR_PRIMARY":
            is_pk = not_null = True
        elif kind == "CONSTR_NOTNULL":
            not_null = True
        elif kind == "CONSTR_NULL":
            not_null = False
        elif kind == "CONSTR_DEFAULT":
            default = expr_sql(_plain_sequence_args(con.raw_expr))
        elif kind == "CONSTR_CHECK":
            name = con.conname or check_name(table, [elt.colname], taken)
            taken.add(name)
            checks.append(CheckDef(name, expr_sql(con.raw_expr)))
        elif kind == "CONSTR_IDENTITY":
            if oid != T.INT8:
                raise FeatureNotSupported("identity columns must be bigint",
                                          hint="Declare the column as bigint.")
            identities.append((elt.colname, sequence_def(con.options)))
            identity, not_null = con.generated_when, True
        elif kind == "CONSTR_UNIQUE":
            pass                 # a unique index: index_plans.unique_constraints
        else:
            raise FeatureNotSupported(f"{kind[7:]} constraints are not supported yet")
    if identity and default is not None:
        raise ParseError(f'both default and identity specified for column "{elt.colname}" of '
                         f'table "{table}"')
    return ColumnDef(elt.colname, oid, not_null, default, typmod, identity=identity), is_pk


def _unique_constraints(stmt, names):
    return unique_constraints(stmt, names)


def plan_create_table(stmt: ast.CreateStmt, catalog, param_oids) -> CreateTablePlan:
    rel = stmt.relation
    if rel.relpersistence == "t":
        raise FeatureNotSupported("temporary tables are not supported")
    if rel.relpersistence == "u":
        raise FeatureNotSupported("unlogged tables are not supported")
    if stmt.partspec is not None or stmt.partbound is not None:
        raise FeatureNotSupported("partitioned tables are not supported")
    if stmt.inhRelations:
        raise FeatureNotSupported("table inheritance is not supported")
    columns: list[ColumnDef] = []
    pk: list[str] = []
    checks: list[CheckDef] = []
    identities: list = []
    taken: set[str] = set()
    table_checks = []
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            col, is_pk = _column(elt, rel.relname, checks, taken, identities)
            if is_pk:
                if pk:
                    raise InvalidTableDefinition(
                        f'multiple primary keys for table "{rel.relname}" are not '
                        "allowed")
                pk.append(col.name)
            if any(c.name == col.name for c in columns):
                raise DuplicateColumn(f'column "{col.name}" specified more than once')
            columns.append(col)
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_PRIMARY":
            if pk:
                raise InvalidTableDefinition(
                    f'multiple primary keys for table "{rel.relname}" are not '
                    "allowed")
            pk = [k.sval for k in elt.keys]
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_CHECK":
            table_checks.append(elt)
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_UNIQUE":
            pass                 # a unique index: index_plans.unique_constraints
        else:
            raise FeatureNotSupported(f"{type(elt).__name__} in CREATE TABLE is not supported yet")
    for con in table_checks:     # named after their first column, once columns are known
        name = con.conname or check_name(rel.relname, column_refs(con.raw_expr), taken)
        taken.add(name)
        checks.append(CheckDef(name, expr_sql(con.raw_expr)))
    limits.columns_per_table_max.check(len(columns))
    names = [c.name for c in columns]
    for k in pk:
        if k not in names:
            raise UndefinedColumn(f'column "{k}" named in key does not exist')
    columns = [replace(c, not_null=True) if c.name in pk else c for c in columns]
    for check in checks:
        validate_check(check.expr_sql, columns)
    return CreateTablePlan(schema=_creation_schema(rel, catalog), name=rel.relname,
                           column_defs=tuple(columns), pk_names=tuple(pk),
                           if_not_exists=bool(stmt.if_not_exists), checks=tuple(checks),
                           identities=tuple(identities), is_ddl=True,
                           uniques=_unique_constraints(stmt, names))


# -- DROP -----------------------------------------------------------------------------------
_DROP_KINDS = {"OBJECT_TABLE": "r", "OBJECT_VIEW": "v", "OBJECT_SEQUENCE": "S"}


@dataclass
class DropTablePlan(Plan):
    names: list[tuple[str | None, str]] = field(default_factory=list)
    if_exists: bool = False
    kind: str = "r"
    cascade: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        what = _kind_name(self.kind)
        for schema, name in self.names:
            t = await _lookup(txn, _PathOf(session), schema, name)
            if t is None:
                if self.if_exists:
                    session.notice(f'{what} "{name}" does not exist, skipping')
                    continue
                raise UndefinedTable(f'{what} "{name}" does not exist')
            if t.kind != self.kind:
                other = _kind_name(t.kind)
                raise WrongObjectType(f'"{name}" is not a {what}',
                                      hint=f"Use DROP {other.upper()} to remove a {other}.")
            if t.kind == "S" and t.sequence.owned_by and not self.cascade:
                raise DependentObjectsStillExist(
                    f"cannot drop sequence {name} because other objects depend on "
                    "it")
            views = await _dependent_views(txn, t)
            if views and not self.cascade:
                raise _depends(f"{what} {name}", t, views)
            for v in views:
                session.notice(f"drop cascades to view {v.name}")
                await _drop(txn, v)
            await _drop(txn, t)
            if t.kind == "r":      # identity sequences and indexes go with their table
                for seq in await _owned_sequences(txn, t):
                    await _drop(txn, seq)
                await submit_table_cleanup(txn, session.node, t)
        await _bump(txn)
        return QueryResult(f"DROP {what.upper()}")


def _walk(node, visit) -> None:
    for n in astwalk.nodes(node):
        visit(n)


def _names(view: TableDef, t: TableDef, rv: ast.RangeVar) -> bool:
    """Whether ``rv`` in the view's query names table ``t``."""
    return rv.relname == t.name and (rv.schemaname == t.schema or (
        rv.schemaname is None and t.schema in (view.schema, "public")))


def _view_tree(view: TableDef):
    return parse_sql(view.view_sql)[0].stmt


def _uses(view: TableDef, t: TableDef) -> bool:
    found = []
    _walk(_view_tree(view), lambda n: found.append(n) if isinstance(n, ast.RangeVar)
          and _names(view, t, n) else None)
    return bool(found)


async def _dependent_views(txn, t: TableDef) -> list[TableDef]:
    """Views whose query reads ``t``, and views over those (PostgreSQL's pg_depend)."""
    views = [v for v in await _all_relations(txn) if v.kind == "v"]
    out: list[TableDef] = []
    todo = [t]
    while todo:
        base = todo.pop()
        for v in views:
            if v not in out and v.table_id != t.table_id and _uses(v, base):
                out.append(v)
                todo.append(v)
    return out


def _depends(what: str, t: TableDef, views: list[TableDef]) -> DsqlError:
    return DependentObjectsStillExist(
        f"cannot drop {what} because other objects depend on it",
        detail="\n".join(f"view {v.name} depends on {_kind_name(t.kind)} {t.name}"
        for v in views),
        hint="Use DROP ... CASCADE to drop the dependent objects too.")


async def _all_relations(txn) -> list[TableDef]:
    low, high = tables_range()
    return [row_to_table(r) for _, r in await txn.scan(low, high)]


async def _owned_sequences(txn, t: TableDef) -> list[TableDef]:
    return [s for s in await _all_relations(txn)
            if s.kind == "S" and s.schema == t.schema and s.sequence.owned_by
            and s.sequence.owned_by.split(".")[0] == t.name]


class _PathOf:
    """The session's search path, in the shape :func:`_lookup` wants."""

    def __init__(self, session):
        self.search_path = session.search_path()


@dataclass
class DropSchemaPlan(Plan):
    names: list[str] = field(default_factory=list)
    if_exists: bool = False
    cascade: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        for name in self.names:
            if name in BUILTIN_SCHEMAS:
                raise FeatureNotSupported(f'dropping schema "{name}" is not supported')
            if await txn.get(namespace_key(name)) is None:
                if self.if_exists:
                    session.notice(f'schema "{name}" does not exist, skipping')
                    continue
                raise InvalidSchemaName(f'schema "{name}" does not exist')
            inside = [t for t in await _all_relations(txn) if t.schema == name]
            if inside and not self.cascade:
                raise DependentObjectsStillExist(
                    f"cannot drop schema {name} because other objects depend on "
                    "it",
                    detail="\n".join(f"{_kind_name(t.kind)} {name}.{t.name} "
                    f"depends on schema {name}" for t in inside),
                    hint="Use DROP ... CASCADE to drop the dependent objects too.")
            for t in inside:
                await _drop(txn, t)
            txn.delete(namespace_key(name))
        await _bump(txn)
        return QueryResult("DROP SCHEMA")


def plan_drop(stmt: ast.DropStmt, catalog, param_oids) -> Plan:
    kind = stmt.removeType.name
    cascade = stmt.behavior == DropBehavior.DROP_CASCADE
    if kind == "OBJECT_SCHEMA":
        return DropSchemaPlan(names=[o.sval for o in stmt.objects],
                              if_exists=bool(stmt.missing_ok), cascade=cascade, is_ddl=True)
    if kind not in _DROP_KINDS:
        raise FeatureNotSupported(f"DROP {kind[7:]} is not supported yet")
    names = [_qualified(obj) for obj in stmt.objects]
    return DropTablePlan(names=names, if_exists=bool(stmt.missing_ok), kind=_DROP_KINDS[kind],
                         cascade=cascade, is_ddl=True)


# -- CREATE SCHEMA ----------------------------------------------------------------------------
@dataclass
class CreateSchemaPlan(Plan):
    name: str = ""
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        if await _schema_exists(txn, self.name) or self.name in ("pg_catalog",
                                                                 "information_schema"):
            if self.if_not_exists:
                session.notice(f'schema "{self.name}" already exists, skipping')
                return QueryResult("CREATE SCHEMA")
            raise DsqlError(f'schema "{self.name}" already exists', sqlstate="42P06")
        txn.put(namespace_key(self.name), (self.name,))
        await _bump(txn)
        return QueryResult("CREATE SCHEMA")


def plan_create_schema(stmt: ast.CreateSchemaStmt, catalog, param_oids) -> CreateSchemaPlan:
    if stmt.schemaElts:
        raise FeatureNotSupported("CREATE SCHEMA with schema elements is not supported",
                                  hint="Create the schema, then its objects one by one.")
    if stmt.authrole is not None:
        raise FeatureNotSupported("CREATE SCHEMA ... AUTHORIZATION is not supported")
    if stmt.schemaname.startswith("pg_"):
        raise DsqlError(f'unacceptable schema name "{stmt.schemaname}"', sqlstate="42939",
                        detail='The prefix "pg_" is reserved for system schemas.')
    return CreateSchemaPlan(name=stmt.schemaname, if_not_exists=bool(stmt.if_not_exists),
                            is_ddl=True)


# -- CREATE SEQUENCE ----------------------------------------------------------------------------
@dataclass
class CreateSequencePlan(Plan):
    schema: str = "public"
    name: str = ""
    sequence: SequenceDef | None = None
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        await _require_schema(txn, self.schema)
        if await txn.get(table_key(self.schema, self.name)) is not None:
            if self.if_not_exists:
                session.notice(f'relation "{self.name}" already exists, skipping')
                return QueryResult("CREATE SEQUENCE")
            raise DuplicateTable(f'relation "{self.name}" already exists')
        seq = TableDef(await _new_id(txn), self.schema, self.name, _SEQUENCE_COLUMNS, (), True,
                       kind="S", sequence=self.sequence)
        await _save(txn, seq)
        return QueryResult("CREATE SEQUENCE")


def plan_create_sequence(stmt: ast.CreateSeqStmt, catalog, param_oids) -> CreateSequencePlan:
    rel = stmt.sequence
    if rel.relpersistence != "p":
        raise FeatureNotSupported("temporary and unlogged sequences are not supported")
    return CreateSequencePlan(schema=_creation_schema(rel, catalog), name=rel.relname,
                              sequence=sequence_def(stmt.options),
                              if_not_exists=bool(stmt.if_not_exists), is_ddl=True)


# -- CREATE VIEW ---------------------------------------------------------------------------------
@dataclass
class CreateViewPlan(Plan):
    schema: str = "public"
    name: str = ""
    view_columns: tuple[ColumnDef, ...] = ()
    sql: str = ""
    replace: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        await _require_schema(txn, self.schema)
        old = await _lookup(txn, None, self.schema, self.name)
        if old is not None:
            if old.kind != "v":
                raise WrongObjectType(f'"{self.name}" is not a view')
            if not self.replace:
                raise DuplicateTable(f'relation "{self.name}" already exists')
            old_names = old.column_names
            if [c.name for c in self.view_columns[:len(old_names)]] != old_names:
                raise InvalidTableDefinition("cannot drop columns from view")
            await _save(txn, replace(old, columns=self.view_columns, view_sql=self.sql), old)
            return QueryResult("CREATE VIEW")
        view = TableDef(await _new_id(txn), self.schema, self.name, self.view_columns, (), True,
                        kind="v", view_sql=self.sql)
        await _save(txn, view)
        return QueryResult("CREATE VIEW")


def plan_create_view(stmt: ast.ViewStmt, catalog, param_oids) -> CreateViewPlan:
    rel = stmt.view
    if rel.relpersistence != "p":
        raise FeatureNotSupported("temporary views are not supported")
    if stmt.withCheckOption and stmt.withCheckOption.name != "NO_CHECK_OPTION":
        raise FeatureNotSupported("WITH CHECK OPTION is not supported")
    prepared = prepare_select(stmt.query, SystemCatalog(catalog), [])
    if prepared.param_oids:
        raise UndefinedParameter("there is no parameter $1")
    names = [c.name for c in prepared.columns]
    aliases = [a.sval for a in stmt.aliases or ()]
    if len(aliases) > len(names):
        raise ParseError("CREATE VIEW specifies more column names than columns")
    names[:len(aliases)] = aliases
    seen = set()
    for n in names:
        if n in seen:
            raise DuplicateColumn(f'column "{n}" specified more than once')
        seen.add(n)
    cols = tuple(ColumnDef(n, c.type_oid if c.type_oid != T.UNKNOWN else T.TEXT,
                           type_modifier=c.type_modifier)
                 for n, c in zip(names, prepared.columns))
    return CreateViewPlan(schema=_creation_schema(rel, catalog), name=rel.relname,
                          view_columns=cols, sql=expr_sql(stmt.query),
                          replace=bool(stmt.replace), is_ddl=True)


# -- ALTER TABLE ---------------------------------------------------------------------------------
@dataclass
class AlterTablePlan(Plan):
    schema: str | None = None
    name: str = ""
    cmds: tuple = ()
    missing_ok: bool = False
    tag: str = "ALTER TABLE"
    kinds: str = "r"                   # relation kinds the command applies to

    async def run(self, txn, params, session) -> QueryResult:
        old = await _lookup(txn, _PathOf(session), self.schema, self.name)
        if old is None or old.kind not in self.kinds:
            if old is None and self.missing_ok:
                session.notice(f'relation "{self.name}" does not exist, skipping')
                return QueryResult(self.tag)
            if old is None:
                raise UndefinedTable(f'relation "{self.name}" does not exist')
            raise WrongObjectType(f'"{self.name}" is not a table')
        t = old
        for cmd in self.cmds:
            t = await cmd(t, txn, session)
        if t is not old:
            await _save(txn, t, old)
        return QueryResult(self.tag)


def _find_column(t: TableDef, name: str) -> int:
    for i, c in enumerate(t.columns):
        if c.name == name:
            return i
    raise UndefinedColumn(f'column "{name}" of relation "{t.name}" does not exist')


#: column constraints DSQL refuses in ALTER TABLE ... ADD COLUMN (a plain column only)
_ADD_COLUMN_REFUSED = {"CONSTR_DEFAULT": "DEFAULT", "CONSTR_NOTNULL": "NOT NULL",
                       "CONSTR_UNIQUE": "UNIQUE", "CONSTR_PRIMARY": "PRIMARY KEY",
                       "CONSTR_FOREIGN": "REFERENCES", "CONSTR_IDENTITY": "an identity",
                       "CONSTR_GENERATED": "GENERATED", "CONSTR_CHECK": "CHECK"}
_ADD_COLUMN_HINTS = {
    "DEFAULT": "Add the column, then ALTER COLUMN ... SET DEFAULT and UPDATE the rows.",
    "CHECK": "Add the column, then ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) NOT VALID "
             "and ALTER TABLE ASYNC ... VALIDATE CONSTRAINT.",
    "UNIQUE": "Add the column, then CREATE UNIQUE INDEX ASYNC on it."}


def _add_column(elt: ast.ColumnDef, if_not_exists: bool):
    """ALTER TABLE ... ADD COLUMN: DSQL takes a plain column, nothing that would have to
    fill or check the existing rows (refused at plan time, 0A000)."""
    kinds = [con.contype.name for con in elt.constraints or ()]
    if elt.is_not_null:
        kinds.append("CONSTR_NOTNULL")
    for kind in kinds:
        what = _ADD_COLUMN_REFUSED.get(kind)
        if what is not None:
            raise FeatureNotSupported(f"ALTER TABLE ADD COLUMN with {what} is not supported",
                                      hint=_ADD_COLUMN_HINTS.get(
                                          what, "Add a plain column (a type, a collation)."))

    async def apply(t: TableDef, txn, session) -> TableDef:
        if elt.colname in t.column_names:
            if if_not_exists:
                session.notice(f'column "{elt.colname}" of relation "{t.name}" already '
                               "exists, skipping")
                return t
            raise DuplicateColumn(f'column "{elt.colname}" of relation "{t.name}" already exists')
        col, _ = _column(elt, t.name, [], set(), [])
        limits.columns_per_table_max.check(len(t.columns) + 1)
        t = t.with_slots()
        col = replace(col, attnum=t.width)
        return replace(t, columns=t.columns + (col,), width=t.width + 1)
    return apply


def _mentions_column(view: TableDef, name: str) -> bool:
    found = []
    _walk(_view_tree(view), lambda n: found.append(n) if isinstance(n, ast.ColumnRef) and (
        isinstance(n.fields[-1], ast.A_Star) or getattr(n.fields[-1], "sval", None) == name)
        else None)
    return bool(found)


async def _rewrite_views(txn, t: TableDef, rename_table: str | None = None,
                         column: tuple[str, str] | None = None) -> None:
    """Keep views over ``t`` working after it (or one of its columns) is renamed: views
    are stored as SQL text, PostgreSQL's follow the table by oid."""
    for v in await _dependent_views(txn, t):
        tree = _view_tree(v)
        if not _uses(v, t):
            continue

        def visit(n):
            if rename_table and isinstance(n, ast.RangeVar) and _names(v, t, n):
                n.relname = rename_table
            if column and isinstance(n, ast.ColumnRef) \
                    and getattr(n.fields[-1], "sval", None) == column[0]:
                n.fields = n.fields[:-1] + (ast.String(sval=column[1]),)
        _walk(tree, visit)
        await _save(txn, replace(v, view_sql=expr_sql(tree)), v)


def _drop_column(name: str, missing_ok: bool):
    async def apply(t: TableDef, txn, session) -> TableDef:
        if name not in t.column_names:
            if missing_ok:
                session.notice(f'column "{name}" of relation "{t.name}" does not exist, '
                               "skipping")
                return t
            _find_column(t, name)
        pos = t.column_names.index(name)
        if pos in t.pk:
            raise FeatureNotSupported(f'cannot drop column "{name}": it is part of the primary '
                                      "key")
        if t.columns[pos].identity:
            raise FeatureNotSupported("dropping an identity column is not supported")
        for d in await _indexes_on(txn, t, name):
            raise FeatureNotSupported(f'cannot drop column "{name}": index "{d.name}" uses it',
                                      hint=f"Drop the index first (DROP INDEX {d.name}).")
        views = [v for v in await _dependent_views(txn, t) if _mentions_column(v, name)]
        if views:
            raise _depends(f"column {name} of table {t.name}", t, views)
        t = t.with_slots()
        cols = t.columns[:pos] + t.columns[pos + 1:]
        pk = tuple(p - (p > pos) for p in t.pk)
        checks = tuple(k for k in t.checks if name not in column_refs(parse_expr(k.expr_sql)))
        return replace(t, columns=cols, pk=pk, checks=checks)
    return apply


async def _indexes_on(txn, t: TableDef, column: str) -> list:
    """Secondary indexes of ``t`` that name ``column`` (compute/indexes.py)."""
    return [d for d in await load_indexes(txn)
            if d.table_id == t.table_id and (column in d.columns or column in d.include)]


def _add_check(con: ast.Constraint):
    async def apply(t: TableDef, txn, session) -> TableDef:
        kind = con.contype.name
        if kind != "CONSTR_CHECK":
            raise FeatureNotSupported(f"ADD CONSTRAINT {kind[7:]} is not supported here",
                                      hint="Unique constraints come from CREATE UNIQUE INDEX "
                                           "ASYNC.")
        if not con.skip_validation:
            raise FeatureNotSupported("adding a CHECK constraint to an existing table requires "
                                      "NOT VALID",
                                      hint="Use ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) "
                                           "NOT VALID.")
        taken = {k.name for k in t.checks}
        name = con.conname or check_name(t.name, column_refs(con.raw_expr), taken)
        if name in taken:
            raise DsqlError(f'constraint "{name}" for relation "{t.name}" already exists',
                            sqlstate="42710")
        check = CheckDef(name, expr_sql(con.raw_expr), validated=False)
        validate_check(check.expr_sql, t.columns)
        return replace(t, checks=t.checks + (check,))
    return apply


def _drop_constraint(name: str, missing_ok: bool):
    async def apply(t: TableDef, txn, session) -> TableDef:
        kept = tuple(k for k in t.checks if k.name != name)
        if len(kept) == len(t.checks):
            if missing_ok:
                session.notice(f'constraint "{name}" of relation "{t.name}" does not exist, '
                               "skipping")
                return t
            if name == f"{t.name}_pkey":
                raise FeatureNotSupported("dropping the primary key is not supported")
            raise UndefinedObject(f'constraint "{name}" of relation "{t.name}" does not exist')
        return replace(t, checks=kept)
    return apply


def _set_default(name: str, node):
    async def apply(t: TableDef, txn, session) -> TableDef:
        pos = _find_column(t, name)
        col = t.columns[pos]
        if col.identity and node is not None:
            raise ParseError(f'column "{name}" of relation "{t.name}" is an identity column')
        sql = None if node is None else expr_sql(node)
        if sql is not None:
            compile_constant(parse_expr(sql), col.type_oid)
        cols = list(t.columns)
        cols[pos] = replace(col, default_sql=sql)
        return replace(t, columns=tuple(cols))
    return apply


def _drop_not_null(name: str):
    async def apply(t: TableDef, txn, session) -> TableDef:
        pos = _find_column(t, name)
        if pos in t.pk:
            raise InvalidTableDefinition(f'column "{name}" is in a primary key')
        if t.columns[pos].identity:
            raise InvalidTableDefinition(
                f'column "{name}" of relation "{t.name}" is an identity column')
        cols = list(t.columns)
        cols[pos] = replace(cols[pos], not_null=False)
        return replace(t, columns=tuple(cols))
    return apply


_REFUSED = {
    AT.AT_AlterColumnType: "ALTER COLUMN TYPE is not supported",
    AT.AT_SetNotNull: "SET NOT NULL on an existing column is not supported",
}


@dataclass
class ValidateConstraintPlan(Plan):
    """``ALTER TABLE ASYNC t VALIDATE CONSTRAINT c``: one row, the job_id of a background
    job that checks the existing rows (``sys.jobs``, ``CALL sys.wait_for_job``)."""
    schema: str | None = None
    name: str = ""
    constraint: str = ""

    async def run(self, txn, params, session) -> QueryResult:
        t = await _lookup(txn, _PathOf(session), self.schema, self.name)
        if t is None or t.kind != "r":
            raise UndefinedTable(f'relation "{self.name}" does not exist')
        if not any(c.name == self.constraint for c in t.checks):
            raise UndefinedObject(
                f'constraint "{self.constraint}" of relation "{t.name}" does not '
                "exist")
        job = submit_validation(txn, t, self.constraint)
        runner(session.node).kick()
        return QueryResult("ALTER TABLE", self.columns, [(job.job_id,)])


def plan_alter_table(stmt: ast.AlterTableStmt, catalog, param_oids) -> AlterTablePlan:
    if stmt.objtype != ObjectType.OBJECT_TABLE:
        raise FeatureNotSupported(f"ALTER {stmt.objtype.name[7:]} is not supported")
    rel = stmt.relation
    if any(c.subtype == AT.AT_ValidateConstraint for c in stmt.cmds):
        if len(stmt.cmds) != 1:
            raise FeatureNotSupported("VALIDATE CONSTRAINT must be the only command of its "
                                      "ALTER TABLE")
        return ValidateConstraintPlan(schema=rel.schemaname, name=rel.relname,
                                      constraint=stmt.cmds[0].name, is_ddl=True,
                                      columns=[result_column("job_id", T.TEXT)])
    cmds = []
    for cmd in stmt.cmds:
        st = cmd.subtype
        if st in _REFUSED:
            raise FeatureNotSupported(_REFUSED[st])
        if st == AT.AT_AddColumn:
            cmds.append(_add_column(cmd.def_, bool(cmd.missing_ok)))
        elif st == AT.AT_DropColumn:
            cmds.append(_drop_column(cmd.name, bool(cmd.missing_ok)))
        elif st == AT.AT_AddConstraint:
            cmds.append(_add_check(cmd.def_))
        elif st == AT.AT_DropConstraint:
            cmds.append(_drop_constraint(cmd.name, bool(cmd.missing_ok)))
        elif st == AT.AT_ColumnDefault:
            cmds.append(_set_default(cmd.name, cmd.def_))
        elif st == AT.AT_DropNotNull:
            cmds.append(_drop_not_null(cmd.name))
        else:
            raise FeatureNotSupported(f"ALTER TABLE {st.name[3:]} is not supported")
    rel = stmt.relation
    return AlterTablePlan(schema=rel.schemaname, name=rel.relname, cmds=tuple(cmds),
                          missing_ok=bool(stmt.missing_ok), is_ddl=True)


def _rename_in_expr(sql: str, old: str, new: str) -> str:
    node = parse_expr(sql)
    for ref in list(astwalk.column_refs(node)):
        if ref.fields[-1].sval == old:
            ref.fields = ref.fields[:-1] + (ast.String(sval=new),)
    return expr_sql(node)


def plan_rename(stmt: ast.RenameStmt, catalog, param_oids) -> AlterTablePlan:
    kind = stmt.renameType
    rel = stmt.relation
    if kind in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW, ObjectType.OBJECT_SEQUENCE):
        new_name = stmt.newname
        tag = {ObjectType.OBJECT_TABLE: "ALTER TABLE", ObjectType.OBJECT_VIEW: "ALTER VIEW",
               ObjectType.OBJECT_SEQUENCE: "ALTER SEQUENCE"}[kind]

        async def rename(t: TableDef, txn, session) -> TableDef:
            if await txn.get(table_key(t.schema, new_name)) is not None:
                raise DuplicateTable(f'relation "{new_name}" already exists')
            await _rewrite_views(txn, t, rename_table=new_name)
            return replace(t, name=new_name)
        return AlterTablePlan(schema=rel.schemaname, name=rel.relname, cmds=(rename,),
                              missing_ok=bool(stmt.missing_ok), is_ddl=True, tag=tag,
                              kinds="rvS")
    if kind == ObjectType.OBJECT_COLUMN:
        old, new = stmt.subname, stmt.newname

        async def rename_column(t: TableDef, txn, session) -> TableDef:
            pos = _find_column(t, old)
            if new in t.column_names:
                raise DuplicateColumn(f'column "{new}" of relation "{t.name}" already exists')
            cols = list(t.columns)
            cols[pos] = replace(cols[pos], name=new)
            checks = tuple(replace(k, expr_sql=_rename_in_expr(k.expr_sql, old, new))
                           for k in t.checks)
            await _rewrite_views(txn, t, column=(old, new))
            for d in await _indexes_on(txn, t, old):
                await put_index(txn, replace(
                    d, columns=tuple(new if c == old else c for c in d.columns),
                    include=tuple(new if c == old else c for c in d.include)))
            return replace(t, columns=tuple(cols), checks=checks)
        return AlterTablePlan(schema=rel.schemaname, name=rel.relname, cmds=(rename_column,),
                              missing_ok=bool(stmt.missing_ok), is_ddl=True)
    raise FeatureNotSupported(f"RENAME of {kind.name[7:].lower()} is not supported")


# -- writes: identity columns ---------------------------------------------------------------------
def check_insert_identity(stmt: ast.InsertStmt, table: TableDef) -> None:
    """GENERATED ALWAYS columns take no explicit value (PostgreSQL's 428C9)."""
    always = {c.name for c in table.columns if c.identity == "a"}
    if not always or stmt.override:
        return
    cols = [c.name for c in stmt.cols] if stmt.cols else table.column_names
    sel = stmt.selectStmt
    rows = sel.valuesLists if sel is not None and sel.valuesLists else None
    for i, name in enumerate(cols):
        if name not in always:
            continue
        if rows is not None and all(isinstance(r[i], ast.SetToDefault) for r in rows
                                    if i < len(r)):
            continue
        raise GeneratedAlways(f'cannot insert a non-DEFAULT value into column "{name}"',
                              detail=f'Column "{name}" is an identity column defined as GENERATED '
                               "ALWAYS.", hint="Use OVERRIDING SYSTEM VALUE to override.")


def check_update_identity(stmt: ast.UpdateStmt, table: TableDef) -> None:
    always = {c.name for c in table.columns if c.identity == "a"}
    for target in stmt.targetList or ():
        if target.name in always and not isinstance(target.val, ast.SetToDefault):
            raise GeneratedAlways(
                f'column "{target.name}" can only be updated to DEFAULT',
                detail=f'Column "{target.name}" is an identity column defined as '
                 "GENERATED ALWAYS.")


DDL_PLANNERS = {
    ast.CreateStmt: plan_create_table,
    ast.DropStmt: plan_drop,
    ast.CreateSchemaStmt: plan_create_schema,
    ast.CreateSeqStmt: plan_create_sequence,
    ast.ViewStmt: plan_create_view,
    ast.AlterTableStmt: plan_alter_table,
    ast.RenameStmt: plan_rename,
}
