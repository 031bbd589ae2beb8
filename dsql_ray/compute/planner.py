"""Bind and plan: a parsed statement becomes a plan object that the executor runs.

Names are resolved against the catalog (bind), then the access path is chosen (plan):
a point lookup when the WHERE clause fixes every primary-key column, a range scan
over a key prefix when it fixes the leading ones, a scan of the table's key range
otherwise. Residual predicates are evaluated on each row.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import BoolExprType, SortByDir, SortByNulls
from pglast.stream import RawStream

from .. import limits
from ..errors import BindError, DsqlError, FeatureNotSupported, ParseError
from ..keys import encode_key, prefix_end
from . import types as T
from .catalog import ColumnDef, TableDef
from .expr import Expr, Scope, coerce_to, compile_expr, const, type_oid
from .result import Column, QueryResult
from .values import cast


class UnknownTable(BindError):
    sqlstate = "42P01"

    def __init__(self, name: str, **kw):
        super().__init__(f'relation "{name}" does not exist', **kw)
        self.name = name


def result_column(name: str, oid: int) -> Column:
    return Column(name, oid, T.TYPE_SIZE.get(oid, -1))


# -- access paths -------------------------------------------------------------
@dataclass
class Access:
    """How rows of a table are found: by key, by key range, or the whole table."""
    table: TableDef
    point: list[Expr] | None = None     # every pk column fixed
    prefix: list[Expr] | None = None    # leading pk columns fixed
    residual: Callable | None = None    # predicate to apply to each row

    def describe(self) -> str:
        if self.point is not None:
            return "point lookup"
        if self.prefix:
            return f"range scan on {len(self.prefix)} key column(s)"
        return "full scan"

    async def rows(self, txn, params: list) -> list[tuple[bytes, tuple]]:
        t = self.table
        if self.point is not None:
            key = t.row_key(tuple(e.fn((), params) for e in self.point))
            row = await txn.get(key)
            found = [] if row is None else [(key, row)]
        else:
            if self.prefix:
                low = t.key_prefix() + encode_key(tuple(e.fn((), params) for e in self.prefix))
                high = prefix_end(low)
            else:
                low, high = t.key_range()
            found = await txn.scan(low, high)
        pred = self.residual
        if pred is None:
            return found
        return [(k, r) for k, r in found if pred(r, params)]


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for a in node.args for c in _conjuncts(a)]
    return [node] if node is not None else []


def _key_equalities(node: Any, table: TableDef, scope: Scope) -> dict[int, Expr]:
    """pk position → the constant/parameter expression it is compared equal to."""
    fixed: dict[int, Expr] = {}
    pk_cols = {col: pos for pos, col in enumerate(table.pk)}
    for conj in _conjuncts(node):
        if not (isinstance(conj, ast.A_Expr) and conj.name[-1].sval == "="
                and conj.kind == 0):
            continue
        for col_side, val_side in ((conj.lexpr, conj.rexpr), (conj.rexpr, conj.lexpr)):
            if not isinstance(col_side, ast.ColumnRef):
                continue
            try:
                col = scope.lookup(col_side.fields)
            except BindError:
                continue
            if col not in pk_cols or isinstance(val_side, ast.ColumnRef):
                continue
            try:
                val = compile_expr(val_side, scope)
            except DsqlError:
                continue
            if not (val.const or val.param is not None):
                continue
            col_oid = table.columns[col].type_oid
            if val.oid not in (T.UNKNOWN, 0) and not _same_family(val.oid, col_oid):
                continue
            fixed[pk_cols[col]] = coerce_to(val, col_oid, scope) if val.oid != col_oid \
                else val
    return fixed


def _same_family(a: int, b: int) -> bool:
    ints = T.INTEGER_OIDS
    texts = {T.TEXT, T.VARCHAR, T.BPCHAR}
    return a == b or (a in ints and b in ints) or (a in texts and b in texts)


def plan_access(table: TableDef, where: Any, scope: Scope) -> Access:
    pred = None
    if where is not None:
        expr = coerce_to(compile_expr(where, scope), T.BOOL, scope)
        if expr.oid != T.BOOL:
            raise DsqlError("argument of WHERE must be type boolean", sqlstate="42804")
        f = expr.fn
        pred = lambda row, params: f(row, params) is True  # noqa: E731 - NULL is false
    access = Access(table, residual=pred)
    if table.hidden_pk or where is None:
        return access
    fixed = _key_equalities(where, table, scope)
    if len(fixed) == len(table.pk):
        access.point = [fixed[i] for i in range(len(table.pk))]
    else:
        leading = []
        for i in range(len(table.pk)):
            if i not in fixed:
                break
            leading.append(fixed[i])
        access.prefix = leading or None
    return access


# -- plans --------------------------------------------------------------------
@dataclass
class Plan:
    param_oids: list[int] = field(default_factory=list)
    columns: list[Column] | None = None
    is_ddl: bool = False
    is_dml: bool = False
    reads_catalog: bool = False

    async def run(self, txn, params: list, session) -> QueryResult:
        raise NotImplementedError

    def explain(self) -> list[str]:
        return [type(self).__name__]


@dataclass
class Projection:
    exprs: list[Expr]
    names: list[str]

    def columns(self) -> list[Column]:
        return [result_column(n, e.oid if e.oid != T.UNKNOWN else T.TEXT)
                for n, e in zip(self.names, self.exprs)]

    def apply(self, rows: list[tuple], params: list) -> list[tuple]:
        fns = [e.fn for e in self.exprs]
        return [tuple(f(r, params) for f in fns) for r in rows]


def _target_name(target: ast.ResTarget) -> str:
    if target.name:
        return target.name
    val = target.val
    if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.String):
        return val.fields[-1].sval
    if isinstance(val, ast.FuncCall):
        return val.funcname[-1].sval
    if isinstance(val, ast.TypeCast):
        inner = val.arg
        if isinstance(inner, ast.ColumnRef) and isinstance(inner.fields[-1], ast.String):
            return inner.fields[-1].sval
        return type_name_of(val.typeName)
    return "?column?"


def type_name_of(tn: ast.TypeName) -> str:
    name = tn.names[-1].sval
    return {"int4": "int4", "int8": "int8", "bool": "bool", "text": "text"}.get(name, name)


def projection(targets, scope: Scope) -> Projection:
    exprs, names = [], []
    for target in targets:
        val = target.val
        if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
            for i, name in enumerate(scope.names):
                exprs.append(Expr(lambda row, params, i=i: row[i], scope.oids[i]))
                names.append(name)
            continue
        expr = compile_expr(val, scope)
        if expr.oid == T.UNKNOWN:
            expr = coerce_to(expr, T.TEXT, scope)
        exprs.append(expr)
        names.append(_target_name(target))
    return Projection(exprs, names)


def _const_int(node: Any, what: str) -> int | None:
    if node is None:
        return None
    if isinstance(node, ast.A_Const) and node.isnull:
        return None
    expr = compile_expr(node, Scope([], []))
    if not expr.const:
        raise FeatureNotSupported(f"{what} must be a constant for now")
    return cast(expr.fn((), []), T.INT8)


def _sort_key(values: list[tuple[Any, bool, bool]]):
    """Turn (value, descending, nulls_first) triples into a comparable key."""
    out = []
    for value, desc, nulls_first in values:
        null = value is None
        out.append((_Desc if desc else _Asc)((0 if null == nulls_first else 1) if null else
                                               (1 if nulls_first else 0), value))
    return out


class _Asc:
    __slots__ = ("rank", "value")

    def __init__(self, rank, value):
        self.rank, self.value = rank, value

    def __lt__(self, other):
        if self.rank != other.rank:
            return self.rank < other.rank
        if self.value is None or other.value is None:
            return False
        return self.value < other.value

    def __eq__(self, other):
        return self.rank == other.rank and self.value == other.value


class _Desc(_Asc):
    __slots__ = ()

    def __lt__(self, other):
        if self.rank != other.rank:
            return self.rank < other.rank
        if self.value is None or other.value is None:
            return False
        return other.value < self.value


@dataclass
class SelectPlan(Plan):
    access: Access | None = None
    source_filter: Callable | None = None
    output: Projection | None = None
    order: list[tuple[Expr, bool, bool, bool]] = field(default_factory=list)  # expr, desc, nulls_first, on_output
    limit: int | None = None
    offset: int = 0
    for_update: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        if self.access is None:
            rows = [()]
            if self.source_filter is not None and self.source_filter((), params) is not True:
                rows = []
            keyed = [(None, r) for r in rows]
        else:
            keyed = await self.access.rows(txn, params)
            if self.for_update:
                txn.lock(k for k, _ in keyed)
        if len(keyed) > limits.scan_rows_max:
            raise DsqlError("statement returns too many rows", sqlstate="54000")
        source = [r for _, r in keyed]
        out = self.output.apply(source, params)
        if self.order:
            decorated = []
            for src, res in zip(source, out):
                decorated.append((_sort_key([(e.fn(res if on_out else src, params), d, nf)
                                             for e, d, nf, on_out in self.order]), res))
            decorated.sort(key=lambda kr: kr[0])
            out = [r for _, r in decorated]
        if self.offset:
            out = out[self.offset:]
        if self.limit is not None:
            out = out[:self.limit]
        return QueryResult(f"SELECT {len(out)}", self.columns, out)

    def explain(self) -> list[str]:
        if self.access is None:
            return ["Result"]
        a = self.access
        return [f"{a.describe()} on {a.table.name} (table {a.table.table_id})"
                + (" with filter" if a.residual else "")]


class _TxnSource:
    """What the general query engine reads: whole tables at the transaction's snapshot."""

    def __init__(self, txn, catalog, for_update: bool, session=None):
        self.txn, self.catalog, self.for_update = txn, catalog, for_update
        # -- system catalogs hook (dsql_ray/compute/system) --------------------------------
        self._system_cache: dict = {}
        self._settings = getattr(session, "settings", None)
        if self._settings is not None:
            from .system import CURRENT_SETTINGS
            CURRENT_SETTINGS.set(self._settings)
        # ----------------------------------------------------------------------------------

    def resolve(self, rangevar) -> TableDef:
        from .system import resolve      # system catalogs hook
        return resolve(self.catalog, rangevar)

    async def scan(self, table: TableDef) -> list[tuple]:
        if table.table_id < 0:           # system catalogs hook: virtual relation
            from .system import scan_system
            return await scan_system(table, self.txn, self._system_cache, None)
        low, high = table.key_range()
        found = await self.txn.scan(low, high)
        if len(found) > limits.scan_rows_max:
            raise DsqlError("statement returns too many rows", sqlstate="54000")
        if self.for_update:
            self.txn.lock(k for k, _ in found)
        return [r for _, r in found]


