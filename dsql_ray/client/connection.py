"""PEP 249 connections over Ray: ``dsql_ray.connect`` and ``dsql_ray.connect_async``.

A connection is one session on a compute actor (see :mod:`.server`), reached over the
data plane. Statements run exactly as over the wire: the same Session, so the same
parser, planner, limits and errors. Transactions follow psycopg: with ``autocommit``
off (the default) the first statement opens a transaction that :meth:`commit` or
:meth:`rollback` ends; with it on every statement commits on its own, and ``BEGIN`` /
``COMMIT`` can be sent as statements. 40001 at COMMIT raises
:class:`~.errors.SerializationFailure` (a :class:`~.errors.TransactionRollbackError`);
the connection stays usable.

The synchronous classes run each call on the process's client event loop (a daemon
thread); the asynchronous ones run on the caller's loop.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from ..errors import DsqlError
from . import locate
from .errors import (Error, InterfaceError, OperationalError, ProgrammingError,
                     from_server)
from .params import bind, convert_query, decoder, type_oids

#: parameter sets sent in one call by executemany
MANY_CHUNK = 3000
#: how long one statement may take before the client gives up on the compute
STATEMENT_TIMEOUT_S = 330.0


@dataclass(frozen=True)
class Column:
    """One entry of ``cursor.description``: PEP 249's 7 items, with names as psycopg's."""
    name: str
    type_code: int
    display_size: int | None = None
    internal_size: int | None = None
    precision: int | None = None
    scale: int | None = None
    null_ok: bool | None = None

    def __iter__(self):
        return iter((self.name, self.type_code, self.display_size, self.internal_size,
                     self.precision, self.scale, self.null_ok))

    def __getitem__(self, i):
        return tuple(self)[i]

    def __len__(self) -> int:
        return 7


class _Result:
    __slots__ = ("tag", "description", "rows", "rowcount")

    def __init__(self, packed: tuple, affected: int | None = None):
        tag, cols, rows = packed
        self.tag = tag
        if cols is None:
            self.description = None
            self.rows: list[tuple] = []
        else:
            self.description = [Column(n, oid) for n, oid, _mod in cols]
            convert = decoder([oid for _n, oid, _mod in cols])
            self.rows = [tuple(r) for r in rows] if convert is None else \
                [convert(tuple(r)) for r in rows]
        self.rowcount = affected if affected is not None else _rowcount(tag, cols)


def _rowcount(tag: str, cols) -> int:
    parts = tag.split()
    if parts and parts[-1].isdigit() and parts[0] in ("SELECT", "INSERT", "UPDATE",
                                                      "DELETE", "MERGE", "COPY", "FETCH",
                                                      "MOVE"):
        return int(parts[-1])
    return -1


class _Core:
    """State and calls shared by the synchronous and asynchronous connections."""

    def __init__(self, cluster: "locate.Cluster", compute: str, user: str,
                 autocommit: bool, application_name: str):
        self.cluster, self.compute, self.user = cluster, compute, user
        self.autocommit = autocommit
        self.application_name = application_name
        self.sid: int | None = None
        self.status = "I"              # I idle, T in a transaction, E failed transaction
        self.snapshot: int | None = None
        self.closed = False
        self._lock: asyncio.Lock | None = None
        self.parameters: dict[str, str] = {}
        self.notices: list[str] = []

    async def call(self, method: str, *args: Any) -> Any:
        """One call at a time per connection (a session runs one statement at a time;
        threads sharing a connection take turns, as with psycopg)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await self._call(method, *args)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await self.cluster.client(self.compute).call(
                method, *args, timeout=STATEMENT_TIMEOUT_S)
        except DsqlError as exc:
            raise from_server(exc) from None

    async def open(self) -> None:
        self.sid, self.parameters = await self.call(
            "client_open", self.user, {"application_name": self.application_name})
        self.status, self.snapshot = "I", None

    async def execute(self, sql: str, param_sets: list | None, oids: list[int] | None
                      ) -> dict:
        if self.closed:
            raise InterfaceError("the connection is closed")
        begin = not self.autocommit
        for attempt in range(2):
            try:
                reply = await self.call("client_execute", self.sid, sql, oids, param_sets,
                                        begin)
                break
            except OperationalError as exc:
                # the session is gone (compute restarted, idle expiry): outside a
                # transaction nothing is lost, so open a new one and run again
                if exc.sqlstate == "08003":
                    was_in_txn = self.status != "I"
                    self.status, self.snapshot = "I", None
                    if attempt == 0 and not was_in_txn:
                        await self.open()
                        continue
                raise
        self.status, self.snapshot = reply["status"], reply["snapshot"]
        self.notices.extend(reply["notices"])
        if reply.get("error") is not None:
            raise from_server(reply["error"])
        return reply

    async def end(self, verb: str) -> None:
        if self.closed:
            raise InterfaceError("the connection is closed")
        if self.status == "I":
            return
        try:
            reply = await self.call("client_execute", self.sid, verb, None, None, False)
        finally:
            self.status, self.snapshot = "I", None
        if reply.get("error") is not None:
            raise from_server(reply["error"])

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sid is not None:
            try:
                await self.call("client_close", self.sid)
            except Error:
                pass


