"""CHECK constraints: their SQL text, the columns they name, their compiled test.

A constraint is stored as SQL text (``CheckDef.expr_sql``) and compiled once per
(text, column names, column types) with the one expression compiler over the row
(``query/rowexpr.py``). A row violates it when the expression is false (NULL passes),
as in PostgreSQL: 23514.
"""
from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable

from ..errors import CheckViolation, DsqlError, NotNullViolation, UniqueViolation
from .catalog import TableDef
from .query import astwalk
from .query.rowexpr import RowScope, expr_sql, parse_expr  # noqa: F401 (shared)


def column_refs(node) -> list[str]:
    """The column names an expression mentions, in order."""
    return [ref.fields[-1].sval for ref in astwalk.column_refs(node)]


def check_name(table: str, refs: list[str], taken: set[str]) -> str:
    """PostgreSQL's generated name: ``<table>_<first column>_check``, numbered if taken."""
    base = f"{table}_{refs[0]}_check" if refs else f"{table}_check"
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}{i}"
    return name


@lru_cache(maxsize=4096)
def compiled_check(expr_sql: str, names: tuple[str, ...], oids: tuple[int, ...]
                   ) -> Callable[[tuple, list], object]:
    """The constraint's test over a row of these columns (42804 if not boolean)."""
    return RowScope(names, oids).condition(parse_expr(expr_sql), "CHECK constraint").fn


def validate_check(expr_sql: str, columns) -> None:
    """Compile a new constraint against the table's columns (its errors, now)."""
    cols = list(columns)
    compiled_check(expr_sql, tuple(c.name for c in cols), tuple(c.type_oid for c in cols))


@lru_cache(maxsize=1024)
def compiled_domain_check(expr_sql: str, base_oid: int) -> Callable[[tuple, list], object]:
    """A domain's CHECK over its one value, ``VALUE`` (42804 if not boolean)."""
    return RowScope(("value",), (base_oid,)).condition(parse_expr(expr_sql),
                                                       "CHECK constraint").fn


def validate_domain_check(expr_sql: str, base_oid: int) -> None:
    compiled_domain_check(expr_sql, base_oid)


def check_domain_value(domain, base_oid: int, value) -> None:
    """A value stored into a column of a domain: the domain's NOT NULL (23502) and CHECK
    constraints (23514), with PostgreSQL's messages. ``domain``: (name, oid, not null,
    ((check name, expression), ...), default)."""
    name, _, not_null, checks, *_ = domain
    if value is None:
        if not_null:
            raise NotNullViolation(f"domain {name} does not allow null values")
        return
    for cname, sql in checks:
        if compiled_domain_check(sql, base_oid)((value,), []) is False:
            raise CheckViolation(f'value for domain {name} violates check constraint "{cname}"')


def check_constraints(table: TableDef, row: tuple) -> None:
    """Raise 23514 if ``row`` violates one of the table's CHECK constraints."""
    names, oids = tuple(table.column_names), tuple(table.column_oids)
    for check in table.checks:
        if compiled_check(check.expr_sql, names, oids)(row, []) is False:
            text = row_text(row)
            raise CheckViolation(f'new row for relation "{table.name}" violates check constraint '
                                 f'"{check.name}"',
                                 detail=f"Failing row contains ({text}).")


def row_text(row: tuple) -> str:
    return ", ".join("null" if v is None else str(v) for v in row)


def check_row(table: TableDef, row: tuple) -> None:
    """NOT NULL (23502) and CHECK (23514) of a row written to ``table``."""
    for col, value in zip(table.columns, row):
        if value is None and col.not_null:
            raise NotNullViolation(f'null value in column "{col.name}" of relation "{table.name}" '
                                   "violates not-null constraint",
                                   detail=f"Failing row contains ({row_text(row)}).")
    if table.checks:
        check_constraints(table, row)
    for col, value in zip(table.columns, row):
        if col.domain is not None:
            check_domain_value(col.domain, col.type_oid, value)


def duplicate_key(table: TableDef, row: tuple) -> DsqlError:
    cols = ", ".join(table.columns[i].name for i in table.pk)
    vals = ", ".join(str(row[i]) for i in table.pk)
    return UniqueViolation(f'duplicate key value violates unique constraint "{table.name}_pkey"',
                           detail=f"Key ({cols})=({vals}) already exists.")


def new_row_key(table: TableDef, row: tuple) -> bytes:
    if table.hidden_pk:
        return table.row_key((random.getrandbits(63),))
    return table.row_key(tuple(row[i] for i in table.pk))


async def write_update(txn, t: TableDef, key: bytes, new: tuple,
                       positions: list[int]) -> None:
    """Store an updated row; its key moves if a primary-key column changed (23505 if taken)."""
    if any(pos in t.pk for pos in positions) and not t.hidden_pk:
        new_key = new_row_key(t, new)
        if new_key != key:
            if await txn.get(new_key) is not None:
                raise duplicate_key(t, new)
            txn.delete(key)
            txn.fk_moves[key] = new_key     # an update, not a delete (compute/fkeys.py)
            key = new_key
    txn.put(key, new)
