"""Relation definitions and where the catalog lives in the key space.

The catalog is data like any other: each relation's definition (table, view, sequence)
is a row of table 0 keyed by (schema, name), schemas are rows keyed by name, written
through the same commit path, so DDL is a distributed, conflict-checked change. A
counter row hands out relation ids.

Versioning: every DDL that changes or drops a relation also writes the relation's
*schema marker* (a key in the relation's own key range, see :func:`schema_key`). A
transaction that resolved a relation sends its marker to the adjudicator as a read key
when it commits: a DDL committed after the transaction's snapshot fails it with OC001.

Row layout: a stored row is a tuple of *slots*; each column has a fixed slot (its
``attnum``), a dropped column keeps its slot (PostgreSQL's attisdropped) and a column
added later gets a new slot that rows stored before it lack: they read the column's
``missing`` value (PostgreSQL's attmissingval). Tables never altered store rows in column
order and need no translation.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..adjudicator.adjudicator import SCHEMA_INDEX
from ..errors import UndefinedTable
from ..keys import prefix_end, row_key, table_prefix


class UnknownTable(UndefinedTable):
    """A relation name that resolves to nothing (42P01)."""

    def __init__(self, name: str, **kw):
        super().__init__(f'relation "{name}" does not exist', **kw)
        self.name = name

CATALOG_TABLE_ID = 0
TABLES_INDEX = 0       # (schema, name) → TableDef row
COUNTERS_INDEX = 1     # (name,) → int
SCHEMAS_INDEX = 2      # (name,) → (name,)
NEXT_TABLE_ID_KEY = row_key(CATALOG_TABLE_ID, ("next_table_id",), COUNTERS_INDEX)
#: bumped by every DDL: a compute whose cached catalog has the same version is current
CATALOG_VERSION_KEY = row_key(CATALOG_TABLE_ID, ("catalog_version",), COUNTERS_INDEX)
FIRST_USER_TABLE_ID = 1
BUILTIN_SCHEMAS = ("public",)


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type_oid: int
    not_null: bool = False
    default_sql: str | None = None     # expression text, compiled where it is used
    type_modifier: int = -1
    attnum: int = -1                   # storage slot; -1: the column's position
    missing: Any = None                # what rows stored before ADD COLUMN read
    identity: str = ""                 # "a" GENERATED ALWAYS, "d" BY DEFAULT
    #: a column of a domain: (name, oid, not null, ((check name, expression), ...),
    #: default expression)
    domain: tuple | None = None

    @property
    def default_expr(self) -> str | None:
        """What a row gets when it gives no value: the column's DEFAULT, else its
        domain's (PostgreSQL keeps them apart: only the first is the column's)."""
        if self.default_sql is not None or self.domain is None or len(self.domain) < 5:
            return self.default_sql
        return self.domain[4]


@dataclass(frozen=True)
class CheckDef:
    name: str
    expr_sql: str
    validated: bool = True


@dataclass(frozen=True)
class ForeignKeyDef:
    """A FOREIGN KEY of the table holding it (the child) to ``ref_id`` (the parent).

    Actions and match types use PostgreSQL's pg_constraint letters: ``a`` NO ACTION,
    ``r`` RESTRICT, ``c`` CASCADE, ``n`` SET NULL, ``d`` SET DEFAULT; ``s`` MATCH SIMPLE,
    ``f`` MATCH FULL. Enforcement: compute/fkeys.py."""
    name: str
    columns: tuple[str, ...]           # the child's columns
    ref_id: int                        # the parent's table id (survives renames)
    ref_columns: tuple[str, ...]       # the parent's primary key or UNIQUE columns
    on_update: str = "a"
    on_delete: str = "a"
    match: str = "s"
    deferrable: bool = False
    deferred: bool = False
    validated: bool = True
    delete_set: tuple[str, ...] = ()   # ON DELETE SET NULL/DEFAULT (cols): only these


@dataclass(frozen=True)
class SequenceDef:
    start: int = 1
    increment: int = 1
    min_value: int = 1
    max_value: int = 2 ** 63 - 1
    cache: int = 1
    cycle: bool = False
    owned_by: str | None = None        # "table.column" of an identity column


@dataclass(frozen=True)
class TableDef:
    table_id: int
    schema: str
    name: str
    columns: tuple[ColumnDef, ...]
    pk: tuple[int, ...]                # positions of the primary-key columns
    hidden_pk: bool = False            # no declared key: rows keyed by a generated id
    kind: str = "r"                    # "r" table, "v" view, "S" sequence
    width: int = -1                    # slots in a stored row; -1: one per column
    checks: tuple[CheckDef, ...] = ()
    view_sql: str | None = None
    sequence: SequenceDef | None = None
    fkeys: tuple[ForeignKeyDef, ...] = ()

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

    # -- row layout -------------------------------------------------------------------
    @property
    def altered(self) -> bool:
        """True once a column was dropped or added after rows may exist."""
        return self.width >= 0

    def decode(self, stored: tuple | None) -> tuple | None:
        """A stored row (slots) → the row in column order."""
        if stored is None or not self.altered:
            return stored
        n = len(stored)
        return tuple(stored[c.attnum] if c.attnum < n else c.missing for c in self.columns)

    def encode(self, row: tuple | None) -> tuple | None:
        """A row in column order → its stored slots (dropped slots hold NULL)."""
        if row is None or not self.altered:
            return row
        out: list[Any] = [None] * self.width
        for c, v in zip(self.columns, row):
            out[c.attnum] = v
        return tuple(out)

    def with_slots(self) -> "TableDef":
        """This table with explicit slots, ready for ADD/DROP COLUMN."""
        if self.altered:
            return self
        cols = tuple(replace(c, attnum=i) for i, c in enumerate(self.columns))
        return replace(self, columns=cols, width=len(cols))


def schema_key(table_id: int) -> bytes:
    """The relation's schema marker: written by DDL, read-checked by every user."""
    return table_prefix(table_id, SCHEMA_INDEX)