@dataclass
class QueryPlan(Plan):
    """Any SELECT, run by the general engine (joins, aggregates, subqueries, windows …)."""
    prepared: Any = None

    async def run(self, txn, params, session) -> QueryResult:
        from .query import EngineConfig
        source = _TxnSource(txn, session.node.catalog, self.prepared.for_update,
                            session=session)
        return await self.prepared.run(source, params,
                                       EngineConfig(max_rows=limits.scan_rows_max,
                                                    interrupt=session.interrupt))

    def explain(self) -> list[str]:
        return ["query engine: " + ", ".join(t.name for t in self.prepared.tables)]


def plan_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> Plan:
    """Single-table reads keep the key-aware fast path; everything else goes to the engine."""
    # -- system catalogs hook (dsql_ray/compute/system): pg_catalog / information_schema
    from .system import mentions_system, prepare_system_select
    if mentions_system(stmt):
        prepared = prepare_system_select(stmt, catalog, list(param_oids))
        return QueryPlan(prepared=prepared, columns=prepared.columns,
                         param_oids=prepared.param_oids)
    # ------------------------------------------------------------------------------------
    try:
        return _plan_simple_select(stmt, catalog, param_oids)
    except UnknownTable:
        raise
    except DsqlError:
        from .query import prepare_select
        from .system import SystemCatalog    # system catalogs hook: catalog functions
        prepared = prepare_select(stmt, SystemCatalog(catalog), list(param_oids))
        return QueryPlan(prepared=prepared, columns=prepared.columns,
                         param_oids=prepared.param_oids)


