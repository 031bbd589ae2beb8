"""One client session in compute: transaction state machine and statement dispatch.

Pipeline per statement: parse (cached) → bind/plan (cached per catalog version) →
execute inside the session's transaction. Outside BEGIN each statement runs in its own
transaction; inside, the snapshot is taken at BEGIN and writes are buffered until
COMMIT. After an error in a transaction block every statement fails with 25P02 until
the block ends, and COMMIT answers ROLLBACK.
"""
from __future__ import annotations

import asyncio

import logging
from typing import Any, Callable, Sequence

from pglast import ast
from pglast.enums import TransactionStmtKind as K, VariableSetKind

from ..errors import (DsqlError, FeatureNotSupported, ParseError, SchemaChanged,
                      TransactionAborted, UndefinedFunction, UndefinedObject, WrongObjectType)
from . import types as T
from .copy.load import CopyIn, CopyLoader
from .copy.options import check_copy_statement, copy_options
from .copy.out import CopyOut
from .parse import parse
from .context import CURRENT_SESSION
from .ddl.identity import check_insert_identity, check_update_identity
from .bind import StatementCatalog
from .catalog import UnknownTable
from .plan.base import Plan, result_column
from .plan import trees
from .plan.insert import InsertPlan
from .result import PreparedInfo, QueryResult
from .sequences import default_calls, reserve, settle
from .statements import PLANNERS, unsupported
from .system.functions import default_settings
from .fkeys import flush, set_constraints
from .txn import Transaction
from .query.sqltypes import cast

log = logging.getLogger(__name__)

#: what SET TRANSACTION / SET SESSION CHARACTERISTICS change, which DSQL refuses to SET
_TRANSACTION_SETTINGS = frozenset({
    "transaction_isolation", "default_transaction_isolation", "transaction_read_only",
    "default_transaction_read_only", "transaction_deferrable", "default_transaction_deferrable"})
_ONLY_REPEATABLE_READ = ("Aurora DSQL runs every transaction at REPEATABLE READ; "
                         "BEGIN [ISOLATION LEVEL REPEATABLE READ] starts one.")

#: times an autocommit DDL statement runs again after losing to a concurrent catalog change
AUTOCOMMIT_DDL_RETRIES = 3
_SAVEPOINT_KINDS = {K.TRANS_STMT_SAVEPOINT, K.TRANS_STMT_RELEASE, K.TRANS_STMT_ROLLBACK_TO}


