"""CREATE DOMAIN and DROP DOMAIN (``userdefs.py`` holds the definitions), and the
domain a column's type names (``domain_column_type``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import DropBehavior

from ...errors import (DependentObjectsStillExist, DuplicateObject, FeatureNotSupported,
                       UndefinedObject)
from ..constraints import validate_domain_check
from ..plan.base import Plan
from ..query.rowexpr import expr_sql
from ..result import QueryResult
from ..userdefs import DOMAIN_OID_BASE, DomainDef, domain_key, domain_to_row, row_to_domain
from .coltypes import column_type
from .common import all_relations, bump, creation_schema, new_id, qualified, require_schema

@dataclass
class CreateDomainPlan(Plan):
    domain: DomainDef | None = None

    async def run(self, txn, params, session) -> QueryResult:
        d = self.domain
        await require_schema(txn, d.schema)
        if await txn.get(domain_key(d.schema, d.name)) is not None:
            raise DuplicateObject(f'type "{d.name}" already exists')
        oid = DOMAIN_OID_BASE + await new_id(txn)
        txn.put(domain_key(d.schema, d.name), domain_to_row(DomainDef(
            d.schema, d.name, oid, d.base_oid, d.typmod, d.default_sql, d.not_null, d.checks)))
        await bump(txn)
        return QueryResult("CREATE DOMAIN")


def _constraints(stmt: ast.CreateDomainStmt, name: str, base: int):
    """(default, not null, checks) of a CREATE DOMAIN."""
    default, not_null, checks = None, False, []
    for con in stmt.constraints or ():
        kind = con.contype.name
        if kind == "CONSTR_NOTNULL":
            not_null = True
        elif kind == "CONSTR_NULL":
            not_null = False
        elif kind == "CONSTR_DEFAULT":
            default = expr_sql(con.raw_expr)
        elif kind == "CONSTR_CHECK":
            taken = {c for c, _ in checks}
            cname, n = con.conname or f"{name}_check", 0
            while con.conname is None and cname in taken:
                n += 1
                cname = f"{name}_check{n}"
            sql = expr_sql(con.raw_expr)
            validate_domain_check(sql, base)
            checks.append((cname, sql))
        else:
            raise FeatureNotSupported(f"{kind[7:]} constraints on domains are not supported")
    return default, not_null, tuple(checks)


def plan_create_domain(stmt: ast.CreateDomainStmt, catalog, param_oids) -> CreateDomainPlan:
    schema, name = qualified(stmt.domainname)
    schema = schema or creation_schema(ast.RangeVar(relname=name), catalog)
    base, typmod = column_type(stmt.typeName)
    default, not_null, checks = _constraints(stmt, name, base)
    return CreateDomainPlan(domain=DomainDef(schema, name, 0, base, typmod, default, not_null,
                                             checks), is_ddl=True)


@dataclass
class DropDomainPlan(Plan):
    names: list[tuple[str | None, str]] = field(default_factory=list)
    if_exists: bool = False
    cascade: bool = False
    search_path: tuple[str, ...] = ("public",)

    async def run(self, txn, params, session) -> QueryResult:
        tables = await all_relations(txn)
        for schema, name in self.names:
            d = await self._find(txn, schema, name)
            if d is None:
                if not self.if_exists:
                    raise UndefinedObject(f'type "{name}" does not exist')
                session.notice(f'type "{name}" does not exist, skipping')
                continue
            users = [(t, c) for t in tables for c in t.columns
                     if c.domain is not None and c.domain[1] == d.oid]
            if users and not self.cascade:
                t, c = users[0]
                raise DependentObjectsStillExist(
                    f"cannot drop type {name} because other objects depend on it",
                    detail=f"column {c.name} of table {t.name} depends on type {name}",
                    hint="Use DROP ... CASCADE to drop the dependent objects too.")
            if users:
                raise FeatureNotSupported("DROP DOMAIN ... CASCADE of a domain that columns "
                                          "use is not supported")
            txn.delete(domain_key(d.schema, d.name))
        await bump(txn)
        return QueryResult("DROP DOMAIN")

    async def _find(self, txn, schema: str | None, name: str) -> DomainDef | None:
        for s in ([schema] if schema else self.search_path):
            row = await txn.get(domain_key(s, name))
            if row is not None:
                return row_to_domain(row)
        return None


def plan_drop_domain(stmt: ast.DropStmt, catalog, param_oids) -> DropDomainPlan:
    names = []
    for obj in stmt.objects:
        parts = obj.names if isinstance(obj, ast.TypeName) else obj
        names.append(qualified(parts))
    return DropDomainPlan(names=names, if_exists=bool(stmt.missing_ok),
                          cascade=stmt.behavior == DropBehavior.DROP_CASCADE,
                          search_path=tuple(getattr(catalog, "search_path", ("public",))),
                          is_ddl=True)


def domain_column_type(tn: ast.TypeName, catalog) -> tuple[int, int, DomainDef | None]:
    """(type oid, typmod, domain) of a column's type: a built-in type, or a domain of the
    catalog (its base type)."""
    try:
        oid, typmod = column_type(tn)
        return oid, typmod, None
    except UndefinedObject:
        d = find_domain(catalog, tn)
        if d is None:
            raise
        return d.base_oid, d.typmod, d


def find_domain(catalog, tn: ast.TypeName) -> DomainDef | None:
    """The domain a type name names, in the catalog cache (search path if unqualified)."""
    if tn.arrayBounds:
        return None
    domains = getattr(catalog, "domains", None) or {}
    schema, name = qualified(tn.names)
    for s in ([schema] if schema else getattr(catalog, "search_path", ("public",))):
        if (s, name) in domains:
            return domains[(s, name)]
    return None