def _plan_simple_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> SelectPlan:
    if stmt.op != 0 or stmt.valuesLists or stmt.withClause or stmt.groupClause \
            or stmt.havingClause or stmt.distinctClause or stmt.windowClause:
        raise FeatureNotSupported("this form of SELECT is not supported yet")
    from_ = stmt.fromClause or ()
    if len(from_) > 1 or (from_ and not isinstance(from_[0], ast.RangeVar)):
        raise FeatureNotSupported("joins and subqueries in FROM are not supported yet")
    table = catalog.resolve(from_[0]) if from_ else None
    scope = Scope(table.column_names if table else [], table.column_oids if table else [],
                  (from_[0].alias.aliasname if from_ and from_[0].alias else
                   table.name if table else None), list(param_oids))
    plan = SelectPlan(reads_catalog=False)
    if table is not None:
        plan.access = plan_access(table, stmt.whereClause, scope)
    elif stmt.whereClause is not None:
        f = coerce_to(compile_expr(stmt.whereClause, scope), T.BOOL, scope).fn
        plan.source_filter = f
    plan.output = projection(stmt.targetList, scope)
    for sort in stmt.sortClause or ():
        desc = sort.sortby_dir == SortByDir.SORTBY_DESC
        nulls_first = desc if sort.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT \
            else sort.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
        node = sort.node
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            pos = node.val.ival
            if not 1 <= pos <= len(plan.output.exprs):
                raise BindError(f"ORDER BY position {pos} is not in select list",
                                sqlstate="42P10")
            plan.order.append((Expr(lambda r, p, i=pos - 1: r[i], 0), desc, nulls_first, True))
            continue
        if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String) \
                and node.fields[-1].sval in plan.output.names \
                and node.fields[-1].sval not in scope.names:
            i = plan.output.names.index(node.fields[-1].sval)
            plan.order.append((Expr(lambda r, p, i=i: r[i], 0), desc, nulls_first, True))
            continue
        plan.order.append((compile_expr(node, scope), desc, nulls_first, False))
    plan.limit = _const_int(stmt.limitCount, "LIMIT")
    plan.offset = _const_int(stmt.limitOffset, "OFFSET") or 0
    if stmt.lockingClause:
        if table is None:
            raise FeatureNotSupported("FOR UPDATE needs a table")
        plan.for_update = True
    plan.columns = plan.output.columns()
    plan.param_oids = [o or T.TEXT for o in scope.param_oids]
    return plan


