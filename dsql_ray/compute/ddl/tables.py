"""CREATE TABLE (columns, primary key, CHECK, identity, UNIQUE, FOREIGN KEY) and CREATE SCHEMA.
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, replace

from pglast import ast

from ... import limits
from ...errors import (DsqlError, DuplicateColumn, DuplicateTable, FeatureNotSupported,
                       InvalidTableDefinition, ParseError, UndefinedColumn)
from .. import types as T
from ..catalog import (BUILTIN_SCHEMAS, CheckDef, ColumnDef, SequenceDef, TableDef, namespace_key,
                       table_key)
from ..constraints import check_name, column_refs, expr_sql, validate_check
from ..index_plans import create_unique_constraints, unique_constraints
from ..plan.base import Plan
from ..result import QueryResult
from .references import (ForeignKeySpec, constraint_names, deferral, foreign_key_spec, mark_parent,
                         resolve_foreign_key)
from .domains import domain_column_type
from .common import (SEQUENCE_COLUMNS, bump, create_relation, creation_schema, new_id,
                     require_schema, save, schema_exists)
from .sequences import plain_sequence_args, sequence_def


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
    fkeys: tuple[ForeignKeySpec, ...] = ()

    async def run(self, txn, params, session) -> QueryResult:
        await require_schema(txn, self.schema)
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
            await create_relation(txn, self.schema, seq_name, SEQUENCE_COLUMNS, kind="S",
                                  sequence=replace(sdef, owned_by=f"{self.name}.{col_name}"))
            i = [c.name for c in columns].index(col_name)
            columns[i] = replace(columns[i],
                                 default_sql=f"nextval('{self.schema}.{seq_name}')")
        table_id = await new_id(txn)
        names = [c.name for c in columns]
        pk = tuple(names.index(n) for n in self.pk_names)
        table = TableDef(table_id, self.schema, self.name, tuple(columns), pk, hidden_pk=not pk,
                         checks=self.checks)
        table = await self._foreign_keys(txn, session, table)
        await save(txn, table)
        await create_unique_constraints(txn, table, self.uniques)
        return QueryResult("CREATE TABLE")

    async def _foreign_keys(self, txn, session, table: TableDef) -> TableDef:
        taken = constraint_names(table)
        fkeys = []
        for spec in self.fkeys:
            fk, _ = await resolve_foreign_key(txn, session, table, spec, taken)
            taken.add(fk.name)
            fkeys.append(replace(fk, validated=True))     # a new table has no rows
            mark_parent(txn, table, fk.ref_id)
        return replace(table, fkeys=tuple(fkeys)) if fkeys else table


def column_def(elt: ast.ColumnDef, table: str, checks: list[CheckDef], taken: set[str],
               identities: list, fkeys: list | None = None, catalog=None
               ) -> tuple[ColumnDef, bool]:
    """A column definition; returns (column, is primary key)."""
    tname = elt.typeName.names[-1].sval.lower()
    if tname in _UNSUPPORTED_TYPES:
        raise FeatureNotSupported(f'type "{_UNSUPPORTED_TYPES[tname]}" is not supported',
                                  hint="Use an identity column or a sequence with "
                                       "CACHE 1 or CACHE >= 65536 instead.")
    oid, typmod, domain = domain_column_type(elt.typeName, catalog)
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
            default = expr_sql(plain_sequence_args(con.raw_expr))
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
        elif kind == "CONSTR_FOREIGN" and fkeys is not None:
            fkeys.append(foreign_key_spec(con, elt.colname))
        elif kind.startswith("CONSTR_ATTR_") and fkeys:
            fkeys[-1] = deferral(fkeys[-1], kind)       # DEFERRABLE ... of the REFERENCES
        else:
            raise FeatureNotSupported(f"{kind[7:]} constraints are not supported yet")
    if identity and default is not None:
        raise ParseError(f'both default and identity specified for column "{elt.colname}" of '
                         f'table "{table}"')
    return ColumnDef(elt.colname, oid, not_null, default, typmod, identity=identity,
                     domain=None if domain is None else astuple(domain.ref())
                     ), is_pk


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
    fkeys: list[ForeignKeySpec] = []
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            col, is_pk = column_def(elt, rel.relname, checks, taken, identities, fkeys,
                                    catalog)
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
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_FOREIGN":
            fkeys.append(foreign_key_spec(elt))
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
    return CreateTablePlan(schema=creation_schema(rel, catalog), name=rel.relname,
                           column_defs=tuple(columns), pk_names=tuple(pk),
                           if_not_exists=bool(stmt.if_not_exists), checks=tuple(checks),
                           identities=tuple(identities), is_ddl=True,
                           uniques=unique_constraints(stmt, names), fkeys=tuple(fkeys))


@dataclass
class CreateSchemaPlan(Plan):
    name: str = ""
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        if await schema_exists(txn, self.name) or self.name in ("pg_catalog",
                                                                 "information_schema"):
            if self.if_not_exists:
                session.notice(f'schema "{self.name}" already exists, skipping')
                return QueryResult("CREATE SCHEMA")
            raise DsqlError(f'schema "{self.name}" already exists', sqlstate="42P06")
        txn.put(namespace_key(self.name), (self.name,))
        await bump(txn)
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