async def _moved(check: asyncio.Future, catalog, version: int) -> bool:
    """Wait for a catalog check; whether it reloaded the catalog (a plan made before it
    may be stale: plan and run again)."""
    await check
    return catalog.version != version


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
        self.settings: dict[str, str] = default_settings() | {
            "is_superuser": "on" if user == "admin" else "off",
            "session_authorization": user}
        for key, value in (startup or {}).items():
            if key in ("application_name", "client_encoding", "DateStyle", "TimeZone"):
                self.settings[key] = value
        self._initial = dict(self.settings)     # what RESET returns to
        node.sessions += 1
        self.currvals: dict[int, int] = {}          # sequence id → its last nextval here
        self.lastval: int | None = None
        self.sequence_statement = None              # the running statement's values
        self._search_path_raw: str | None = None
        self._search_path: tuple[str, ...] = ("public",)

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
        """A query string of several statements is one implicit transaction, as in
        PostgreSQL and DSQL: the DDL rules apply across its statements, it commits at the
        end and an error keeps nothing of it. BEGIN in it makes that transaction an explicit
        block (left open); COMMIT / ROLLBACK in it end it, and the statements after them
        start another."""
        results: list[QueryResult] = []
        implicit: Transaction | None = None
        try:
            stmts = parse(sql)
            for i, (node, text) in enumerate(stmts):
                if len(stmts) > 1 and self.txn is None \
                        and not isinstance(node, ast.TransactionStmt):
                    implicit = self._begin(explicit=False)
                results.append(await self._statement(node, text, (), []))
                if isinstance(results[-1], CopyIn):   # COPY: the rest waits for its data
                    results[-1].rest = ";\n".join(t for _, t in stmts[i + 1:])
                    return results              # CopyDone commits the implicit transaction
            if implicit is not None and self.txn is implicit and not implicit.explicit:
                try:
                    await self._commit(implicit)
                finally:
                    self.txn = None
        except BaseException as exc:
            if implicit is not None and self.txn is implicit and not implicit.explicit:
                self.txn = None                 # nothing of the string is kept
            if isinstance(exc, DsqlError):
                exc.partial_results = results
            raise
        return results

    async def prepare(self, sql: str, param_type_oids: Sequence[int]) -> PreparedInfo:
        stmts = parse(sql)
        if len(stmts) > 1:
            raise ParseError("cannot insert multiple commands into a prepared statement")
        if not stmts:
            return PreparedInfo(list(param_type_oids), None)
        node, text = stmts[0]
        if self.txn is not None and self.txn.failed and not isinstance(node, ast.TransactionStmt):
            raise TransactionAborted()                 # at Parse, as PostgreSQL
        if isinstance(node, ast.VariableShowStmt):    # one text column, as Execute sends
            return PreparedInfo(list(param_type_oids),
                                [result_column(self._setting_key(node.name), T.TEXT)])
        if type(node) not in PLANNERS or unsupported(node) is not None:
            return PreparedInfo(list(param_type_oids), None)    # refused at Execute
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

    def abort_block(self) -> None:
        if self.txn is not None and self.txn.explicit:
            self.txn.failed = True

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
        if isinstance(node, ast.ConstraintsSetStmt):
            return await self._set_constraints(node)
        refusal = unsupported(node)
        if refusal is not None:
            raise FeatureNotSupported(refusal)
        if isinstance(node, ast.CopyStmt):
            return await self._copy(node, text)
        if type(node) not in PLANNERS:
            raise FeatureNotSupported(f"{type(node).__name__} is not supported yet")
        if self.txn is not None:
            return await self._run_planned(node, text, param_oids, params)
        for attempt in range(AUTOCOMMIT_DDL_RETRIES + 1):
            ddl: list[bool] = []
            try:
                return await self._run_planned(node, text, param_oids, params, ddl)
            except SchemaChanged:
                # an autocommit DDL statement that lost to a catalog change committed after
                # its snapshot (typically an index build job ending) runs again after it
                if not ddl or attempt == AUTOCOMMIT_DDL_RETRIES:
                    raise
        raise AssertionError("unreachable")

    async def _run_planned(self, node: Any, text: str, param_oids: tuple, params: list,
                           ddl: list[bool] | None = None) -> QueryResult:
        """Plan and run one statement, in the open transaction or as its own; ``ddl``
        learns whether the statement was DDL."""
        implicit = self.txn is None
        txn = self.txn or self._begin(explicit=False)
        try:
            txn.check_age()
            plan = await self._plan(node, text, param_oids)
            if ddl is not None and plan.is_ddl:
                ddl.append(True)
            catalog, check = self.node.catalog, None
            version = catalog.version
            if (plan.relations or plan.is_ddl or plan.userdefs) \
                    and not catalog.current_at(txn):
                if plan.is_ddl or plan.is_dml:
                    await catalog.ensure(txn)           # the catalog as of the snapshot
                    if version != catalog.version:
                        plan = await self._plan(node, text, param_oids)
                else:       # a read runs while the version is read; again if it moved
                    check = asyncio.ensure_future(catalog.ensure(txn))
            try:
                result = await self._run_checked(plan, txn, params)
            except BaseException:
                if check is None or not await _moved(check, catalog, version):
                    raise
                result = None
            if check is not None and await _moved(check, catalog, version):
                plan = await self._plan(node, text, param_oids)
                result = await self._run_checked(plan, txn, params)
            if plan.is_dml:
                await flush(txn)          # index entries, foreign keys: 23505, 23503 here
            if implicit:
                await self._commit(txn)
        finally:
            if implicit:
                self.txn = None
        return result

    async def _run_checked(self, plan: Plan, txn: Transaction, params) -> QueryResult:
        values = [cast(v, oid) if isinstance(v, str) and oid not in (T.TEXT, T.UNKNOWN)
                  else v for v, oid in zip(params, plan.param_oids)]
        self._check_ddl_rules(txn, plan)
        txn.uses(plan.relations)
        return await self._run_plan(plan, txn, values)

    async def _run_plan(self, plan: Plan, txn: Transaction, values: list) -> QueryResult:
        """Run a plan with the sequence values it was planned to take set aside first
        (``sequences.py``), and settle them when it ends."""
        token = CURRENT_SESSION.set(self)
        try:
            if plan.sequences:
                await reserve(self, plan.sequences, plan.sequence_rows)
            result = await plan.run(txn, values, self)
        except BaseException:
            if self.sequence_statement is not None:
                await settle(self, succeeded=False)
            raise
        finally:
            CURRENT_SESSION.reset(token)
        if self.sequence_statement is not None:      # values held, taken past, or setval
            await settle(self)
        return result

    def search_path(self) -> tuple[str, ...]:
        raw = self.settings.get("search_path", "public")
        if raw != self._search_path_raw:
            names = [n.strip().strip('"') for n in raw.split(",")]
            self._search_path = tuple(self.user if n == "$user" else n for n in names if n)
            self._search_path_raw = raw
        return self._search_path

    async def _plan(self, node: Any, text: str, param_oids: tuple) -> Plan:
        await self.node.indexes.ensure_fresh()      # plans choose among current indexes
        catalog = self.node.catalog
        path = self.search_path()
        key = (text, param_oids, catalog.version, path)
        plan = self.node.cached_plan(key)
        if plan is not None:
            return plan
        planner = PLANNERS[type(node)]
        try:
            used = StatementCatalog(catalog, path, node)
            plan = planner(node, used, list(param_oids))
        except (UnknownTable, UndefinedFunction, UndefinedObject):
            # perhaps made by another compute since this one's catalog was read
            await catalog.refresh(self.node.clock.now())
            used = StatementCatalog(catalog, path, node)
            plan = planner(node, used, list(param_oids))
            key = (text, param_oids, catalog.version, path)
        plan.relations = tuple(used.used.values())
        plan.userdefs = getattr(used, "used_userdefs", False)   # domains, SQL functions
        if isinstance(node, ast.InsertStmt) and used.target is not None:
            check_insert_identity(node, used.target)
        elif isinstance(node, ast.UpdateStmt) and used.target is not None:
            check_update_identity(node, used.target)
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

    # -- COPY (formats and rows: compute/copy/) ------------------------------------
    async def _copy(self, node: ast.CopyStmt, text: str) -> CopyIn | CopyOut:
        """COPY TO STDOUT reads (:meth:`_copy_out`). COPY FROM STDIN starts a load: its
        rows join the open transaction, or one of its own that commits at CopyDone; the
        wire layer feeds it the client's data. Rows go in as INSERTs do (a plan run per
        batch, then the batch's index entries)."""
        check_copy_statement(node)
        options = copy_options(node.options, node.is_from)
        if not node.is_from:
            return await self._copy_out(node, text, options)
        implicit = self.txn is None
        txn = self.txn or self._begin(explicit=False)
        try:
            txn.check_age()
            catalog = self.node.catalog
            await catalog.ensure(txn)                   # the catalog as of the snapshot
            try:
                table = catalog.resolve(node.relation, self.search_path())
            except UnknownTable:
                await catalog.refresh(self.node.clock.now())
                table = catalog.resolve(node.relation, self.search_path())
            if table.kind != "r":
                kind = {"v": "view", "S": "sequence"}.get(table.kind, "relation")
                raise WrongObjectType(f'cannot copy to {kind} "{table.name}"')

            async def insert(rows: list[list]) -> None:
                await self._run_plan(InsertPlan(table=table, rows=rows, is_dml=True,
                                                sequences=default_calls(table.columns),
                                                sequence_rows=len(rows)), txn, [])
                await flush(txn)          # index entries, foreign keys: 23505, 23503 here

            loader = CopyLoader(table, options, node.attlist, insert)
            self._check_ddl_rules(txn, Plan(is_dml=True))
            txn.uses([table])        # schema marker and row layout (compute/ddl/)
        except DsqlError:
            if implicit:
                self.txn = None
            raise

        async def commit() -> None:
            if txn.explicit:
                return
            try:
                await self._commit(txn)
            finally:
                if self.txn is txn:
                    self.txn = None

        def abandon() -> None:
            if txn.explicit:
                txn.failed = True
            elif self.txn is txn:
                self.txn = None

        return CopyIn(loader, commit, abandon)

    async def _copy_out(self, node: ast.CopyStmt, text: str, options) -> CopyOut:
        """COPY TO STDOUT: the rows of the query, or of the table's (listed) columns,
        read like any SELECT (a tree built here, planned under the COPY's own text); the
        wire layer writes them out in the COPY format."""
        if node.query is not None:
            query = node.query
        else:
            cols = [trees.column(c.sval) for c in node.attlist or ()] or \
                [ast.ColumnRef(fields=(ast.A_Star(),))]
            query = trees.select([trees.target(c) for c in cols], [node.relation])
        return CopyOut(await self._run(query, f"COPY OUT {text}", (), []), options)

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
            if self.txn is not None and self.txn.explicit:
                self.txn.failed = True      # an error in a block aborts it, as any error
            raise FeatureNotSupported("SAVEPOINT is not supported")
        if kind in (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START):
            for opt in node.options or ():
                self._check_isolation(opt)
            if self.txn is not None and not self.txn.explicit:
                self.txn.explicit = True    # BEGIN in a multi-statement string: a block now
            elif self.txn is not None:
                self.notice("there is already a transaction in progress")
            else:
                self._begin(explicit=True)
            return QueryResult("START TRANSACTION" if kind == K.TRANS_STMT_START else "BEGIN")
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
                                          hint=_ONLY_REPEATABLE_READ)

    # -- SET / SHOW -----------------------------------------------------------------
    async def _set_constraints(self, node: ast.ConstraintsSetStmt) -> QueryResult:
        """SET CONSTRAINTS (foreign keys, compute/fkeys.py): only in a transaction block."""
        txn = self.txn
        if txn is None or not txn.explicit:
            self.notice("SET CONSTRAINTS can only be used in transaction blocks")
            return QueryResult("SET CONSTRAINTS")
        await self.node.catalog.ensure(txn)
        names = None if node.constraints is None else [r.relname for r in node.constraints]
        await set_constraints(txn, names, bool(node.deferred))
        return QueryResult("SET CONSTRAINTS")

    def _set(self, node: ast.VariableSetStmt) -> QueryResult:
        if node.kind == VariableSetKind.VAR_RESET_ALL:
            self.settings.clear()
            self.settings.update(self._initial)
            return QueryResult("RESET")
        if node.kind == VariableSetKind.VAR_SET_MULTI:   # SET TRANSACTION …
            raise FeatureNotSupported(f"SET {node.name} is not supported",
                                      hint=_ONLY_REPEATABLE_READ)
        if node.name.lower() in _TRANSACTION_SETTINGS:
            raise FeatureNotSupported(f"SET {node.name.lower()} is not supported",
                                      hint=_ONLY_REPEATABLE_READ)
        key = self._setting_key(node.name)
        if node.kind in (VariableSetKind.VAR_RESET, VariableSetKind.VAR_SET_DEFAULT):
            if key in self._initial:
                self.settings[key] = self._initial[key]
            else:
                self.settings.pop(key, None)
            return QueryResult("RESET" if node.kind == VariableSetKind.VAR_RESET else "SET")
        values = []
        for arg in node.args or ():
            val = arg.val if isinstance(arg, ast.A_Const) else None
            values.append(str(getattr(val, "sval", None) or getattr(val, "ival", "")))
        self.settings[key] = ", ".join(values)
        return QueryResult("SET")

    def _setting_key(self, name: str) -> str:
        """The setting's own spelling (``TimeZone``), whatever case the statement used."""
        lowered = name.lower()
        return next((k for k in self.settings if k.lower() == lowered), lowered)

    def _show(self, name: str) -> QueryResult:
        key = self._setting_key(name)
        if key not in self.settings:
            raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
        return QueryResult("SHOW", [result_column(key, T.TEXT)], [(self.settings[key],)])