# -- DML ------------------------------------------------------------------------
def _returning(stmt, scope: Scope) -> Projection | None:
    clause = getattr(stmt, "returningClause", None)
    targets = clause.exprs if clause is not None else getattr(stmt, "returningList", None)
    return projection(targets, scope) if targets else None


def _default_expr(col: ColumnDef, scope: Scope) -> Expr:
    if col.default_sql is None:
        return const(None, col.type_oid)
    from pglast import parse_sql
    node = parse_sql(f"SELECT {col.default_sql}")[0].stmt.targetList[0].val
    return coerce_to(compile_expr(node, Scope([], [])), col.type_oid)


def _assign(expr: Expr, col: ColumnDef, scope: Scope) -> Expr:
    """An expression stored into a column: the value is cast to the column's type."""
    expr = coerce_to(expr, col.type_oid, scope)
    if expr.oid == col.type_oid:
        return expr
    f, oid = expr.fn, col.type_oid
    if expr.oid in (T.TEXT, T.VARCHAR, T.BPCHAR) and oid not in (T.TEXT, T.VARCHAR, T.BPCHAR):
        raise DsqlError(f'column "{col.name}" is of type {T.OID_TO_NAME.get(oid)} but '
                        f"expression is of type {T.OID_TO_NAME.get(expr.oid)}",
                        sqlstate="42804",
                        hint="You will need to rewrite or cast the expression.")
    return Expr(lambda r, p: cast(f(r, p), oid), oid)


