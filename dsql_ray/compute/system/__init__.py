"""System catalogs: pg_catalog and information_schema as virtual tables.

The general query engine reads them like any table: :class:`SystemCatalog` resolves
their names (falling back to the user catalog), :func:`scan_system` generates their rows
from the table definitions at the statement's snapshot, and :mod:`.functions` adds the
functions catalog queries call (format_type, pg_get_expr, pg_table_is_visible …).
Constructs the engine does not know (reg* casts, COLLATE, set-returning functions in
the select list …) are rewritten first (:mod:`.rewrite`).

Hooks (compute/plan/): ``plan_select`` sends statements that mention a system
relation to :func:`prepare_system_select`; ``plan/engine.TxnSource.resolve`` / ``scan`` call
:func:`resolve` / :func:`scan_system` for system tables (``table_id < 0``).
"""
from __future__ import annotations

from pglast import ast

from ..catalog import TableDef, row_to_table, schemas_range, tables_range
from . import functions as _functions  # noqa: F401  (registers the functions)
from . import tables as ST
from .functions import CURRENT_SETTINGS, session_settings
from .rewrite import mentions_system, rewrite, system_relation
from ..query import prepare_select
from ..indexes import load_indexes
from ..jobs import load_jobs
from ..userdefs import load_domains, load_functions

__all__ = ["SystemCatalog", "mentions_system", "prepare_system_select", "resolve",
           "scan_system", "is_system", "CURRENT_SETTINGS"]


def is_system(table: TableDef) -> bool:
    return table.table_id < 0


def resolve(catalog, rangevar) -> TableDef:
    key = system_relation(rangevar)
    if key is not None:
        return ST.SYSTEM[key].table
    return catalog.resolve(rangevar)


class SystemCatalog:
    """The planner's catalog: system relations first (pg_catalog is on every path)."""

    def __init__(self, catalog):
        self.catalog = catalog

    def resolve(self, rangevar) -> TableDef:
        return resolve(self.catalog, rangevar)

    def system_snapshot(self) -> list[TableDef]:
        tables = getattr(self.catalog, "tables", None)
        if isinstance(tables, dict):
            return list(tables.values())
        return list(tables or ())

    def __getattr__(self, name):
        return getattr(self.catalog, name)


def prepare_system_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]):
    stmt = rewrite(stmt)
    return prepare_select(stmt, SystemCatalog(catalog), list(param_oids))


async def user_tables(txn) -> list[TableDef]:
    """Table definitions as of the transaction's snapshot (its own DDL included)."""
    low, high = tables_range()
    return [row_to_table(r) for _, r in await txn.scan(low, high)]


def rows_for(table: TableDef, tables: list[TableDef], settings: dict | None = None,
             user: str = ST.OWNER, extras: dict | None = None) -> list[tuple]:
    snap = ST.Snapshot(tables, settings if settings is not None else session_settings(), user)
    for name, value in (extras or {}).items():      # indexes, jobs
        setattr(snap, name, value)
    return [tuple(r) for r in ST.BY_ID[table.table_id].rows(snap)]


async def user_schemas(txn) -> list[str]:
    """Schemas made by CREATE SCHEMA, as of the transaction's snapshot."""
    low, high = schemas_range()
    return [r[0] for _, r in await txn.scan(low, high)]


async def index_extras(txn) -> dict:
    """Secondary indexes and sys.jobs rows at the transaction's snapshot."""
    return {"indexes": tuple(await load_indexes(txn)), "domains": tuple(await load_domains(txn)),
            "functions": tuple(await load_functions(txn)),
            "jobs": tuple(sorted(await load_jobs(txn), key=lambda j: j.start_time))}


async def scan_system(table: TableDef, txn, cache: dict | None = None,
                      settings: dict | None = None) -> list[tuple]:
    """Rows of system relation ``table``; ``cache`` keeps the catalog read per statement."""
    if cache is not None and "tables" in cache:
        tables = cache["tables"]
    else:
        tables = await user_tables(txn)
        if cache is not None:
            cache["tables"] = tables
        _functions.CURRENT_TABLES.set(tables)    # catalog functions see the same tables
    extras = cache.get("index_extras") if cache is not None else None
    if extras is None:
        extras = await index_extras(txn)
        if cache is not None:
            cache["index_extras"] = extras
    if "_schemas" not in extras:                     # CREATE SCHEMA'd (compute/ddl/tables.py)
        extras = {**extras, "_schemas": set(await user_schemas(txn))}
        if cache is not None:
            cache["index_extras"] = extras
    _functions.CURRENT_EXTRAS.set(extras)        # … and the same domains and functions
    return rows_for(table, tables, settings, extras=extras)
