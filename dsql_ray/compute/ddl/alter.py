"""ALTER TABLE (ADD/DROP COLUMN, CHECK NOT VALID, DEFAULT, DROP NOT NULL, VALIDATE
CONSTRAINT as a job) and RENAME of relations and columns.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from pglast import ast
from pglast.enums import AlterTableType as AT, ObjectType

from ... import limits
from ...errors import (DsqlError, DuplicateColumn, DuplicateTable, FeatureNotSupported,
                       InvalidTableDefinition, ParseError, UndefinedColumn, UndefinedObject,
                       UndefinedTable, WrongObjectType)
from .. import types as T
from ..catalog import CheckDef, TableDef, table_key
from ..constraints import check_name, column_refs, expr_sql, parse_expr, validate_check
from ..indexes import load_indexes, put_index
from ..jobs import runner, submit_validation
from ..plan.base import Plan, result_column
from ..query import astwalk
from ..query.rowexpr import compile_constant
from ..result import QueryResult
from .common import PathOf, lookup, save
from .references import (constraint_names, foreign_key_spec, mark_parent, referencing,
                         rename_referenced, renamed, resolve_foreign_key, still_depend)
from .tables import column_def
from .views import dependent_views, depends_error, mentions_column, rewrite_views


@dataclass
class AlterTablePlan(Plan):
    schema: str | None = None
    name: str = ""
    cmds: tuple = ()
    missing_ok: bool = False
    tag: str = "ALTER TABLE"
    kinds: str = "r"                   # relation kinds the command applies to

    async def run(self, txn, params, session) -> QueryResult:
        old = await lookup(txn, PathOf(session), self.schema, self.name)
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
            await save(txn, t, old)
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
        col, _ = column_def(elt, t.name, [], set(), [])
        limits.columns_per_table_max.check(len(t.columns) + 1)
        t = t.with_slots()
        col = replace(col, attnum=t.width)
        return replace(t, columns=t.columns + (col,), width=t.width + 1)
    return apply


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
        dependents = [(owner, fk) for owner, fk in await referencing(txn, t)
                      if fk.ref_id == t.table_id and name in fk.ref_columns
                      and name not in (fk.columns if owner.table_id == t.table_id else ())]
        if dependents:
            raise still_depend(f"column {name} of table {t.name}", dependents,
                               f"column {name} of table {t.name}")
        for fk in t.fkeys:       # the table's own foreign keys on the column go with it
            if name in fk.columns:
                mark_parent(txn, t, fk.ref_id)
        views = [v for v in await dependent_views(txn, t) if mentions_column(v, name)]
        if views:
            raise depends_error(f"column {name} of table {t.name}", t, views)
        t = t.with_slots()
        cols = t.columns[:pos] + t.columns[pos + 1:]
        pk = tuple(p - (p > pos) for p in t.pk)
        checks = tuple(k for k in t.checks if name not in column_refs(parse_expr(k.expr_sql)))
        fkeys = tuple(k for k in t.fkeys if name not in k.columns)
        return replace(t, columns=cols, pk=pk, checks=checks, fkeys=fkeys)
    return apply


async def _indexes_on(txn, t: TableDef, column: str) -> list:
    """Secondary indexes of ``t`` that name ``column`` (compute/indexes.py)."""
    return [d for d in await load_indexes(txn)
            if d.table_id == t.table_id and d.mentions(column)]


def _add_foreign_key(con: ast.Constraint):
    """ADD CONSTRAINT ... FOREIGN KEY: at once on an empty table, else NOT VALID (then
    ALTER TABLE ASYNC ... VALIDATE CONSTRAINT checks the rows in a job), as DSQL."""
    spec = foreign_key_spec(con)

    async def apply(t: TableDef, txn, session) -> TableDef:
        fk, _ = await resolve_foreign_key(txn, session, t, spec, constraint_names(t))
        if fk.validated and await txn.scan(*t.key_range(), columns=()):
            raise FeatureNotSupported(
                "adding a FOREIGN KEY constraint to a table with rows requires NOT VALID",
                hint="Use ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then "
                     "ALTER TABLE ASYNC ... VALIDATE CONSTRAINT.")
        mark_parent(txn, t, fk.ref_id)
        return replace(t, fkeys=t.fkeys + (fk,))
    return apply


def _add_check(con: ast.Constraint):
    if con.contype.name == "CONSTR_FOREIGN":
        return _add_foreign_key(con)

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
        taken = constraint_names(t)
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
        fkeys = tuple(k for k in t.fkeys if k.name != name)
        for k in t.fkeys:
            if k.name == name:
                mark_parent(txn, t, k.ref_id)
        if len(kept) == len(t.checks) and len(fkeys) == len(t.fkeys):
            if missing_ok:
                session.notice(f'constraint "{name}" of relation "{t.name}" does not exist, '
                               "skipping")
                return t
            if name == f"{t.name}_pkey":
                raise FeatureNotSupported("dropping the primary key is not supported")
            raise UndefinedObject(f'constraint "{name}" of relation "{t.name}" does not exist')
        return replace(t, checks=kept, fkeys=fkeys)
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
        t = await lookup(txn, PathOf(session), self.schema, self.name)
        if t is None or t.kind != "r":
            raise UndefinedTable(f'relation "{self.name}" does not exist')
        if not any(c.name == self.constraint for c in (*t.checks, *t.fkeys)):
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
    node = copy.deepcopy(parse_expr(sql))   # the parsed text is shared
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
            await rewrite_views(txn, t, rename_table=new_name)
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
            fkeys = tuple(replace(renamed(k, t.table_id, old, new),
                                  columns=tuple(new if c == old else c for c in k.columns))
                          for k in t.fkeys)
            await rename_referenced(txn, t, old, new)
            await rewrite_views(txn, t, column=(old, new))
            for d in await _indexes_on(txn, t, old):
                await put_index(txn, d.renamed(old, new, _rename_in_expr))
            return replace(t, columns=tuple(cols), checks=checks, fkeys=fkeys)
        return AlterTablePlan(schema=rel.schemaname, name=rel.relname, cmds=(rename_column,),
                              missing_ok=bool(stmt.missing_ok), is_ddl=True)
    raise FeatureNotSupported(f"RENAME of {kind.name[7:].lower()} is not supported")
