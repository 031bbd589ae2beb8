"""Which planner plans each kind of statement, the kinds DSQL refuses, and EXPLAIN.

The session looks a parsed statement's node type up in ``PLANNERS``; each planner
returns a :class:`~.plan.base.Plan`. SELECT and DML: ``plan/``; DDL: ``ddl/``;
indexes and ``CALL sys.wait_for_job``: ``index_plans.py``.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pglast import ast

from ..errors import FeatureNotSupported, ParseError
from . import index_plans
from . import types as T
from .access.path import Access
from .ddl.alter import plan_alter_table, plan_rename
from .ddl.domains import plan_create_domain, plan_drop_domain
from .ddl.drop import plan_drop
from .ddl.functions import plan_create_function, plan_drop_function
from .ddl.sequences import plan_create_sequence
from .ddl.tables import plan_create_schema, plan_create_table
from .ddl.views import plan_create_view
from .plan.base import Plan, result_column
from .plan.delete import plan_delete
from .plan.insert import plan_insert
from .plan.select import plan_select
from .plan.update import plan_update
from .result import QueryResult


#: statements DSQL refuses (0A000), with the feature their message names
_UNSUPPORTED = {
    ast.TruncateStmt: "TRUNCATE is", ast.CreateTrigStmt: "triggers are",
    ast.CreateExtensionStmt: "extensions are", ast.CompositeTypeStmt: "user-defined types are",
    ast.CreateEnumStmt: "enums are", ast.CreateTableSpaceStmt: "tablespaces are",
    ast.VacuumStmt: "VACUUM is", ast.ListenStmt: "LISTEN is", ast.NotifyStmt: "NOTIFY is",
    ast.UnlistenStmt: "UNLISTEN is", ast.AlterSystemStmt: "ALTER SYSTEM is",
    ast.CreatedbStmt: "CREATE DATABASE is", ast.DropdbStmt: "DROP DATABASE is",
    ast.LockStmt: "LOCK is", ast.RuleStmt: "rules are",
    ast.CreatePolicyStmt: "row-level security policies are", ast.ClusterStmt: "CLUSTER is",
    ast.ReindexStmt: "REINDEX is", ast.RefreshMatViewStmt: "materialized views are",
    ast.CreateRangeStmt: "user-defined types are", ast.DefineStmt: "user-defined objects are",
}


def unsupported(node: Any) -> str | None:
    """The refusal message of a statement DSQL does not support, if it is one."""
    kind = _UNSUPPORTED.get(type(node))
    if kind is not None:
        return f"{kind} not supported"
    if isinstance(node, ast.CreateTableAsStmt):
        return ("materialized views are" if node.objtype.name == "OBJECT_MATVIEW"
                else "CREATE TABLE AS is") + " not supported"
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        return "SELECT INTO is not supported"
    return None


def _plan_drop_any(stmt: ast.DropStmt, catalog, param_oids) -> Plan:
    if stmt.removeType.name == "OBJECT_INDEX":
        return index_plans.plan_drop_index(stmt, catalog, param_oids)
    if stmt.removeType.name == "OBJECT_DOMAIN":
        return plan_drop_domain(stmt, catalog, param_oids)
    if stmt.removeType.name == "OBJECT_FUNCTION":
        return plan_drop_function(stmt, catalog, param_oids)
    return plan_drop(stmt, catalog, param_oids)


# -- EXPLAIN ------------------------------------------------------------------------------------
@dataclass
class ExplainPlan(Plan):
    inner: Plan | None = None
    verbose: bool = False
    analyze: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        lines = explain_lines(self.inner, session.node, self.verbose)
        if self.analyze:
            started = time.perf_counter()
            result = await self.inner.run(txn, params, session)
            lines.append(f"Actual rows: {len(result.rows or ())}")
            lines.append(f"Execution Time: {(time.perf_counter() - started) * 1000:.3f} ms")
        return QueryResult("EXPLAIN", self.columns, [(line,) for line in lines])


def _render(head: str, details: list[str], children: list[list[str]]) -> list[str]:
    """PostgreSQL's EXPLAIN layout: details under their node, children after ``->``."""
    out = [head] + [f"  {d}" for d in details]
    for child in children:
        out.append(f"  ->  {child[0]}")
        out.extend(f"      {line}" for line in child[1:])
    return out


