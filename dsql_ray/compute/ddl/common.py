"""What every DDL plan shares: the creation schema, catalog rows read at the
snapshot, and the writes that change a definition (its row, schema marker, version).
"""
from __future__ import annotations

from pglast import ast

from ...errors import FeatureNotSupported, InvalidSchemaName
from .. import types as T
from ..catalog import (BUILTIN_SCHEMAS, CATALOG_VERSION_KEY, ColumnDef, FIRST_USER_TABLE_ID,
                       NEXT_TABLE_ID_KEY, TableDef, namespace_key, row_to_table, schema_key,
                       table_key, table_to_row, tables_range)


MAX_BIGINT = 2 ** 63 - 1
SEQUENCE_CACHE_MIN = 65536
SEQUENCE_COLUMNS = (ColumnDef("last_value", T.INT8, True), ColumnDef("log_cnt", T.INT8, True),
                    ColumnDef("is_called", T.BOOL, True))


def _search_path(catalog) -> tuple[str, ...]:
    return tuple(getattr(catalog, "search_path", ("public",)))


def creation_schema(rel: ast.RangeVar, catalog) -> str:
    if rel.schemaname:
        return rel.schemaname
    schemas = getattr(catalog, "schemas", BUILTIN_SCHEMAS)
    for s in _search_path(catalog):
        if s in schemas:
            return s
    raise InvalidSchemaName("no schema has been selected to create in")


def qualified(parts) -> tuple[str | None, str]:
    names = [p.sval for p in parts]
    return (names[-2], names[-1]) if len(names) > 1 else (None, names[0])


async def lookup(txn, catalog, schema: str | None, name: str) -> TableDef | None:
    """A relation's definition at the transaction's snapshot (search path if unqualified)."""
    for s in ([schema] if schema else _search_path(catalog)):
        row = await txn.get(table_key(s, name))
        if row is not None:
            return row_to_table(row)
    return None


async def schema_exists(txn, name: str) -> bool:
    return name in BUILTIN_SCHEMAS or await txn.get(namespace_key(name)) is not None


async def require_schema(txn, name: str) -> None:
    if not await schema_exists(txn, name):
        raise InvalidSchemaName(f'schema "{name}" does not exist')


async def bump(txn) -> None:
    txn.put(CATALOG_VERSION_KEY, (await txn.get(CATALOG_VERSION_KEY) or 0) + 1)
    txn.touched_catalog = True


async def new_id(txn) -> int:
    table_id = await txn.get(NEXT_TABLE_ID_KEY) or FIRST_USER_TABLE_ID
    txn.put(NEXT_TABLE_ID_KEY, table_id + 1)
    return table_id


async def save(txn, new: TableDef, old: TableDef | None = None) -> None:
    """Write a changed definition, its schema marker and the catalog version."""
    if old is not None and (old.schema, old.name) != (new.schema, new.name):
        txn.delete(table_key(old.schema, old.name))
    txn.put(table_key(new.schema, new.name), table_to_row(new))
    if old is not None:
        txn.put(schema_key(new.table_id), txn.start_ts)
    await bump(txn)


def refuse_temporary(rel: ast.RangeVar, what: str) -> None:
    """DSQL keeps every relation: no temporary or unlogged ones (0A000)."""
    if rel.relpersistence != "p":
        raise FeatureNotSupported(f"{what} are not supported")


async def create_relation(txn, schema: str, name: str, columns, **definition) -> None:
    """A new keyless relation (a view, a sequence): a fresh id, its catalog row."""
    await save(txn, TableDef(await new_id(txn), schema, name, columns, (), True, **definition))


async def drop_relation(txn, t: TableDef) -> None:
    txn.delete(table_key(t.schema, t.name))
    txn.put(schema_key(t.table_id), txn.start_ts)


def kind_name(kind: str) -> str:
    return {"r": "table", "v": "view", "S": "sequence"}[kind]


async def all_relations(txn) -> list[TableDef]:
    low, high = tables_range()
    return [row_to_table(r) for _, r in await txn.scan(low, high)]


class PathOf:
    """The session's search path, in the shape :func:`lookup` wants."""

    def __init__(self, session):
        self.search_path = session.search_path()
