"""User-defined domains and SQL functions: their catalog rows (table 0).

A domain (``CREATE DOMAIN d AS int CHECK (VALUE > 0)``) is a base type with a default,
NOT NULL and CHECK constraints over ``VALUE``; a column of a domain stores its base type
and carries a copy of the domain's constraints (:class:`DomainRef`, ``ColumnDef.domain``)
so a write checks them without a catalog read (DROP DOMAIN refuses while a column uses
it, and there is no ALTER DOMAIN, so the copy stays exact).

A SQL function (``CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1'``)
is kept as its parameters and its body's one expression; the expression compiler inlines
it where it is called (``query/exprs.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ..keys import prefix_end, row_key, table_prefix
from .catalog import CATALOG_TABLE_ID

#: the OIDs CREATE DOMAIN and CREATE FUNCTION give: these bases + a catalog id (above
#: every table's OID, below secondary indexes'); a domain CHECK's OID is its domain's × 100
DOMAIN_OID_BASE = 3_000_000
FUNCTION_OID_BASE = 4_000_000

DOMAINS_INDEX = 13                     # catalog: (schema, name) → domain row
FUNCTIONS_INDEX = 14                   # catalog: (schema, name) → [function rows]


@dataclass(frozen=True)
class DomainDef:
    schema: str
    name: str
    oid: int
    base_oid: int
    typmod: int = -1
    default_sql: str | None = None
    not_null: bool = False
    checks: tuple[tuple[str, str], ...] = ()      # (constraint name, expression over VALUE)

    def ref(self) -> "DomainRef":
        return DomainRef(self.name, self.oid, self.not_null, self.checks, self.default_sql)


@dataclass(frozen=True)
class DomainRef:
    """What a column of a domain keeps of it: its name and oid, NOT NULL, its CHECKs."""
    name: str
    oid: int
    not_null: bool = False
    checks: tuple[tuple[str, str], ...] = ()
    default_sql: str | None = None


def named_key(index: int, schema: str, name: str) -> bytes:
    """The catalog key of a schema-qualified object kept under catalog index ``index``."""
    return row_key(CATALOG_TABLE_ID, (schema, name), index)


def catalog_range(index: int) -> tuple[bytes, bytes | None]:
    """Every catalog row under catalog index ``index``."""
    low = table_prefix(CATALOG_TABLE_ID, index)
    return low, prefix_end(low)


async def load_rows(txn, index: int, decode) -> list:
    """The objects under catalog index ``index`` at the transaction's snapshot."""
    low, high = catalog_range(index)
    return [decode(r) for _, r in await txn.scan(low, high)]


domain_key = partial(named_key, DOMAINS_INDEX)
domains_range = partial(catalog_range, DOMAINS_INDEX)


def domain_to_row(d: DomainDef) -> tuple:
    return (d.schema, d.name, d.oid, d.base_oid, d.typmod, d.default_sql, d.not_null,
            tuple(tuple(c) for c in d.checks))


def row_to_domain(row: tuple) -> DomainDef:
    schema, name, oid, base, typmod, default, not_null, checks = row
    return DomainDef(schema, name, oid, base, typmod, default, not_null,
                     tuple(tuple(c) for c in checks))


async def load_domains(txn) -> list[DomainDef]:
    return await load_rows(txn, DOMAINS_INDEX, row_to_domain)


@dataclass(frozen=True)
class FunctionDef:
    """``CREATE FUNCTION … LANGUAGE sql`` whose body is one expression (``SELECT expr``
    or ``RETURN expr``): inlined where it is called."""
    schema: str
    name: str
    oid: int
    arg_names: tuple[str | None, ...]
    arg_oids: tuple[int, ...]
    arg_defaults: tuple[str | None, ...]     # DEFAULT expressions' SQL text
    ret_oid: int
    body_sql: str                           # the one expression
    volatility: str = "v"                   # i(mmutable) s(table) v(olatile)
    strict: bool = False
    source: str = ""                        # the body as written (pg_proc.prosrc)


function_key = partial(named_key, FUNCTIONS_INDEX)
functions_range = partial(catalog_range, FUNCTIONS_INDEX)


def function_to_row(f: FunctionDef) -> tuple:
    return (f.schema, f.name, f.oid, f.arg_names, f.arg_oids, f.arg_defaults, f.ret_oid,
            f.body_sql, f.volatility, f.strict, f.source)


def row_to_function(row: tuple) -> FunctionDef:
    schema, name, oid, names, oids, defaults, ret, body, vol, strict, source = row
    return FunctionDef(schema, name, oid, tuple(names), tuple(oids), tuple(defaults), ret,
                       body, vol, strict, source)


async def load_functions(txn) -> list[FunctionDef]:
    return await load_rows(txn, FUNCTIONS_INDEX, row_to_function)
