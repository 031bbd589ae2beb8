"""Table definitions and where the catalog lives in the key space.

The catalog is data like any other: each table's definition is a row of table 0 keyed
by (schema, name), written through the same commit path, so DDL is a distributed,
conflict-checked change. A counter row hands out table ids.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..keys import prefix_end, row_key, table_prefix

CATALOG_TABLE_ID = 0
TABLES_INDEX = 0       # (schema, name) → TableDef
COUNTERS_INDEX = 1     # (name,) → int
NEXT_TABLE_ID_KEY = row_key(CATALOG_TABLE_ID, ("next_table_id",), COUNTERS_INDEX)
FIRST_USER_TABLE_ID = 1


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type_oid: int
    not_null: bool = False
    default_sql: str | None = None     # expression text, compiled where it is used
    type_modifier: int = -1


@dataclass(frozen=True)
class TableDef:
    table_id: int
    schema: str
    name: str
    columns: tuple[ColumnDef, ...]
    pk: tuple[int, ...]                # positions of the primary-key columns
    hidden_pk: bool = False            # no declared key: rows keyed by a generated id

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def column_oids(self) -> list[int]:
        return [c.type_oid for c in self.columns]

    def key_prefix(self) -> bytes:
        return table_prefix(self.table_id)

    def key_range(self) -> tuple[bytes, bytes | None]:
        low = self.key_prefix()
        return low, prefix_end(low)

    def row_key(self, pk_values: tuple) -> bytes:
        return row_key(self.table_id, pk_values)


def table_key(schema: str, name: str) -> bytes:
    return row_key(CATALOG_TABLE_ID, (schema, name), TABLES_INDEX)


def tables_range() -> tuple[bytes, bytes | None]:
    low = table_prefix(CATALOG_TABLE_ID, TABLES_INDEX)
    return low, prefix_end(low)


def table_to_row(t: TableDef) -> tuple:
    """Catalog rows hold plain tuples, so storage and checkpoints need no compute classes."""
    return (t.table_id, t.schema, t.name,
            tuple((c.name, c.type_oid, c.not_null, c.default_sql, c.type_modifier)
                  for c in t.columns), t.pk, t.hidden_pk)


def row_to_table(row: tuple) -> TableDef:
    table_id, schema, name, cols, pk, hidden = row
    return TableDef(table_id, schema, name, tuple(ColumnDef(*c) for c in cols), tuple(pk), hidden)
