"""One client session in compute: transaction state machine and statement dispatch.

Pipeline per statement: parse (cached) → bind/plan (cached per catalog version) →
execute inside the session's transaction. Outside BEGIN each statement runs in its own
transaction; inside, the snapshot is taken at BEGIN and writes are buffered until
COMMIT. After an error in a transaction block every statement fails with 25P02 until
the block ends, and COMMIT answers ROLLBACK.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from pglast import ast
from pglast.enums import TransactionStmtKind as K, VariableSetKind

from ..errors import DsqlError, FeatureNotSupported, TransactionAborted
from . import types as T
from .expr import SERVER_VERSION
from .parse import parse
from .planner import PLANNERS, Plan, UnknownTable
from .result import PreparedInfo, QueryResult
from .txn import Transaction
from .values import cast

log = logging.getLogger(__name__)

_UNSUPPORTED = {
    ast.TruncateStmt: "TRUNCATE", ast.CreateTrigStmt: "triggers",
    ast.CreateExtensionStmt: "extensions", ast.CompositeTypeStmt: "user-defined types",
    ast.CreateEnumStmt: "enums", ast.CreateTableSpaceStmt: "tablespaces",
    ast.CreateTableAsStmt: "CREATE TABLE AS", ast.VacuumStmt: "VACUUM",
    ast.ListenStmt: "LISTEN", ast.NotifyStmt: "NOTIFY", ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreatedbStmt: "CREATE DATABASE", ast.CreateDomainStmt: "domains",
}

_SAVEPOINT_KINDS = {K.TRANS_STMT_SAVEPOINT, K.TRANS_STMT_RELEASE, K.TRANS_STMT_ROLLBACK_TO}


class Session:
    def __init__(self, node, user: str = "admin", database: str = "postgres",
                 startup: dict[str, str] | None = None):
        self.node = node
        self.user = user
        self.database = database
        self.txn: Transaction | None = None
        self.notices: list[str] = []
        #: set by the host: raises to stop a long statement (a CancelRequest arrived)
        self.interrupt: Callable[[], None] | None = None
        self.settings: dict[str, str] = {
            "server_version": SERVER_VERSION, "server_encoding": "UTF8",
            "client_encoding": "UTF8", "DateStyle": "ISO, MDY", "TimeZone": "UTC",
            "integer_datetimes": "on", "standard_conforming_strings": "on",
            "IntervalStyle": "postgres", "is_superuser": "on" if user == "admin" else "off",
            "session_authorization": user, "application_name": "",
            "transaction_isolation": "repeatable read", "default_transaction_isolation":
            "repeatable read", "search_path": '"$user", public',
        }
        for key, value in (startup or {}).items():
            if key in ("application_name", "client_encoding", "DateStyle", "TimeZone"):
                self.settings[key] = value
        node.sessions += 1

    # -- SessionBackend ---------------------------------------------------------
    @property
    def txn_status(self) -> str:
        if self.txn is None or not self.txn.explicit:
            return "I"
        return "E" if self.txn.failed else "T"

    def parameter_status(self) -> dict[str, str]:
        keys = ("server_version", "server_encoding", "client_encoding", "DateStyle",
                "TimeZone", "integer_datetimes", "standard_conforming_strings",
                "IntervalStyle", "is_superuser", "session_authorization", "application_name")
        return {k: self.settings[k] for k in keys}

    def notice(self, message: str) -> None:
        self.notices.append(message)

    async def execute_simple(self, sql: str) -> list[QueryResult]:
        results: list[QueryResult] = []
        try:
            for node, text in parse(sql):
                results.append(await self._statement(node, text, (), []))
        except DsqlError as exc:
            exc.partial_results = results
            raise
        return results

    async def prepare(self, sql: str, param_type_oids: Sequence[int]) -> PreparedInfo:
        stmts = parse(sql)
        if len(stmts) > 1:
            raise DsqlError("cannot insert multiple commands into a prepared statement",
                            sqlstate="42601")
        if not stmts:
            return PreparedInfo(list(param_type_oids), None)
        node, text = stmts[0]
        if type(node) not in PLANNERS:
            return PreparedInfo(list(param_type_oids), None)
        plan = await self._plan(node, text, tuple(param_type_oids))
        oids = list(plan.param_oids)
        for i, oid in enumerate(param_type_oids):
            if oid and i < len(oids):
                oids[i] = oid
        return PreparedInfo(oids, plan.columns)

    async def execute_prepared(self, sql: str, param_type_oids: Sequence[int],
                               params: Sequence[Any], max_rows: int = 0) -> QueryResult:
        stmts = parse(sql)
        if not stmts:
            return QueryResult("")
        node, text = stmts[0]
        return await self._statement(node, text, tuple(param_type_oids), list(params))

    async def close(self) -> None:
        self.txn = None
        self.node.sessions -= 1

    # -- dispatch -----------------------------------------------------------------
    async def _statement(self, node: Any, text: str, param_oids: tuple, params: list
                         ) -> QueryResult:
        if isinstance(node, ast.TransactionStmt):
            return await self._transaction_control(node)
        if self.txn is not None and self.txn.failed:
            raise TransactionAborted()
        try:
            return await self._run(node, text, param_oids, params)
        except DsqlError:
            if self.txn is not None and self.txn.explicit:
                self.txn.failed = True
            raise

    async def _run(self, node: Any, text: str, param_oids: tuple, params: list) -> QueryResult:
        if isinstance(node, ast.VariableSetStmt):
            return self._set(node)
        if isinstance(node, ast.VariableShowStmt):
            return self._show(node.name)
        if isinstance(node, ast.DeallocateStmt):
            return QueryResult("DEALLOCATE ALL" if node.name is None else "DEALLOCATE")
        if isinstance(node, ast.DiscardStmt):
            return QueryResult("DISCARD ALL")
        kind = _UNSUPPORTED.get(type(node))
        if kind is not None:
            raise FeatureNotSupported(f"{kind} is not supported")
        if type(node) not in PLANNERS:
            raise FeatureNotSupported(f"{type(node).__name__} is not supported yet")
        plan = await self._plan(node, text, param_oids)
        values = [cast(v, oid) if isinstance(v, str) and oid not in (T.TEXT, T.UNKNOWN)
                  else v for v, oid in zip(params, plan.param_oids)]
        implicit = self.txn is None
        txn = self.txn or self._begin(explicit=False)
        txn.check_age()
        self._check_ddl_rules(txn, plan)
        try:
            result = await plan.run(txn, values, self)
            if implicit:
                await self._commit(txn)
        finally:
            if implicit:
                self.txn = None
        return result

    async def _plan(self, node: Any, text: str, param_oids: tuple) -> Plan:
        catalog = self.node.catalog
        key = (text, param_oids, catalog.version)
        plan = self.node.cached_plan(key)
        if plan is not None:
            return plan
        planner = PLANNERS[type(node)]
        try:
            plan = planner(node, catalog, list(param_oids))
        except UnknownTable:
            await catalog.refresh(self.node.clock.now())
            plan = planner(node, catalog, list(param_oids))
            key = (text, param_oids, catalog.version)
        self.node.cache_plan(key, plan)
        return plan

    def _check_ddl_rules(self, txn: Transaction, plan: Plan) -> None:
        if plan.is_ddl:
            if txn.has_dml:
                raise FeatureNotSupported("ddl and dml are not supported in the same "
                                          "transaction")
            if txn.has_ddl:
                raise FeatureNotSupported("multiple ddl statements are not supported in a "
                                          "transaction")
            txn.has_ddl = True
        elif plan.is_dml:
            if txn.has_ddl:
                raise FeatureNotSupported("ddl and dml are not supported in the same "
                                          "transaction")
            txn.has_dml = True

    # -- transactions -------------------------------------------------------------
    def _begin(self, explicit: bool) -> Transaction:
        self.txn = Transaction(self.node, self.node.clock.now(), explicit)
        return self.txn

    async def _commit(self, txn: Transaction) -> None:
        if txn.read_only:
            return
        txn.check_age()
        await self.node.commit(txn)
        if txn.touched_catalog:
            await self.node.catalog.refresh(self.node.clock.now())

    async def _transaction_control(self, node: ast.TransactionStmt) -> QueryResult:
        kind = node.kind
        if kind in _SAVEPOINT_KINDS:
            raise FeatureNotSupported("SAVEPOINT is not supported")
        if kind in (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START):
            for opt in node.options or ():
                self._check_isolation(opt)
            if self.txn is not None:
                self.notice("there is already a transaction in progress")
            else:
                self._begin(explicit=True)
            return QueryResult("BEGIN")
        if kind == K.TRANS_STMT_COMMIT:
            txn, self.txn = self.txn, None
            if txn is None:
                self.notice("there is no transaction in progress")
                return QueryResult("COMMIT")
            if txn.failed:
                return QueryResult("ROLLBACK")
            await self._commit(txn)
            return QueryResult("COMMIT")
        if kind == K.TRANS_STMT_ROLLBACK:
            if self.txn is None:
                self.notice("there is no transaction in progress")
            self.txn = None
            return QueryResult("ROLLBACK")
        raise FeatureNotSupported(f"{kind.name[11:]} is not supported")

    @staticmethod
    def _check_isolation(opt: ast.DefElem) -> None:
        if opt.defname == "transaction_isolation":
            level = opt.arg.val.sval if isinstance(opt.arg, ast.A_Const) else ""
            if level not in ("repeatable read",):
                raise FeatureNotSupported(f"isolation level {level} is not supported",
                                          hint="Aurora DSQL supports REPEATABLE READ only.")

    # -- SET / SHOW -----------------------------------------------------------------
    def _set(self, node: ast.VariableSetStmt) -> QueryResult:
        if node.kind == VariableSetKind.VAR_RESET_ALL:
            return QueryResult("RESET")
        if node.kind in (VariableSetKind.VAR_RESET, VariableSetKind.VAR_SET_DEFAULT):
            return QueryResult("RESET" if node.kind == VariableSetKind.VAR_RESET else "SET")
        if node.kind == VariableSetKind.VAR_SET_MULTI:   # SET TRANSACTION …
            for opt in node.args or ():
                self._check_isolation(opt)
            return QueryResult("SET")
        values = []
        for arg in node.args or ():
            val = arg.val if isinstance(arg, ast.A_Const) else None
            values.append(str(getattr(val, "sval", None) or getattr(val, "ival", "")))
        name = node.name.lower()
        if name == "transaction_isolation" and values and values[0] != "repeatable read":
            raise FeatureNotSupported(f"isolation level {values[0]} is not supported")
        self.settings[name] = ", ".join(values)
        return QueryResult("SET")

    def _show(self, name: str) -> QueryResult:
        from .planner import result_column
        lowered = {k.lower(): v for k, v in self.settings.items()}
        if name.lower() not in lowered:
            raise DsqlError(f'unrecognized configuration parameter "{name}"',
                            sqlstate="42704")
        return QueryResult("SHOW", [result_column(name, T.TEXT)], [(lowered[name.lower()],)])
