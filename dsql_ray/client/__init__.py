"""The Python client over Ray: PEP 249 connections, retries, and Ray Data reads/writes.

See ``connection.py`` (``connect``, ``connect_async``), ``retry.py``
(``run_transaction``), ``data.py`` (``read_table``, ``write_table``) and ``server.py``
(compute's side, and the trust model).
"""
from .connection import (AsyncConnection, AsyncCursor, Connection, Cursor, connect,
                         connect_async)
from .errors import (DatabaseError, DataError, Error, IntegrityError, InterfaceError,
                     InternalError, NotSupportedError, OperationalError, ProgrammingError,
                     SerializationFailure, TransactionRollbackError, UniqueViolation,
                     Warning)
from .retry import run_transaction, run_transaction_async

apilevel = "2.0"
threadsafety = 2          # connections may be shared between threads, not cursors
paramstyle = "pyformat"   # %s and %(name)s


def read_table(*args, **kw):
    from .data import read_table as _read_table
    return _read_table(*args, **kw)


def write_table(*args, **kw):
    from .data import write_table as _write_table
    return _write_table(*args, **kw)


read_table.__doc__ = "See :func:`dsql_ray.client.data.read_table`."
write_table.__doc__ = "See :func:`dsql_ray.client.data.write_table`."
