"""Expressions over one relation's row outside the SELECT engine.

The key-aware plans (a single table's WHERE, select list, ORDER BY, VALUES and SET
values), CHECK constraints and column DEFAULTs compile with the one expression
compiler, :class:`~.exprs.ExprCompiler`, over a :class:`RowScope` that holds one
relation. What comes back is a :class:`RowExpr`: ``fn(row, params)`` evaluates it for
one row (a tuple in the relation's column order) and the statement's parameters.

What only the SELECT engine can compile (sub-queries, aggregates and window calls,
functions that read the catalog, the session user) is recognised before compiling by
:func:`needs_engine`: the planners choose the engine for those statements up front.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pglast import ast
from pglast.enums import SQLValueFunctionOp as V

from ...errors import DsqlError, FeatureNotSupported
from ..context import transaction_now
from . import sqltypes as S
from .aggregates import AGGREGATES, WINDOW_ONLY
from .astwalk import any_node, expr_sql, parse_expr  # noqa: F401 (stored expressions)
from .exprs import ExprCompiler, resolve_type
from .functions import FUNCTIONS, READS_CATALOG, SET_RETURNING
from .runtime import EngineConfig, Env, Expr
from .scope import Scope

RowFn = Callable[[tuple, list], Any]


class _RowRun:
    """``env.run`` of a row expression: the running transaction's time. The engine's
    per-statement state (caches, row checkpoints, scanned tables) belongs to queries."""
    __slots__ = ()
    config = EngineConfig()

    @property
    def now(self):
        return transaction_now()


_RUN = _RowRun()


@dataclass
class RowExpr:
    """A compiled expression over one row: ``fn(row, params)`` and its SQL type."""
    fn: RowFn
    oid: int
    const: bool = False          # no column, parameter or volatile function inside
    param: int | None = None     # a bare $n whose type its context settles
    engine: Expr | None = None   # the compiler's expression (for later coercion)

    def value(self, params: list | tuple = ()) -> Any:
        return self.fn((), list(params))


def _bind(e: Expr) -> RowExpr:
    f = e.fn
    if e.const:                      # constants read no environment (the engine's rule)
        fn: RowFn = lambda row, params: f(row, None)   # noqa: E731
    else:
        fn = lambda row, params: f(row, Env(params, (), _RUN))   # noqa: E731
    return RowExpr(fn, e.oid, e.const, e.param, e)


def column_ref(i: int, oid: int) -> RowExpr:
    """The row's column ``i`` (a select list's ``*``, an ORDER BY position)."""
    return RowExpr(lambda row, params: row[i], oid)


def constant(value: Any, oid: int) -> RowExpr:
    return RowExpr(lambda row, params: value, oid, True)


class RowScope:
    """The columns one expression sees (one relation, by row position), and the
    statement's parameter types, filled in as parameters meet their context. It is also
    the compiler's planner: parameters, no outer query levels, no sub-queries."""

    def __init__(self, names=(), oids=(), table: str | None = None,
                 param_oids: list[int] | None = None):
        self.names, self.oids, self.table = list(names), list(oids), table
        self.param_oids: list[int] = param_oids if param_oids is not None else []
        self.frames: list = []
        self.scope = Scope()
        self.scope.add_entry(table, self.names, self.oids)

    # -- the compiler's planner ---------------------------------------------------------
    def note_param(self, n: int, oid: int) -> int:
        """Record $n's type where a context first settles it. Asked with no type (a bare
        $n being compiled) it answers 0: a parameter stays an untyped value that each
        context casts to its own type, so ``col = $1`` stays a key value."""
        while len(self.param_oids) < n:
            self.param_oids.append(0)
        if oid and oid != S.UNKNOWN and not self.param_oids[n - 1]:
            self.param_oids[n - 1] = oid
        return self.param_oids[n - 1] if oid else 0

    def plan_sublink(self, stmt, scope):
        raise FeatureNotSupported("sub-queries are planned by the query engine")

    @property
    def catalog(self):
        raise FeatureNotSupported("catalog functions are planned by the query engine")

    @property
    def user(self):
        raise FeatureNotSupported("current_user is planned by the query engine")

    # -- names and expressions ----------------------------------------------------------
    def lookup(self, fields: tuple) -> int:
        """The row position a column reference names (42703, 42P01 as PostgreSQL)."""
        return self.scope.resolve(fields)[1]

    def compiler(self, clause: str = "WHERE") -> ExprCompiler:
        return ExprCompiler(self, self.scope, clause)

    def compile(self, node: Any, clause: str = "WHERE") -> RowExpr:
        return _bind(self.compiler(clause).compile(node))

    def coerce(self, e: RowExpr, oid: int) -> RowExpr:
        """An untyped literal or parameter takes the type its context wants."""
        if e.engine is None or not (e.oid in (S.UNKNOWN, 0) or e.param is not None):
            return e
        return _bind(self.compiler().coerce(e.engine, oid))

    def typed(self, node: Any, oid: int, clause: str = "WHERE") -> RowExpr:
        """``node`` compiled, untyped literals and parameters taking type ``oid``."""
        c = self.compiler(clause)
        return _bind(c.coerce(c.compile(node), oid))

    def condition(self, node: Any, what: str = "WHERE") -> RowExpr:
        """A boolean condition (42804 when it is not boolean)."""
        return _bind(self.compiler(what).boolean(node, what))

    def predicate(self, node: Any, what: str = "WHERE") -> Callable[[tuple, list], bool]:
        """A row filter: true only when the condition is true (NULL is false)."""
        f = self.condition(node, what).fn
        return lambda row, params: f(row, params) is True


_USER_OPS = frozenset({V.SVFOP_CURRENT_USER, V.SVFOP_USER, V.SVFOP_SESSION_USER,
                       V.SVFOP_CURRENT_ROLE})


def _engine_only(n: ast.Node) -> bool:
    if isinstance(n, (ast.SubLink, ast.MultiAssignRef)):
        return True
    if isinstance(n, ast.FuncCall):
        name = n.funcname[-1].sval.lower()
        return n.over is not None or name in AGGREGATES or name in WINDOW_ONLY \
            or name in READS_CATALOG or name in SET_RETURNING or name not in FUNCTIONS \
            or len(n.funcname) > 1 and n.funcname[0].sval != "pg_catalog"   # a SQL function
    if isinstance(n, ast.TypeCast):
        return _user_type(n.typeName)
    return isinstance(n, ast.SQLValueFunction) and n.op in _USER_OPS


def _user_type(tn: ast.TypeName) -> bool:
    """A type name that is no built-in type (a domain: the engine's catalog has it)."""
    try:
        resolve_type(tn)
    except DsqlError:
        return True
    return False


def needs_engine(*nodes: Any) -> bool:
    """Does one of these expressions need the SELECT engine: a sub-query, an aggregate
    or window call, a set-returning call, a function that reads the catalog, the
    session user, or a cast to a domain?"""
    return any_node(list(nodes), _engine_only)


def compile_constant(node: Any, oid: int | None = None) -> RowExpr:
    """An expression that reads no row (a DEFAULT, LIMIT), typed ``oid`` if given."""
    scope = RowScope()
    return scope.compile(node) if oid is None else scope.typed(node, oid)