def access_lines(access: Access, node) -> list[str]:
    first, *rest = access.describe(node).split("\n")
    return _render(first, rest, [])


def explain_lines(plan: Plan, node, verbose: bool = False) -> list[str]:
    access = getattr(plan, "access", None)
    name = type(plan).__name__
    if name == "SelectPlan":
        if access is None:
            return ["Result"]
        lines = access_lines(access, node)
        if verbose and plan.output is not None:
            lines.append("  Output: " + ", ".join(plan.output.names))
        if plan.order:
            lines = _render("Sort", [], [lines])
        if plan.limit is not None or plan.offset:
            lines = _render("Limit", [], [lines])
        return lines
    table = access.table if access is not None else getattr(plan, "table", None)
    if name in ("UpdatePlan", "DeletePlan") and table is not None:
        verb = "Update" if name == "UpdatePlan" else "Delete"
        child = access_lines(access, node) if access is not None else \
            ["Query engine (the rows to change, with FROM/USING and subqueries)"]
        return _render(f"{verb} on {table.name}", [], [child])
    if name == "QueryPlan":
        children = [access_lines(plan.index_access[t.table_id], node)
                    if t.table_id in plan.index_access else [f"Seq Scan on {t.name}"]
                    for t in plan.prepared.tables]
        return _render("Query engine", [], children)
    if name == "InsertPlan" and getattr(plan, "table", None) is not None:
        return _render(f"Insert on {plan.table.name}", [], [["Values Scan"]])
    return plan.explain()


def plan_explain(stmt: ast.ExplainStmt, catalog, param_oids) -> ExplainPlan:
    options = {o.defname.lower(): o for o in stmt.options or ()}
    for opt in options:
        if opt not in ("verbose", "analyze", "costs", "buffers", "timing", "summary",
                       "format", "settings", "wal"):
            raise ParseError(f'unrecognized EXPLAIN option "{opt}"')
    fmt = options.get("format")
    if fmt is not None and str(getattr(fmt.arg, "sval", "text")).lower() != "text":
        raise FeatureNotSupported("EXPLAIN output formats other than TEXT are not supported")
    query = stmt.query
    if not isinstance(query, (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
        raise ParseError("EXPLAIN works on SELECT, INSERT, UPDATE and DELETE")
    inner = PLANNERS[type(query)](query, catalog, list(param_oids))

    def flag(name: str) -> bool:
        opt = options.get(name)
        if opt is None:
            return False
        arg = opt.arg
        if arg is None:
            return True
        val = getattr(arg, "val", arg)
        text = str(getattr(val, "sval", getattr(val, "boolval", getattr(val, "ival", True))))
        return text.lower() not in ("false", "off", "0")
    analyze = flag("analyze")
    return ExplainPlan(inner=inner, verbose=flag("verbose"), analyze=analyze,
                       columns=[result_column("QUERY PLAN", T.TEXT)],
                       param_oids=list(inner.param_oids),
                       is_dml=analyze and inner.is_dml,
                       sequences=inner.sequences if analyze else Counter())


#: statement node type → planner(stmt, catalog, param_oids) → Plan
PLANNERS = {
    ast.SelectStmt: plan_select,
    ast.InsertStmt: plan_insert,
    ast.UpdateStmt: plan_update,
    ast.DeleteStmt: plan_delete,
    ast.CreateStmt: plan_create_table,
    ast.CreateSchemaStmt: plan_create_schema,
    ast.CreateSeqStmt: plan_create_sequence,
    ast.ViewStmt: plan_create_view,
    ast.AlterTableStmt: plan_alter_table,
    ast.RenameStmt: plan_rename,
    ast.IndexStmt: index_plans.plan_create_index,
    ast.CallStmt: index_plans.plan_call,
    ast.ExplainStmt: plan_explain,
    ast.DropStmt: _plan_drop_any,
    ast.CreateDomainStmt: plan_create_domain,
    ast.CreateFunctionStmt: plan_create_function,
}
