"""dsql-ray: a distributed SQL database on Ray that behaves like Amazon Aurora DSQL.

The Python client over Ray (``dsql_ray.connect``, ``connect_async``, ``run_transaction``,
``read_table``, ``write_table`` and PEP 249's exceptions) lives in :mod:`dsql_ray.client`
and is loaded on first use, so role processes importing ``dsql_ray.*`` do not pay for it.
"""
from __future__ import annotations

_CLIENT_NAMES = frozenset({
    "connect", "connect_async", "run_transaction", "run_transaction_async", "read_table",
    "write_table", "Connection", "Cursor", "AsyncConnection", "AsyncCursor", "Error",
    "Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "TransactionRollbackError", "SerializationFailure", "UniqueViolation", "apilevel",
    "threadsafety", "paramstyle"})

__all__ = sorted(_CLIENT_NAMES)


def __getattr__(name: str):
    if name in _CLIENT_NAMES:
        from . import client
        return getattr(client, name)
    raise AttributeError(f"module 'dsql_ray' has no attribute {name!r}")