def _prepare(sql: str, params) -> tuple[str, list | None, list[int] | None]:
    if params is None:
        return sql, None, None
    text, order = convert_query(sql, params)
    values = bind(order, params)
    return text, [values], type_oids([values])


def _prepare_many(sql: str, seq) -> tuple[str, list[list], list[int]]:
    seq = list(seq)
    if not seq:
        return sql, [], []
    text, order = convert_query(sql, seq[0])
    sets = [bind(order, p) for p in seq]
    return text, sets, type_oids(sets)


class _CursorBase:
    """Result handling shared by both cursors (PEP 249's fetch family)."""

    arraysize = 1

    def __init__(self, connection):
        self.connection = connection
        self._results: list[_Result] = []
        self._current: _Result | None = None
        self._pos = 0
        self.closed = False

    def _set(self, results: list[_Result]) -> None:
        self._results = results
        self._current = results[0] if results else None
        self._pos = 0

    @property
    def description(self) -> list[Column] | None:
        return None if self._current is None else self._current.description

    @property
    def rowcount(self) -> int:
        return -1 if self._current is None else self._current.rowcount

    @property
    def statusmessage(self) -> str | None:
        return None if self._current is None else self._current.tag

    @property
    def rownumber(self) -> int | None:
        return None if self._current is None else self._pos

    def _check(self) -> None:
        if self.closed:
            raise InterfaceError("the cursor is closed")
        if self.connection.closed:
            raise InterfaceError("the connection is closed")

    def _rows(self) -> list[tuple]:
        self._check()
        if self._current is None or self._current.description is None:
            raise ProgrammingError("the last operation didn't produce a result")
        return self._current.rows

    def fetchone(self) -> tuple | None:
        rows = self._rows()
        if self._pos >= len(rows):
            return None
        self._pos += 1
        return rows[self._pos - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        rows = self._rows()
        n = self.arraysize if size is None else size
        out = rows[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def fetchall(self) -> list[tuple]:
        rows = self._rows()
        out = rows[self._pos:]
        self._pos = len(rows)
        return out

    def nextset(self) -> bool | None:
        if not self._results or self._current is self._results[-1]:
            return None
        self._current = self._results[self._results.index(self._current) + 1]
        self._pos = 0
        return True

    def setinputsizes(self, sizes) -> None:
        pass

    def setoutputsize(self, size, column=None) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def _store(self, reply: dict, many: bool = False) -> None:
        affected = reply.get("affected") if many else None
        self._set([_Result(r, affected) for r in reply["results"]])


# -- synchronous ---------------------------------------------------------------------

class Cursor(_CursorBase):
    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> "Cursor":
        self._check()
        sql, sets, oids = _prepare(query, params)
        self._store(self.connection._run(self.connection._core.execute(sql, sets, oids)))
        return self

    def executemany(self, query: str, params_seq) -> None:
        self._check()
        sql, sets, oids = _prepare_many(query, params_seq)
        total = 0
        for i in range(0, len(sets), MANY_CHUNK):
            reply = self.connection._run(
                self.connection._core.execute(sql, sets[i:i + MANY_CHUNK], oids))
            total += reply.get("affected", 0)
        self._set([_Result(("", None, []), total)])

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Connection:
    """PEP 249 connection to a dsql-ray cluster over Ray (see :func:`connect`)."""

    Error = Error

    def __init__(self, core: _Core):
        self._core = core
        self._loop = locate.loop_thread()

    def _run(self, coro):
        return self._loop.run(coro, timeout=STATEMENT_TIMEOUT_S + 5)

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def autocommit(self) -> bool:
        return self._core.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if self._core.status != "I":
            raise ProgrammingError("can't change autocommit in a transaction")
        self._core.autocommit = bool(value)

    @property
    def snapshot_ts(self) -> int | None:
        """τ of the open transaction (what :func:`dsql_ray.read_table` takes as
        ``as_of`` to read a table at this transaction's snapshot)."""
        return self._core.snapshot

    @property
    def info(self) -> "ConnectionInfo":
        return ConnectionInfo(self._core)

    @property
    def notices(self) -> list[str]:
        return self._core.notices

    def cursor(self) -> Cursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return Cursor(self)

    def execute(self, query: str, params=None) -> Cursor:
        return self.cursor().execute(query, params)

    def commit(self) -> None:
        self._run(self._core.end("COMMIT"))

    def rollback(self) -> None:
        self._run(self._core.end("ROLLBACK"))

    def close(self) -> None:
        if not self._core.closed:
            self._run(self._core.close())

    def __del__(self) -> None:        # a connection dropped unclosed: free its session
        core = getattr(self, "_core", None)
        if core is not None and not core.closed:
            try:
                self._loop.submit(core.close())
            except Exception:  # noqa: BLE001 - interpreter shutting down
                pass

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """As psycopg: commit on success, roll back on an error, then close."""
        try:
            if not self.closed:
                if exc_type is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            self.close()


class ConnectionInfo:
    def __init__(self, core: _Core):
        self._core = core

    @property
    def transaction_status(self) -> str:
        """'I' idle, 'T' in a transaction, 'E' in a failed one (psycopg's letters)."""
        return self._core.status

    @property
    def compute(self) -> str:
        return self._core.compute

    def parameter_status(self, name: str) -> str | None:
        return self._core.parameters.get(name)


def _make_core(cluster: str, address: str | None, user: str, autocommit: bool,
               application_name: str, compute: str | None) -> _Core:
    found = locate.cluster(cluster, address)
    name = compute or found.pick_compute()
    if name not in found.computes:
        raise OperationalError(f"cluster {cluster!r} has no compute actor {name!r}")
    return _Core(found, name, user, autocommit, application_name)


def connect(cluster: str = "local", *, address: str | None = None, user: str = "admin",
            autocommit: bool = False, application_name: str = "dsql-ray",
            compute: str | None = None) -> Connection:
    """Connect to cluster ``cluster`` from a process in its Ray cluster (driver, task,
    actor, or attached with ``ray.init(address=…)``; ``address`` joins Ray first).

    In-Ray connections are trusted: no token is asked (see ``client/server.py``).
    ``compute`` picks a compute actor by name; by default one in this node's zone."""
    core = _make_core(cluster, address, user, autocommit, application_name, compute)
    conn = Connection(core)
    conn._run(core.open())
    return conn


# -- asynchronous (psycopg.AsyncConnection's shape) ---------------------------------------

class AsyncCursor(_CursorBase):
    async def execute(self, query: str, params=None) -> "AsyncCursor":
        self._check()
        sql, sets, oids = _prepare(query, params)
        self._store(await self.connection._core.execute(sql, sets, oids))
        return self

    async def executemany(self, query: str, params_seq) -> None:
        self._check()
        sql, sets, oids = _prepare_many(query, params_seq)
        total = 0
        for i in range(0, len(sets), MANY_CHUNK):
            reply = await self.connection._core.execute(sql, sets[i:i + MANY_CHUNK], oids)
            total += reply.get("affected", 0)
        self._set([_Result(("", None, []), total)])

    async def fetchone(self) -> tuple | None:        # type: ignore[override]
        return _CursorBase.fetchone(self)

    async def fetchmany(self, size: int | None = None) -> list[tuple]:  # type: ignore[override]
        return _CursorBase.fetchmany(self, size)

    async def fetchall(self) -> list[tuple]:         # type: ignore[override]
        return _CursorBase.fetchall(self)

    async def close(self) -> None:                   # type: ignore[override]
        self.closed = True

    def __aiter__(self):
        return self._aiter()

    async def _aiter(self):
        while (row := _CursorBase.fetchone(self)) is not None:
            yield row

    async def __aenter__(self) -> "AsyncCursor":
        return self

    async def __aexit__(self, *exc) -> None:
        self.closed = True


class AsyncConnection:
    """psycopg.AsyncConnection's shape: ``await conn.execute(…)``, ``async with``."""

    Error = Error

    def __init__(self, core: _Core):
        self._core = core

    @classmethod
    async def connect(cls, cluster: str = "local", **kw) -> "AsyncConnection":
        return await connect_async(cluster, **kw)

    closed = Connection.closed
    snapshot_ts = Connection.snapshot_ts
    info = Connection.info
    notices = Connection.notices

    @property
    def autocommit(self) -> bool:
        return self._core.autocommit

    async def set_autocommit(self, value: bool) -> None:
        if self._core.status != "I":
            raise ProgrammingError("can't change autocommit in a transaction")
        self._core.autocommit = bool(value)

    def cursor(self) -> AsyncCursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return AsyncCursor(self)

    async def execute(self, query: str, params=None) -> AsyncCursor:
        return await self.cursor().execute(query, params)

    async def commit(self) -> None:
        await self._core.end("COMMIT")

    async def rollback(self) -> None:
        await self._core.end("ROLLBACK")

    async def close(self) -> None:
        await self._core.close()

    async def __aenter__(self) -> "AsyncConnection":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if not self.closed:
                if exc_type is None:
                    await self.commit()
                else:
                    await self.rollback()
        finally:
            await self.close()


async def connect_async(cluster: str = "local", *, address: str | None = None,
                        user: str = "admin", autocommit: bool = False,
                        application_name: str = "dsql-ray",
                        compute: str | None = None) -> AsyncConnection:
    """:func:`connect` for asyncio: the connection runs on the caller's event loop."""
    loop = asyncio.get_running_loop()
    core = await loop.run_in_executor(None, _make_core, cluster, address, user, autocommit,
                                      application_name, compute)
    await core.open()
    return AsyncConnection(core)