def check_row(table: TableDef, row: tuple) -> None:
    for col, value in zip(table.columns, row):
        if value is None and col.not_null:
            raise DsqlError(f'null value in column "{col.name}" of relation "{table.name}" '
                            "violates not-null constraint", sqlstate="23502",
                            detail=f"Failing row contains ({_row_text(row)}).")


def _row_text(row: tuple) -> str:
    return ", ".join("null" if v is None else str(v) for v in row)


def duplicate_key(table: TableDef, row: tuple) -> DsqlError:
    cols = ", ".join(table.columns[i].name for i in table.pk)
    vals = ", ".join(str(row[i]) for i in table.pk)
    return DsqlError(f'duplicate key value violates unique constraint "{table.name}_pkey"',
                     sqlstate="23505", detail=f"Key ({cols})=({vals}) already exists.")


def new_row_key(table: TableDef, row: tuple) -> bytes:
    if table.hidden_pk:
        return table.row_key((random.getrandbits(63),))
    return table.row_key(tuple(row[i] for i in table.pk))


@dataclass
class InsertPlan(Plan):
    table: TableDef | None = None
    rows: list[list[Expr]] = field(default_factory=list)
    returning: Projection | None = None

    async def run(self, txn, params, session) -> QueryResult:
        t = self.table
        new = [tuple(e.fn((), params) for e in exprs) for exprs in self.rows]
        keys = []
        for row in new:
            check_row(t, row)
            keys.append(new_row_key(t, row))
        if len(set(keys)) != len(keys):
            seen = set()
            for key, row in zip(keys, new):
                if key in seen:
                    raise duplicate_key(t, row)
                seen.add(key)
        if not t.hidden_pk:
            existing = await txn.get_many(keys)
            for row, old in zip(new, existing):
                if old is not None:
                    raise duplicate_key(t, row)
        for key, row in zip(keys, new):
            txn.put(key, row)
        return _dml_result(f"INSERT 0 {len(new)}", new, self.returning, params)


def _finish_dml(plan: "Plan", stmt, scope: Scope, param_scope: Scope | None = None) -> "Plan":
    """RETURNING, the result shape and the parameter types every DML plan carries."""
    plan.is_dml = True
    plan.returning = _returning(stmt, scope)
    plan.columns = plan.returning.columns() if plan.returning else None
    plan.param_oids = [o or T.TEXT for o in (param_scope or scope).param_oids]
    return plan


def _table_scope(relation, table: TableDef, param_oids: list[int]) -> Scope:
    alias = relation.alias.aliasname if relation.alias else table.name
    return Scope(table.column_names, table.column_oids, alias, list(param_oids))


def _dml_result(tag: str, rows: list[tuple], returning: Projection | None,
                params: list) -> QueryResult:
    if returning is None:
        return QueryResult(tag)
    return QueryResult(tag, returning.columns(), returning.apply(rows, params))


