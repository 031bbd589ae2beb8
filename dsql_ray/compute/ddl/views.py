"""CREATE VIEW, and the views over a relation: views are stored as their SQL text,
so DROP finds their dependencies and a rename rewrites them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from pglast import ast, parse_sql

from ...errors import (DependentObjectsStillExist, DsqlError, DuplicateColumn, DuplicateTable,
                       FeatureNotSupported, InvalidTableDefinition, ParseError,
                       UndefinedParameter, WrongObjectType)
from .. import types as T
from ..catalog import ColumnDef, TableDef
from ..constraints import expr_sql
from ..plan.base import Plan
from ..query import astwalk, prepare_select
from ..query.sqltypes import type_modifier
from ..result import QueryResult
from ..system import SystemCatalog
from .common import (all_relations, create_relation, creation_schema, kind_name, lookup,
                     refuse_temporary, require_schema, save)


def walk(node, visit) -> None:
    for n in astwalk.nodes(node):
        visit(n)


def names_table(view: TableDef, t: TableDef, rv: ast.RangeVar) -> bool:
    """Whether ``rv`` in the view's query names table ``t``."""
    return rv.relname == t.name and (rv.schemaname == t.schema or (
        rv.schemaname is None and t.schema in (view.schema, "public")))


def view_tree(view: TableDef):
    return parse_sql(view.view_sql)[0].stmt


def view_uses(view: TableDef, t: TableDef) -> bool:
    found = []
    walk(view_tree(view), lambda n: found.append(n) if isinstance(n, ast.RangeVar)
          and names_table(view, t, n) else None)
    return bool(found)


async def dependent_views(txn, t: TableDef) -> list[TableDef]:
    """Views whose query reads ``t``, and views over those (PostgreSQL's pg_depend)."""
    views = [v for v in await all_relations(txn) if v.kind == "v"]
    out: list[TableDef] = []
    todo = [t]
    while todo:
        base = todo.pop()
        for v in views:
            if v not in out and v.table_id != t.table_id and view_uses(v, base):
                out.append(v)
                todo.append(v)
    return out


def depends_error(what: str, t: TableDef, views: list[TableDef]) -> DsqlError:
    return DependentObjectsStillExist(
        f"cannot drop {what} because other objects depend on it",
        detail="\n".join(f"view {v.name} depends on {kind_name(t.kind)} {t.name}"
        for v in views),
        hint="Use DROP ... CASCADE to drop the dependent objects too.")


def mentions_column(view: TableDef, name: str) -> bool:
    found = []
    walk(view_tree(view), lambda n: found.append(n) if isinstance(n, ast.ColumnRef) and (
        isinstance(n.fields[-1], ast.A_Star) or getattr(n.fields[-1], "sval", None) == name)
        else None)
    return bool(found)


async def rewrite_views(txn, t: TableDef, rename_table: str | None = None,
                         column: tuple[str, str] | None = None) -> None:
    """Keep views over ``t`` working after it (or one of its columns) is renamed: views
    are stored as SQL text, PostgreSQL's follow the table by oid."""
    for v in await dependent_views(txn, t):
        tree = view_tree(v)
        if not view_uses(v, t):
            continue

        def visit(n):
            if rename_table and isinstance(n, ast.RangeVar) and names_table(v, t, n):
                n.relname = rename_table
            if column and isinstance(n, ast.ColumnRef) \
                    and getattr(n.fields[-1], "sval", None) == column[0]:
                n.fields = n.fields[:-1] + (ast.String(sval=column[1]),)
        walk(tree, visit)
        await save(txn, replace(v, view_sql=expr_sql(tree)), v)


@dataclass
class CreateViewPlan(Plan):
    schema: str = "public"
    name: str = ""
    view_columns: tuple[ColumnDef, ...] = ()
    sql: str = ""
    replace: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        await require_schema(txn, self.schema)
        old = await lookup(txn, None, self.schema, self.name)
        if old is not None:
            if old.kind != "v":
                raise WrongObjectType(f'"{self.name}" is not a view')
            if not self.replace:
                raise DuplicateTable(f'relation "{self.name}" already exists')
            old_names = old.column_names
            if [c.name for c in self.view_columns[:len(old_names)]] != old_names:
                raise InvalidTableDefinition("cannot drop columns from view")
            await save(txn, replace(old, columns=self.view_columns, view_sql=self.sql), old)
            return QueryResult("CREATE VIEW")
        await create_relation(txn, self.schema, self.name, self.view_columns, kind="v",
                              view_sql=self.sql)
        return QueryResult("CREATE VIEW")


def plan_create_view(stmt: ast.ViewStmt, catalog, param_oids) -> CreateViewPlan:
    rel = stmt.view
    refuse_temporary(rel, "temporary views")
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
    return CreateViewPlan(schema=creation_schema(rel, catalog), name=rel.relname,
                          view_columns=cols, sql=expr_sql(stmt.query),
                          replace=bool(stmt.replace), is_ddl=True)
