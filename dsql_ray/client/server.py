"""Compute's endpoint for clients inside Ray: sessions driven over the data plane.

A Python process on the Ray cluster (driver, task, actor, or a process attached with
``ray.init(address=…)``) finds a compute actor through Ray and calls these ``rpc_client_*``
methods over compute's own data-plane listener (``transport/rpc.py``, the one every role
already serves): one pipelined TCP connection per process and compute, no Ray call per
statement. Each call drives a :class:`~dsql_ray.compute.session.Session`, the same object
the PostgreSQL wire protocol drives, so parser, planner, limits, SQLSTATEs and OC000/OC001
are the wire endpoint's. Errors are :class:`~dsql_ray.errors.DsqlError` and reach the
client as themselves.

Trust: the data plane carries pickled frames between the cluster's own processes, so a
caller that reaches it is already trusted (as any Ray worker, which can run any code on
the cluster). No token is asked here; a client outside Ray uses the wire endpoint, which
asks for one.

Bounds: at most ``SESSIONS_MAX`` open sessions per compute; a session idle for
``IDLE_MAX_S`` (its client died without closing) or older than the connection age
(DSQL's 60 minutes) is closed, and the next call on it fails with 08003 so the client
opens a new one.
"""
from __future__ import annotations

import itertools
import time
from typing import Any, Sequence

from pglast import ast, parse_sql

from .. import limits
from ..compute.query.sqltypes import cast
from ..errors import (DsqlError, FeatureNotSupported, InternalError, LimitExceeded, ParseError,
                      UndefinedColumn, WrongObjectType)
from ..keys import prefix_end, table_prefix

SESSIONS_MAX = limits.connections_max.value
IDLE_MAX_S = 15 * 60.0
SWEEP_EVERY_S = 10.0
#: statements one call may carry (executemany); a write batch is ≤ 3,000 rows
BATCH_MAX = 10_000
PUSHABLE = {"=", "<>", "<", "<=", ">", ">=", "!="}


class SessionGone(DsqlError):
    sqlstate = "08003"


class _ClientSession:
    __slots__ = ("session", "opened", "used", "max_age")

    def __init__(self, session, max_age: float):
        self.session = session
        self.opened = self.used = time.monotonic()
        self.max_age = max_age


def _reply(session, results: list) -> dict[str, Any]:
    txn = session.txn
    return {"results": results, "status": session.txn_status,
            "snapshot": txn.start_ts if txn is not None else None,
            "notices": _drain(session.notices)}


def _drain(notices: list) -> list:
    out = list(notices)
    notices.clear()
    return out


def _pack(result) -> tuple:
    """(tag, [(name, type_oid, type_modifier)] or None, rows) of one QueryResult."""
    cols = None if result.columns is None else \
        [(c.name, c.type_oid, c.type_modifier) for c in result.columns]
    return (result.tag, cols, result.rows)