def plan_insert(stmt: ast.InsertStmt, catalog, param_oids: list[int]) -> InsertPlan:
    table = catalog.resolve(stmt.relation)
    if stmt.onConflictClause is not None:
        raise FeatureNotSupported("INSERT ... ON CONFLICT is not supported yet")
    sel = stmt.selectStmt
    if sel is None or not sel.valuesLists:
        raise FeatureNotSupported("INSERT ... SELECT and DEFAULT VALUES are not supported yet")
    scope = Scope(table.column_names, table.column_oids, table.name, list(param_oids))
    if stmt.cols:
        positions = []
        for target in stmt.cols:
            if target.name not in table.column_names:
                raise BindError(f'column "{target.name}" of relation "{table.name}" does not '
                                "exist", sqlstate="42703")
            positions.append(table.column_names.index(target.name))
    else:
        positions = list(range(len(table.columns)))
    empty = Scope([], [], None, scope.param_oids)
    rows = []
    for values in sel.valuesLists:
        if len(values) > len(positions):
            raise ParseError("INSERT has more expressions than target columns",
                             sqlstate="42601")
        if len(values) < len(positions):
            raise ParseError("INSERT has more target columns than expressions",
                             sqlstate="42601")
        exprs = [_default_expr(c, empty) for c in table.columns]
        for pos, node in zip(positions, values):
            col = table.columns[pos]
            exprs[pos] = _default_expr(col, empty) if isinstance(node, ast.SetToDefault) \
                else _assign(compile_expr(node, empty), col, empty)
        rows.append(exprs)
    return _finish_dml(InsertPlan(table=table, rows=rows), stmt, scope, empty)


@dataclass
class UpdatePlan(Plan):
    access: Access | None = None
    assignments: list[tuple[int, Expr]] = field(default_factory=list)
    returning: Projection | None = None

    async def run(self, txn, params, session) -> QueryResult:
        t = self.access.table
        found = await self.access.rows(txn, params)
        updated = []
        pk = set(t.pk)
        moves_key = any(pos in pk for pos, _ in self.assignments)
        for key, row in found:
            new = list(row)
            for pos, expr in self.assignments:
                new[pos] = expr.fn(row, params)
            new = tuple(new)
            check_row(t, new)
            if moves_key:
                new_key = new_row_key(t, new)
                if new_key != key:
                    if await txn.get(new_key) is not None:
                        raise duplicate_key(t, new)
                    txn.delete(key)
                    key = new_key
            txn.put(key, new)
            updated.append(new)
        return _dml_result(f"UPDATE {len(updated)}", updated, self.returning, params)


def plan_update(stmt: ast.UpdateStmt, catalog, param_oids: list[int]) -> UpdatePlan:
    if stmt.fromClause:
        raise FeatureNotSupported("UPDATE ... FROM is not supported yet")
    table = catalog.resolve(stmt.relation)
    scope = _table_scope(stmt.relation, table, param_oids)
    assignments = []
    for target in stmt.targetList:
        if target.name not in table.column_names:
            raise BindError(f'column "{target.name}" of relation "{table.name}" does not '
                            "exist", sqlstate="42703")
        pos = table.column_names.index(target.name)
        col = table.columns[pos]
        expr = _default_expr(col, scope) if isinstance(target.val, ast.SetToDefault) \
            else _assign(compile_expr(target.val, scope), col, scope)
        assignments.append((pos, expr))
    return _finish_dml(UpdatePlan(access=plan_access(table, stmt.whereClause, scope),
                                  assignments=assignments), stmt, scope)


@dataclass
class DeletePlan(Plan):
    access: Access | None = None
    returning: Projection | None = None

    async def run(self, txn, params, session) -> QueryResult:
        found = await self.access.rows(txn, params)
        for key, _ in found:
            txn.delete(key)
        return _dml_result(f"DELETE {len(found)}", [r for _, r in found], self.returning,
                           params)


def plan_delete(stmt: ast.DeleteStmt, catalog, param_oids: list[int]) -> DeletePlan:
    if stmt.usingClause:
        raise FeatureNotSupported("DELETE ... USING is not supported yet")
    table = catalog.resolve(stmt.relation)
    scope = _table_scope(stmt.relation, table, param_oids)
    return _finish_dml(DeletePlan(access=plan_access(table, stmt.whereClause, scope)), stmt,
                       scope)


# -- DDL ------------------------------------------------------------------------
@dataclass
class CreateTablePlan(Plan):
    schema: str = "public"
    name: str = ""
    columns: tuple[ColumnDef, ...] = ()
    pk_names: tuple[str, ...] = ()
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        return await session.node.catalog.create_table(txn, self, session)