def table_key(schema: str, name: str) -> bytes:
    return row_key(CATALOG_TABLE_ID, (schema, name), TABLES_INDEX)


def namespace_key(name: str) -> bytes:
    return row_key(CATALOG_TABLE_ID, (name,), SCHEMAS_INDEX)


def tables_range() -> tuple[bytes, bytes | None]:
    low = table_prefix(CATALOG_TABLE_ID, TABLES_INDEX)
    return low, prefix_end(low)


def schemas_range() -> tuple[bytes, bytes | None]:
    low = table_prefix(CATALOG_TABLE_ID, SCHEMAS_INDEX)
    return low, prefix_end(low)


def sequence_key(table_id: int) -> bytes:
    """The row holding a sequence's next unallocated value."""
    return row_key(table_id, ())


def table_to_row(t: TableDef) -> tuple:
    """Catalog rows hold plain tuples, so storage and checkpoints need no compute classes."""
    seq = t.sequence
    return (t.table_id, t.schema, t.name,
            tuple((c.name, c.type_oid, c.not_null, c.default_sql, c.type_modifier,
                   c.attnum, c.missing, c.identity, c.domain) for c in t.columns), t.pk, t.hidden_pk,
            t.kind, t.width, tuple((k.name, k.expr_sql, k.validated) for k in t.checks),
            t.view_sql,
            None if seq is None else (seq.start, seq.increment, seq.min_value, seq.max_value,
                                      seq.cache, seq.cycle, seq.owned_by),
            tuple(tuple(f) for f in (_fk_tuple(k) for k in t.fkeys)))


def _fk_tuple(k: ForeignKeyDef) -> tuple:
    return (k.name, k.columns, k.ref_id, k.ref_columns, k.on_update, k.on_delete, k.match,
            k.deferrable, k.deferred, k.validated, k.delete_set)


def row_to_table(row: tuple) -> TableDef:
    table_id, schema, name, cols, pk, hidden, *rest = row
    kind, width, checks, view_sql, seq, fkeys = (
        list(rest) + ["r", -1, (), None, None, ()][len(rest):])
    return TableDef(table_id, schema, name, tuple(ColumnDef(*c) for c in cols), tuple(pk),
                    hidden, kind, width, tuple(CheckDef(*k) for k in checks), view_sql,
                    None if seq is None else SequenceDef(*seq),
                    tuple(ForeignKeyDef(*f) for f in fkeys))
