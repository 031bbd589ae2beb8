"""FOREIGN KEY / REFERENCES in CREATE TABLE and ALTER TABLE: the clause read at plan time,
checked against the parent at the transaction's snapshot (PostgreSQL's errors), stored in
the child's definition (``catalog.ForeignKeyDef``). Enforcement: ``compute/fkeys.py``."""
from __future__ import annotations

from dataclasses import dataclass, replace

from pglast import ast

from ...errors import (DatatypeMismatch, DependentObjectsStillExist, FeatureNotSupported, InvalidForeignKey,
                       UndefinedColumn, UndefinedTable, WrongObjectType)
from .. import types as T
from ..catalog import ForeignKeyDef, TableDef, schema_key
from ..indexes import VALID, load_indexes
from .common import PathOf, all_relations, lookup, save

#: type groups whose values compare (and encode) alike
_FAMILIES = ({T.INT2, T.INT4, T.INT8}, {T.TEXT, T.VARCHAR, T.BPCHAR}, {T.FLOAT4, T.FLOAT8})
_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
            "d": "SET DEFAULT"}


@dataclass(frozen=True)
class ForeignKeySpec:
    """A FOREIGN KEY clause as written (names still unresolved)."""
    name: str | None
    columns: tuple[str, ...]
    schema: str | None
    table: str
    ref_columns: tuple[str, ...]       # () → the parent's primary key
    on_update: str
    on_delete: str
    match: str
    deferrable: bool
    deferred: bool
    validated: bool
    delete_set: tuple[str, ...]


def foreign_key_spec(con: ast.Constraint, column: str | None = None) -> ForeignKeySpec:
    if con.fk_matchtype == "p":
        raise FeatureNotSupported("MATCH PARTIAL not yet implemented")
    if getattr(con, "fk_upd_set_cols", None):
        raise FeatureNotSupported("a column list with SET NULL/SET DEFAULT is only "
                                  "supported for ON DELETE actions")
    cols = (column,) if column is not None else tuple(a.sval for a in con.fk_attrs or ())
    return ForeignKeySpec(
        con.conname, cols, con.pktable.schemaname, con.pktable.relname,
        tuple(a.sval for a in con.pk_attrs or ()), con.fk_upd_action or "a",
        con.fk_del_action or "a", con.fk_matchtype if con.fk_matchtype == "f" else "s",
        bool(con.deferrable), bool(con.initdeferred), not con.skip_validation,
        tuple(a.sval for a in getattr(con, "fk_del_set_cols", None) or ()))


def deferral(spec: ForeignKeySpec, kind: str) -> ForeignKeySpec:
    """A column's ``REFERENCES ... [NOT] DEFERRABLE INITIALLY DEFERRED|IMMEDIATE``: the
    parser gives the attributes as constraints of their own, after the REFERENCES."""
    if kind == "CONSTR_ATTR_DEFERRABLE":
        return replace(spec, deferrable=True)
    if kind == "CONSTR_ATTR_NOT_DEFERRABLE":
        return replace(spec, deferrable=False, deferred=False)
    if kind == "CONSTR_ATTR_DEFERRED":
        return replace(spec, deferrable=True, deferred=True)
    return replace(spec, deferred=False)


def constraint_names(t: TableDef) -> set[str]:
    return {k.name for k in t.checks} | {k.name for k in t.fkeys} | {f"{t.name}_pkey"}


def foreign_key_name(table: str, columns: tuple[str, ...], taken: set[str]) -> str:
    """PostgreSQL's generated name: ``<table>_<columns joined by _>_fkey``, numbered if taken."""
    base = f"{table}_{'_'.join(columns)}_fkey"[:63]
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}{i}"
    return name


def _column(t: TableDef, name: str):
    for c in t.columns:
        if c.name == name:
            return c
    raise UndefinedColumn(f'column "{name}" referenced in foreign key constraint does not '
                          "exist")


def _comparable(a: int, b: int) -> bool:
    return a == b or any(a in f and b in f for f in _FAMILIES)


async def _referenced_columns(txn, parent: TableDef, spec: ForeignKeySpec) -> tuple[str, ...]:
    """The parent's primary key, or the named columns if a primary key or UNIQUE covers
    them exactly (42830 otherwise)."""
    pk = tuple(parent.columns[i].name for i in parent.pk) if not parent.hidden_pk else ()
    if not spec.ref_columns:
        if not pk:
            raise InvalidForeignKey(f'there is no primary key for referenced table '
                                    f'"{parent.name}"', sqlstate="42704")
        return pk
    for name in spec.ref_columns:
        _column(parent, name)
    want = sorted(spec.ref_columns)
    if pk and sorted(pk) == want:
        return spec.ref_columns
    for d in await load_indexes(txn):
        if d.table_id == parent.table_id and d.unique and d.whole and d.state == VALID \
                and sorted(d.key_names(parent)) == want:
            return spec.ref_columns
    raise InvalidForeignKey("there is no unique constraint matching given keys for "
                            f'referenced table "{parent.name}"')


