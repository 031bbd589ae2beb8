"""DROP TABLE / VIEW / SEQUENCE (dependent views, owned sequences, index cleanup) and
DROP SCHEMA.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from pglast import ast
from pglast.enums import DropBehavior

from ...errors import (DependentObjectsStillExist, FeatureNotSupported, InvalidSchemaName,
                       UndefinedTable, WrongObjectType)
from ..catalog import BUILTIN_SCHEMAS, TableDef, namespace_key
from ..jobs import submit_table_cleanup
from ..plan.base import Plan
from ..result import QueryResult
from .common import (PathOf, all_relations, bump, drop_relation, kind_name, lookup, qualified,
                     save)
from .references import mark_parent, referencing, still_depend
from .views import dependent_views, depends_error


_DROP_KINDS = {"OBJECT_TABLE": "r", "OBJECT_VIEW": "v", "OBJECT_SEQUENCE": "S"}


@dataclass
class DropTablePlan(Plan):
    names: list[tuple[str | None, str]] = field(default_factory=list)
    if_exists: bool = False
    kind: str = "r"
    cascade: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        what = kind_name(self.kind)
        for schema, name in self.names:
            t = await lookup(txn, PathOf(session), schema, name)
            if t is None:
                if self.if_exists:
                    session.notice(f'{what} "{name}" does not exist, skipping')
                    continue
                raise UndefinedTable(f'{what} "{name}" does not exist')
            if t.kind != self.kind:
                other = kind_name(t.kind)
                raise WrongObjectType(f'"{name}" is not a {what}',
                                      hint=f"Use DROP {other.upper()} to remove a {other}.")
            if t.kind == "S" and t.sequence.owned_by and not self.cascade:
                raise DependentObjectsStillExist(
                    f"cannot drop sequence {name} because other objects depend on "
                    "it")
            views = await dependent_views(txn, t)
            if views and not self.cascade:
                raise depends_error(f"{what} {name}", t, views)
            if t.kind == "r":
                await self._foreign_keys(txn, session, t)
            for v in views:
                session.notice(f"drop cascades to view {v.name}")
                await drop_relation(txn, v)
            await drop_relation(txn, t)
            if t.kind == "r":      # identity sequences and indexes go with their table
                for seq in await _owned_sequences(txn, t):
                    await drop_relation(txn, seq)
                await submit_table_cleanup(txn, session.node, t)
        await bump(txn)
        return QueryResult(f"DROP {what.upper()}")


    async def _foreign_keys(self, txn, session, t: TableDef) -> None:
        """A referenced table: 2BP01, or with CASCADE its children lose the constraint;
        the parents of its own foreign keys see their schema marker change."""
        dropping = {n for _, n in self.names}
        dependents = []
        for owner, fk in await referencing(txn, t):
            if owner.table_id == t.table_id:
                mark_parent(txn, t, fk.ref_id)
            elif owner.name not in dropping:
                dependents.append((owner, fk))
        if dependents and not self.cascade:
            raise still_depend(f"table {t.name}", dependents, f"table {t.name}")
        for owner, fk in dependents:
            session.notice(f"drop cascades to constraint {fk.name} on table {owner.name}")
            current = await lookup(txn, PathOf(session), owner.schema, owner.name) or owner
            await save(txn, replace(current, fkeys=tuple(
                k for k in current.fkeys if k.name != fk.name)), current)


async def _owned_sequences(txn, t: TableDef) -> list[TableDef]:
    return [s for s in await all_relations(txn)
            if s.kind == "S" and s.schema == t.schema and s.sequence.owned_by
            and s.sequence.owned_by.split(".")[0] == t.name]


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
            inside = [t for t in await all_relations(txn) if t.schema == name]
            if inside and not self.cascade:
                raise DependentObjectsStillExist(
                    f"cannot drop schema {name} because other objects depend on "
                    "it",
                    detail="\n".join(f"{kind_name(t.kind)} {name}.{t.name} "
                    f"depends on schema {name}" for t in inside),
                    hint="Use DROP ... CASCADE to drop the dependent objects too.")
            for t in inside:
                await drop_relation(txn, t)
            txn.delete(namespace_key(name))
        await bump(txn)
        return QueryResult("DROP SCHEMA")


def plan_drop(stmt: ast.DropStmt, catalog, param_oids) -> Plan:
    kind = stmt.removeType.name
    cascade = stmt.behavior == DropBehavior.DROP_CASCADE
    if kind == "OBJECT_SCHEMA":
        return DropSchemaPlan(names=[o.sval for o in stmt.objects],
                              if_exists=bool(stmt.missing_ok), cascade=cascade, is_ddl=True)
    if kind not in _DROP_KINDS:
        raise FeatureNotSupported(f"DROP {kind[7:]} is not supported yet")
    names = [qualified(obj) for obj in stmt.objects]
    return DropTablePlan(names=names, if_exists=bool(stmt.missing_ok), kind=_DROP_KINDS[kind],
                         cascade=cascade, is_ddl=True)
