"""CHECK constraints: their SQL text, the columns they name, their compiled test.

A constraint is stored as SQL text (``CheckDef.expr_sql``) and compiled once per
(text, column names, column types) with the one expression compiler over the row
(``query/rowexpr.py``). A row violates it when the expression is false (NULL passes),
as in PostgreSQL: 23514.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from ..errors import CheckViolation, NotNullViolation
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
            text = ", ".join("null" if v is None else str(v) for v in row)
            raise CheckViolation(f'new row for relation "{table.name}" violates check constraint '
                                 f'"{check.name}"',
                                 detail=f"Failing row contains ({text}).")