async def resolve_foreign_key(txn, session, child: TableDef, spec: ForeignKeySpec,
                              taken: set[str]) -> tuple[ForeignKeyDef, TableDef]:
    """The stored definition and the parent (``child`` itself if it references itself)."""
    if spec.table == child.name and spec.schema in (None, child.schema):
        parent = child
    else:
        parent = await lookup(txn, PathOf(session), spec.schema, spec.table)
        if parent is None:
            raise UndefinedTable(f'relation "{spec.table}" does not exist')
        if parent.kind != "r":
            raise WrongObjectType(f'referenced relation "{spec.table}" is not a table')
    ref_columns = await _referenced_columns(txn, parent, spec)
    if len(ref_columns) != len(spec.columns):
        raise InvalidForeignKey("number of referencing and referenced columns for foreign key "
                                "disagree", sqlstate="42830")
    name = spec.name or foreign_key_name(child.name, spec.columns, taken)
    if name in taken:
        raise InvalidForeignKey(f'constraint "{name}" for relation "{child.name}" already '
                                "exists", sqlstate="42710")
    for mine, theirs in zip(spec.columns, ref_columns):
        a, b = _column(child, mine), _column(parent, theirs)
        if not _comparable(a.type_oid, b.type_oid):
            raise DatatypeMismatch(
                f'foreign key constraint "{name}" cannot be implemented',
                detail=f'Key columns "{mine}" and "{theirs}" are of incompatible types: '
                       f"{T.OID_TO_NAME.get(a.type_oid)} and {T.OID_TO_NAME.get(b.type_oid)}.")
    for col in spec.delete_set:
        if col not in spec.columns:
            raise InvalidForeignKey(f'column "{col}" referenced in ON DELETE SET action must '
                                    "be part of foreign key", sqlstate="42P10")
    return ForeignKeyDef(name, spec.columns, parent.table_id, ref_columns, spec.on_update,
                         spec.on_delete, spec.match, spec.deferrable, spec.deferred,
                         spec.validated, spec.delete_set), parent


def mark_parent(txn, child: TableDef, parent_id: int) -> None:
    """A foreign key added or dropped changes what the parent's writers must check: its
    schema marker fails transactions that used the parent before (OC001)."""
    if parent_id != child.table_id:
        txn.put(schema_key(parent_id), txn.start_ts)


def action_text(code: str) -> str:
    return _ACTIONS.get(code, "NO ACTION")


async def referencing(txn, t: TableDef) -> list[tuple[TableDef, ForeignKeyDef]]:
    """Foreign keys ``t`` holds and those referencing it: (the table holding it, it)."""
    out = [(t, k) for k in t.fkeys]
    for other in await all_relations(txn):
        if other.table_id != t.table_id:
            out.extend((other, k) for k in other.fkeys if k.ref_id == t.table_id)
    return out


def still_depend(what: str, dependents: list[tuple[TableDef, ForeignKeyDef]], on: str
                 ) -> DependentObjectsStillExist:
    """2BP01 naming every foreign key that depends on ``on``, as PostgreSQL lists them."""
    return DependentObjectsStillExist(
        f"cannot drop {what} because other objects depend on it",
        detail="\n".join(f"constraint {fk.name} on table {owner.name} depends on {on}"
                         for owner, fk in dependents),
        hint="Use DROP ... CASCADE to drop the dependent objects too.")


def renamed(fk: ForeignKeyDef, table_id: int, old: str, new: str) -> ForeignKeyDef:
    """``fk`` after column ``old`` of table ``table_id`` became ``new`` (its own columns
    if it is held by that table, its referenced ones if it references it)."""
    def swap(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if c == old else c for c in cols)
    return replace(fk, ref_columns=swap(fk.ref_columns) if fk.ref_id == table_id
                   else fk.ref_columns)


async def rename_referenced(txn, t: TableDef, old: str, new: str) -> None:
    """Foreign keys of other tables that reference the renamed column of ``t``."""
    for other in await all_relations(txn):
        if other.table_id != t.table_id and any(
                k.ref_id == t.table_id and old in k.ref_columns for k in other.fkeys):
            await save(txn, replace(other, fkeys=tuple(
                renamed(k, t.table_id, old, new) for k in other.fkeys)), other)