_UNSUPPORTED_TYPES = {"serial": "serial", "bigserial": "bigserial", "smallserial": "smallserial",
                      "serial4": "serial", "serial8": "bigserial", "serial2": "smallserial"}


def plan_create_table(stmt: ast.CreateStmt, catalog, param_oids) -> CreateTablePlan:
    rel = stmt.relation
    if rel.relpersistence == "t":
        raise FeatureNotSupported("temporary tables are not supported")
    if rel.relpersistence == "u":
        raise FeatureNotSupported("unlogged tables are not supported")
    if stmt.partspec is not None or stmt.partbound is not None:
        raise FeatureNotSupported("partitioned tables are not supported")
    if stmt.inhRelations:
        raise FeatureNotSupported("table inheritance is not supported")
    columns: list[ColumnDef] = []
    pk: list[str] = []
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            tname = elt.typeName.names[-1].sval.lower()
            if tname in _UNSUPPORTED_TYPES:
                raise FeatureNotSupported(f'type "{_UNSUPPORTED_TYPES[tname]}" is not supported',
                                          hint="Use an identity column or a sequence with "
                                               "CACHE 1 or CACHE >= 65536 instead.")
            oid = type_oid(elt.typeName)
            not_null, default = bool(elt.is_not_null), None
            for con in elt.constraints or ():
                kind = con.contype.name
                if kind == "CONSTR_PRIMARY":
                    pk.append(elt.colname)
                    not_null = True
                elif kind == "CONSTR_NOTNULL":
                    not_null = True
                elif kind == "CONSTR_NULL":
                    not_null = False
                elif kind == "CONSTR_DEFAULT":
                    default = RawStream()(con.raw_expr)
                else:
                    raise FeatureNotSupported(f"{kind[7:]} constraints are not supported yet")
            if any(c.name == elt.colname for c in columns):
                raise DsqlError(f'column "{elt.colname}" specified more than once',
                                sqlstate="42701")
            columns.append(ColumnDef(elt.colname, oid, not_null, default))
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_PRIMARY":
            if pk:
                raise DsqlError(f'multiple primary keys for table "{rel.relname}" are not '
                                "allowed", sqlstate="42P16")
            pk = [k.sval for k in elt.keys]
        else:
            raise FeatureNotSupported(f"{type(elt).__name__} in CREATE TABLE is not supported yet")
    limits.columns_per_table_max.check(len(columns))
    names = [c.name for c in columns]
    for k in pk:
        if k not in names:
            raise BindError(f'column "{k}" named in key does not exist', sqlstate="42703")
    columns = [ColumnDef(c.name, c.type_oid, True, c.default_sql) if c.name in pk else c
               for c in columns]
    return CreateTablePlan(schema=rel.schemaname or "public", name=rel.relname,
                           columns=tuple(columns), pk_names=tuple(pk),
                           if_not_exists=bool(stmt.if_not_exists), is_ddl=True)


@dataclass
class DropTablePlan(Plan):
    names: list[tuple[str, str]] = field(default_factory=list)
    if_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        return await session.node.catalog.drop_tables(txn, self)


def plan_drop(stmt: ast.DropStmt, catalog, param_oids) -> DropTablePlan:
    if stmt.removeType.name != "OBJECT_TABLE":
        raise FeatureNotSupported(f"DROP {stmt.removeType.name[7:]} is not supported yet")
    names = []
    for obj in stmt.objects:
        parts = [s.sval for s in obj]
        names.append((parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0]))
    return DropTablePlan(names=names, if_exists=bool(stmt.missing_ok), is_ddl=True)


PLANNERS = {
    ast.SelectStmt: plan_select,
    ast.InsertStmt: plan_insert,
    ast.UpdateStmt: plan_update,
    ast.DeleteStmt: plan_delete,
    ast.CreateStmt: plan_create_table,
    ast.DropStmt: plan_drop,
}