class ClientEndpoint:
    """Mixed into compute's service: needs ``self.node`` (the ComputeNode) and, to open
    sessions, ``_new_session(user, database, params)`` as the wire path has."""

    connection_age: float = limits.connection_age_max.value

    def _client_table(self) -> dict[int, _ClientSession]:
        table = self.__dict__.get("_client_sessions")
        if table is None:
            table = self.__dict__["_client_sessions"] = {}
            self.__dict__["_client_ids"] = itertools.count(1)
            self.__dict__["_client_swept"] = time.monotonic()
        return table

    async def _client_sweep(self) -> None:
        table = self._client_table()
        now = time.monotonic()
        if now - self.__dict__["_client_swept"] < SWEEP_EVERY_S:
            return
        self.__dict__["_client_swept"] = now
        for sid, cs in list(table.items()):
            if now - cs.used > IDLE_MAX_S or now - cs.opened > cs.max_age:
                del table[sid]
                await cs.session.close()

    async def rpc_client_open(self, user: str = "admin",
                              params: dict[str, str] | None = None) -> tuple[int, dict]:
        await self._client_sweep()
        table = self._client_table()
        if len(table) >= SESSIONS_MAX:
            raise DsqlError(limits.connections_max.message,
                            sqlstate=limits.connections_max.sqlstate)
        session = await self._new_session(user, "postgres", dict(params or {}))
        sid = next(self.__dict__["_client_ids"])
        table[sid] = _ClientSession(session, self.connection_age)
        return sid, session.parameter_status()

    async def rpc_client_close(self, sid: int) -> None:
        cs = self._client_table().pop(sid, None)
        if cs is not None:
            await cs.session.close()

    def _client_session(self, sid: int):
        cs = self._client_table().get(sid)
        now = time.monotonic()
        if cs is not None and now - cs.opened > cs.max_age:
            self._client_table().pop(sid, None)
            cs = None
        if cs is None:
            raise SessionGone("client session does not exist (closed, expired or compute "
                              "restarted)")
        cs.used = now
        return cs.session

    async def rpc_client_execute(self, sid: int, sql: str, param_oids: Sequence[int] | None,
                                 param_sets: Sequence[Sequence[Any]] | None,
                                 begin: bool = False) -> dict[str, Any]:
        """Run ``sql``: as a simple query (several statements allowed) when
        ``param_sets`` is None, else once per parameter set as a prepared statement.
        ``begin`` opens a transaction block first if none is open (PEP 249's implicit
        transactions). Returns the results (of the last set, for several), the
        transaction status, its snapshot τ and any notices."""
        session = self._client_session(sid)
        if begin and session.txn is None:
            await session.execute_simple("BEGIN")
        try:
            if param_sets is None:
                results = [_pack(r) for r in await session.execute_simple(sql)]
                return _reply(session, results)
            if len(param_sets) > BATCH_MAX:
                raise LimitExceeded(f"at most {BATCH_MAX} parameter sets per call")
            oids = tuple(param_oids or ())
            total, last = 0, None
            for params in param_sets:
                last = await session.execute_prepared(sql, oids, list(params))
                total += _affected(last.tag)
            return {**_reply(session, [_pack(last)] if last is not None else []),
                    "affected": total}
        except DsqlError as exc:        # with the transaction status it leaves
            return {**_reply(session, []), "error": exc}
        except Exception as exc:  # noqa: BLE001 - a bug: report it as PostgreSQL would
            return {**_reply(session, []),
                    "error": InternalError(f"internal error: {exc!r}")}

    async def rpc_client_read_plan(self, sid: int, table: str,
                                   columns: Sequence[str] | None, where: str | None,
                                   as_of: int | None) -> dict[str, Any]:
        """What ``read_table`` needs to read ``table`` straight from storage: the snapshot
        τ (``as_of``, else now), the columns' slots and types, the pushed predicate, and
        the key ranges the table spans with their storage replicas."""
        session = self._client_session(sid)
        if session.txn is not None:
            raise DsqlError("read_table plans outside a transaction block", sqlstate="25001")
        cols_sql = ", ".join(_quote(c) for c in columns) if columns else "*"
        check = f"SELECT {cols_sql} FROM {table}" + (f" WHERE {where}" if where else "")
        await session.execute_simple("BEGIN")
        try:
            # the same binder as SQL: unknown table/column, bad types fail as they would
            await session.prepare(check + " LIMIT 0", ())
            snapshot = session.txn.start_ts if as_of is None else as_of
            (stmt,) = parse_sql(f"SELECT * FROM {table}")
            tdef = self.node.catalog.resolve(stmt.stmt.fromClause[0], session.search_path())
        finally:
            await session.execute_simple("ROLLBACK")
        if tdef.kind != "r":
            raise WrongObjectType(f'"{tdef.name}" is not a table')
        by_name = {c.name: (i, c) for i, c in enumerate(tdef.columns)}
        wanted = list(columns) if columns else [c.name for c in tdef.columns]
        out_cols = []
        for name in wanted:
            if name not in by_name:
                raise UndefinedColumn(f'column "{name}" does not exist')
            pos, c = by_name[name]
            out_cols.append((name, c.type_oid, c.type_modifier, _slot(c, pos), c.missing))
        pred = _pushdown(where, by_name) if where else ()
        low = table_prefix(tdef.table_id, 0)
        high = prefix_end(low)
        ranges = []
        for shard in self.node.shards:
            if (shard.high is not None and shard.high <= low) or \
                    (high is not None and shard.low >= high):
                continue
            top = high if shard.high is None else \
                shard.high if high is None else min(shard.high, high)
            ranges.append((max(shard.low, low), top, [r.name for r in shard.replicas]))
        return {"snapshot": snapshot, "table_id": tdef.table_id, "columns": out_cols,
                "pred": pred, "ranges": ranges,
                "slots": tuple(sorted({c[3] for c in out_cols}))}


def _affected(tag: str) -> int:
    parts = tag.split()
    return int(parts[-1]) if parts and parts[-1].isdigit() and parts[0] != "SELECT" else 0


def _slot(col, pos: int) -> int:
    return col.attnum if col.attnum >= 0 else pos


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pushdown(where: str, by_name: dict) -> tuple:
    """A simple WHERE (an AND of ``column op constant`` and ``column IS [NOT] NULL``) as
    storage's pushed predicate (``storage/mvcc.py``), constants in the column's type."""
    try:
        (stmt,) = parse_sql(f"SELECT 1 WHERE {where}")
    except Exception as exc:  # noqa: BLE001 - pglast's ParseError
        raise ParseError(f"syntax error in where: {exc}") from None
    node = stmt.stmt.whereClause
    terms = node.args if isinstance(node, ast.BoolExpr) and node.boolop == 0 else [node]
    out = []
    for term in terms:
        if isinstance(term, ast.NullTest) and isinstance(term.arg, ast.ColumnRef):
            pos, col = _column(term.arg, by_name)
            out.append(("isnull" if term.nulltesttype == 0 else "notnull",
                        _slot(col, pos), None))
            continue
        if not (isinstance(term, ast.A_Expr) and term.kind == 0 and len(term.name) == 1):
            raise _not_simple(where)
        op = term.name[0].sval
        left, right = term.lexpr, term.rexpr
        if isinstance(left, ast.A_Const) and isinstance(right, ast.ColumnRef):
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if op not in PUSHABLE or not isinstance(left, ast.ColumnRef) or \
                not isinstance(right, ast.A_Const):
            raise _not_simple(where)
        pos, col = _column(left, by_name)
        v = right.val
        if right.isnull or v is None:
            value = None
        elif isinstance(v, ast.Integer):
            value = cast(v.ival, col.type_oid)
        elif isinstance(v, ast.Boolean):
            value = cast(v.boolval, col.type_oid)
        else:                                    # Float (as text), String
            value = cast(getattr(v, "fval", None) or v.sval, col.type_oid)
        out.append(("<>" if op == "!=" else op, _slot(col, pos), value))
    return tuple(out)


def _column(ref, by_name: dict):
    name = ref.fields[-1].sval
    if name not in by_name:
        raise UndefinedColumn(f'column "{name}" does not exist')
    return by_name[name]


def _not_simple(where: str) -> DsqlError:
    return FeatureNotSupported(f"read_table pushes down only an AND of 'column op constant' "
                               f"and 'column IS [NOT] NULL' terms, not: {where}",
                               hint="filter the dataset with Ray Data, or use SQL")
