"""Bind and plan: a parsed statement becomes a plan object that the executor runs.

Names are resolved against the catalog (bind), then the access path is chosen (plan):
a point lookup when the WHERE clause fixes every primary-key column, a range scan
over a key prefix when it fixes the leading ones, a scan of the table's key range
otherwise. Residual predicates are evaluated on each row.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast, parse_sql
from pglast.enums import LockClauseStrength, OnConflictAction, SortByDir, SortByNulls
from pglast.stream import RawStream

from .. import limits
from ..errors import (CardinalityViolation, DatatypeMismatch, DsqlError, DuplicateColumn,
                      FeatureNotSupported, InvalidColumnReference, LimitExceeded, NotNullViolation,
                      ParseError, UndefinedColumn, UndefinedObject, UniqueViolation)
from . import types as T
from .catalog import ColumnDef, TableDef, UnknownTable  # noqa: F401 (planners raise it)
from . import access as access_paths
from .access import Access, _referenced_columns, plan_pushdown
from .constraints import check_constraints
from .index_access import best_access, engine_index_access
from .query.exprs import figure_colname
from .query.astwalk import any_node, nodes
from .query.rowexpr import (RowExpr, RowScope, column_ref, compile_constant, constant,
                             needs_engine)
from .interrupt import checkpoints
from .plan import Plan
from .result import Column, QueryResult
from .sequences import sequence_row
from .views import view_rows
from .query.sqltypes import assign, cast, type_modifier
from .system import (CURRENT_SETTINGS, SystemCatalog, mentions_system, prepare_system_select,
                     resolve, scan_system)
from .query import EngineConfig, prepare_select
from .query import sqltypes as S
from .indexes import VALID, registry_of_catalog


# -- plans --------------------------------------------------------------------
@dataclass
class Projection:
    exprs: list[RowExpr]
    names: list[str]

    typmods: list[int] = field(default_factory=list)     # per column; -1: none

    def columns(self) -> list[Column]:
        mods = self.typmods or [-1] * len(self.exprs)
        return [Column(n, oid, T.TYPE_SIZE.get(oid, -1), m) for n, e, m in
                zip(self.names, self.exprs, mods)
                for oid in (e.oid if e.oid != T.UNKNOWN else T.TEXT,)]

    def apply(self, rows: list[tuple], params: list) -> list[tuple]:
        fns = [e.fn for e in self.exprs]
        return [tuple(f(r, params) for f in fns) for r in rows]


def projection(targets, scope: RowScope, table: TableDef | None = None,
               clause: str = "SELECT") -> Projection:
    """The select list over one table's rows; ``table`` gives bare columns their type
    modifier (character(n) output is padded to n)."""
    exprs, names, mods = [], [], []

    def typmod(i: int) -> int:
        if table is None or i >= len(table.columns) or table.columns[i].type_oid != T.BPCHAR:
            return -1
        return table.columns[i].type_modifier
    for target in targets:
        val = target.val
        if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
            for i, name in enumerate(scope.names):
                exprs.append(column_ref(i, scope.oids[i]))
                names.append(name)
                mods.append(typmod(i))
            continue
        expr = scope.compile(val, clause)
        if expr.oid == T.UNKNOWN:
            expr = scope.coerce(expr, T.TEXT)
        exprs.append(expr)
        names.append(target.name or figure_colname(val))
        if isinstance(val, ast.ColumnRef):
            mods.append(typmod(scope.lookup(val.fields)))
        elif isinstance(val, ast.TypeCast) and expr.oid == T.BPCHAR:
            mods.append(type_modifier(val.typeName, T.BPCHAR))
        else:
            mods.append(-1)
    return Projection(exprs, names, mods)


def _const_int(node: Any, what: str) -> int | None:
    if node is None:
        return None
    if isinstance(node, ast.A_Const) and node.isnull:
        return None
    expr = compile_constant(node)
    if not expr.const:
        raise FeatureNotSupported(f"{what} must be a constant for now")
    return cast(expr.value(), T.INT8)


def _sort_key(values: list[tuple[Any, bool, bool]]):
    """Turn (value, descending, nulls_first) triples into a comparable key."""
    out = []
    for value, desc, nulls_first in values:
        null = value is None
        out.append((_Desc if desc else _Asc)((0 if null == nulls_first else 1) if null else
                                               (1 if nulls_first else 0), value))
    return out


class _Asc:
    """One ORDER BY key: NULL placement (rank), then the value ascending."""
    __slots__ = ("rank", "value")
    descending = False

    def __init__(self, rank, value):
        self.rank, self.value = rank, value

    def __lt__(self, other):
        if self.rank != other.rank:
            return self.rank < other.rank
        if self.value is None or other.value is None:
            return False
        a, b = (other.value, self.value) if self.descending else (self.value, other.value)
        return a < b

    def __eq__(self, other):
        return self.rank == other.rank and self.value == other.value


class _Desc(_Asc):
    __slots__ = ()
    descending = True


@dataclass
class SelectPlan(Plan):
    access: Access | None = None
    source_filter: Callable | None = None
    output: Projection | None = None
    #: (expression, descending, nulls first, evaluated on the output row)
    order: list[tuple[RowExpr, bool, bool, bool]] = field(default_factory=list)
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
            raise LimitExceeded("statement returns too many rows")
        source = [r for _, r in keyed]
        out = self.output.apply(checkpoints(source), params)
        if self.order:
            decorated = []
            for src, res in zip(checkpoints(source), out):
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
        return self.access.describe().split("\n")


class _TxnSource:
    """What the general query engine reads: whole tables at the transaction's snapshot."""

    def __init__(self, txn, catalog, for_update: bool, session=None):
        self.txn, self.catalog, self.for_update = txn, catalog, for_update
        self.accesses: dict = {}         # table id → index path (QueryPlan.index_access)
        self.params: list = []
        # -- system catalogs hook (dsql_ray/compute/system) --------------------------------
        self._system_cache: dict = {}
        self._settings = getattr(session, "settings", None)
        if self._settings is not None:
            CURRENT_SETTINGS.set(self._settings)
        # ----------------------------------------------------------------------------------

    def resolve(self, rangevar) -> TableDef:
        return resolve(self.catalog, rangevar)

    async def scan(self, table: TableDef) -> list[tuple]:
        if table.table_id < 0:           # system catalogs hook: virtual relation
            return await scan_system(table, self.txn, self._system_cache, None)
        if table.kind != "r":            # views expand to their query (compute/ddl.py)
            if table.kind == "S":
                return [await sequence_row(self.txn, table)]
            return await view_rows(table, self, EngineConfig(max_rows=limits.scan_rows_max))
        if table.altered:                # rows stored by slot (ALTER TABLE, compute/ddl.py)
            self.txn.uses([table])
        access = self.accesses.get(table.table_id)
        if access is not None:           # rows a secondary index finds (WHERE re-tested)
            found = await access.rows(self.txn, self.params)
        else:
            low, high = table.key_range()
            found = await self.txn.scan(low, high)
        if len(found) > limits.scan_rows_max:
            raise LimitExceeded("statement returns too many rows")
        if self.for_update:
            self.txn.lock(k for k, _ in found)
        return [r for _, r in found]


@dataclass
class QueryPlan(Plan):
    """Any SELECT, run by the general engine (joins, aggregates, subqueries, windows …)."""
    prepared: Any = None
    #: table id → an index path for the table's rows (index_plans.engine_index_access)
    index_access: dict = field(default_factory=dict)

    async def run(self, txn, params, session) -> QueryResult:
        source = _TxnSource(txn, session.node.catalog, self.prepared.for_update,
                            session=session)
        source.accesses, source.params = self.index_access, params
        return await self.prepared.run(source, params, _engine_config(session))

    def explain(self) -> list[str]:
        return ["query engine: " + ", ".join(t.name for t in self.prepared.tables)]


#: lock strengths DSQL refuses; FOR UPDATE and FOR KEY SHARE both put the rows read into
#: the conflict check at COMMIT (a concurrent writer of them makes one side fail)
_REFUSED_LOCKS = {LockClauseStrength.LCS_FORSHARE: "FOR SHARE",
                  LockClauseStrength.LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE"}


def _check_lock_strengths(stmt: ast.SelectStmt) -> None:
    for node in nodes(stmt):
        if isinstance(node, ast.LockingClause) and node.strength in _REFUSED_LOCKS:
            raise FeatureNotSupported(f"SELECT ... {_REFUSED_LOCKS[node.strength]} is not "
                                      "supported",
                                      hint="Use FOR UPDATE or FOR KEY SHARE: both put the rows "
                                           "read into the conflict check at COMMIT.")


def plan_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> Plan:
    """Single-table reads keep the key-aware fast path; everything else goes to the engine."""
    _check_lock_strengths(stmt)
    # -- system catalogs hook (dsql_ray/compute/system): pg_catalog / information_schema
    if mentions_system(stmt):
        prepared = prepare_system_select(stmt, catalog, list(param_oids))
        return QueryPlan(prepared=prepared, columns=prepared.columns,
                         param_oids=prepared.param_oids)
    # ------------------------------------------------------------------------------------
    if _key_aware_select(stmt, catalog):
        return _plan_simple_select(stmt, catalog, param_oids)
    prepared = prepare_select(stmt, SystemCatalog(catalog), list(param_oids))
    return QueryPlan(prepared=prepared, columns=prepared.columns,
                     param_oids=prepared.param_oids,
                     index_access=engine_index_access(stmt, prepared, catalog))


def _statement_constant(node: Any) -> bool:
    """LIMIT/OFFSET the key-aware plan evaluates once: no column, parameter or call."""
    return node is None or not any_node(node, lambda n: isinstance(
        n, (ast.ColumnRef, ast.ParamRef, ast.FuncCall, ast.SubLink)))


def _key_aware_select(stmt: ast.SelectStmt, catalog) -> bool:
    """The access-path choice, made before compiling: can the key-aware plan (one table
    or none, by key, range, index or scan with pushdown) answer it, or does it need the
    query engine (joins, grouping, sub-queries, aggregates, views, sequences, ...)?"""
    if stmt.op != 0 or stmt.valuesLists or stmt.withClause or stmt.groupClause \
            or stmt.havingClause or stmt.distinctClause or stmt.windowClause:
        return False
    from_ = stmt.fromClause or ()
    if len(from_) > 1 or (from_ and not isinstance(from_[0], ast.RangeVar)):
        return False
    if needs_engine(stmt.targetList, stmt.whereClause, stmt.sortClause) or not (
            _statement_constant(stmt.limitCount) and _statement_constant(stmt.limitOffset)):
        return False
    table = catalog.resolve(from_[0]) if from_ else None
    if table is not None and table.kind != "r":      # views, sequences: the engine reads them
        return False
    return not (stmt.lockingClause and table is None)


def _plan_simple_select(stmt: ast.SelectStmt, catalog, param_oids: list[int]) -> SelectPlan:
    """A read of one table (or none): its access path and pushdown, the projection,
    ORDER BY, LIMIT and FOR UPDATE, all over one row's expressions."""
    from_ = stmt.fromClause or ()
    table = catalog.resolve(from_[0]) if from_ else None
    scope = RowScope(table.column_names if table else [], table.column_oids if table else [],
                     (from_[0].alias.aliasname if from_ and from_[0].alias else
                      table.name if table else None), list(param_oids))
    plan = SelectPlan(reads_catalog=False)
    if table is not None:
        plan.access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                                    stmt.whereClause, scope)
    elif stmt.whereClause is not None:
        plan.source_filter = scope.typed(stmt.whereClause, T.BOOL).fn
    plan.output = projection(stmt.targetList, scope, table)
    for sort in stmt.sortClause or ():
        desc = sort.sortby_dir == SortByDir.SORTBY_DESC
        nulls_first = desc if sort.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT \
            else sort.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
        node = sort.node
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            pos = node.val.ival
            if not 1 <= pos <= len(plan.output.exprs):
                raise InvalidColumnReference(f"ORDER BY position {pos} is not in select list")
            plan.order.append((column_ref(pos - 1, 0), desc, nulls_first, True))
            continue
        if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String) \
                and node.fields[-1].sval in plan.output.names \
                and node.fields[-1].sval not in scope.names:
            i = plan.output.names.index(node.fields[-1].sval)
            plan.order.append((column_ref(i, 0), desc, nulls_first, True))
            continue
        plan.order.append((scope.compile(node, "ORDER BY"), desc, nulls_first, False))
    plan.limit = _const_int(stmt.limitCount, "LIMIT")
    plan.offset = _const_int(stmt.limitOffset, "OFFSET") or 0
    plan.for_update = bool(stmt.lockingClause)
    plan.columns = plan.output.columns()
    plan.param_oids = [o or T.TEXT for o in scope.param_oids]
    if plan.access is not None and access_paths.PUSHDOWN and not getattr(table, "altered", False):
        plan.access.columns = _referenced_columns(      # projection pushed to storage
            [stmt.targetList, stmt.whereClause, stmt.sortClause], scope)
    return plan


# -- DML ------------------------------------------------------------------------
def column_default(col: ColumnDef) -> RowExpr:
    if col.default_sql is None:
        return constant(None, col.type_oid)
    node = parse_sql(f"SELECT {col.default_sql}")[0].stmt.targetList[0].val
    return compile_constant(node, col.type_oid)


def _assign(expr: RowExpr, col: ColumnDef, scope: RowScope) -> RowExpr:
    """An expression stored into a column: the value is cast to the column's type."""
    expr = scope.coerce(expr, col.type_oid)
    f, oid, typmod = expr.fn, col.type_oid, col.type_modifier
    if expr.oid != oid:
        if expr.oid in (T.TEXT, T.VARCHAR, T.BPCHAR) \
                and oid not in (T.TEXT, T.VARCHAR, T.BPCHAR):
            raise DatatypeMismatch(f'column "{col.name}" is of type {T.OID_TO_NAME.get(oid)} but '
                                   f"expression is of type {T.OID_TO_NAME.get(expr.oid)}",
                                   hint="You will need to rewrite or cast the expression.")
        expr = RowExpr(lambda r, p: cast(f(r, p), oid), oid)
    if typmod < 0:
        return expr
    g = expr.fn                  # varchar(n), char(n), numeric(p, s), timestamp(p)
    return RowExpr(lambda r, p: assign(g(r, p), oid, typmod), oid)


def check_row(table: TableDef, row: tuple) -> None:
    for col, value in zip(table.columns, row):
        if value is None and col.not_null:
            raise NotNullViolation(f'null value in column "{col.name}" of relation "{table.name}" '
                                   "violates not-null constraint",
                                   detail=f"Failing row contains ({_row_text(row)}).")
    if table.checks:
        check_constraints(table, row)


def _row_text(row: tuple) -> str:
    return ", ".join("null" if v is None else str(v) for v in row)


def duplicate_key(table: TableDef, row: tuple) -> DsqlError:
    cols = ", ".join(table.columns[i].name for i in table.pk)
    vals = ", ".join(str(row[i]) for i in table.pk)
    return UniqueViolation(f'duplicate key value violates unique constraint "{table.name}_pkey"',
                           detail=f"Key ({cols})=({vals}) already exists.")


def new_row_key(table: TableDef, row: tuple) -> bytes:
    if table.hidden_pk:
        return table.row_key((random.getrandbits(63),))
    return table.row_key(tuple(row[i] for i in table.pk))


# -- DML through the general engine -----------------------------------------------
# A DML statement whose parts the key-aware path cannot evaluate (INSERT ... SELECT,
# UPDATE ... FROM, DELETE ... USING, sub-queries anywhere, ON CONFLICT DO UPDATE, rich
# RETURNING) is turned into SELECTs over statement-local relations and run by the query
# engine (compute/query): the target table's rows carry their storage key in a hidden
# last column, so the engine's answer says which rows to write.
_KEY_COL = "__dsql_key"
_IDX_COL = "__dsql_i"
_TARGET, _NEW, _EXISTING, _EXCLUDED = ("__dsql_target", "__dsql_new", "__dsql_existing",
                                       "__dsql_excluded")
_LOCAL_IDS = {_TARGET: -(1 << 40), _NEW: -(1 << 40) - 1, _EXISTING: -(1 << 40) - 2,
              _EXCLUDED: -(1 << 40) - 3}
_TEXTS = (T.TEXT, T.VARCHAR, T.BPCHAR)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql(node: Any) -> str:
    return RawStream()(node)


def _local_table(name: str, table: TableDef, extra: str | None, extra_oid: int) -> TableDef:
    cols = table.columns + ((ColumnDef(extra, extra_oid),) if extra else ())
    return TableDef(_LOCAL_IDS[name], "pg_temp", name, cols, ())


class _LocalCatalog:
    """The engine's catalog for one DML statement: its local relations, then the real ones."""

    def __init__(self, catalog, local: list[TableDef]):
        self._inner = SystemCatalog(catalog)
        self._local = {t.name: t for t in local}

    def resolve(self, rangevar) -> TableDef:
        if not rangevar.schemaname and rangevar.relname in self._local:
            return self._local[rangevar.relname]
        return self._inner.resolve(rangevar)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _LocalSource:
    """What the engine reads for one DML statement: local relations' rows, else the txn's."""

    def __init__(self, inner: "_TxnSource", rows: dict[int, list[tuple]]):
        self._inner, self._rows = inner, rows

    def resolve(self, rangevar) -> TableDef:
        return self._inner.resolve(rangevar)

    async def scan(self, table: TableDef) -> list[tuple]:
        rows = self._rows.get(table.table_id)
        return rows if rows is not None else await self._inner.scan(table)


def _engine_config(session):
    txn = getattr(session, "txn", None)
    return EngineConfig(max_rows=limits.scan_rows_max,
                        now=txn.now if txn is not None else None,
                        interrupt=getattr(session, "interrupt", None),
                        max_bytes=limits.statement_memory_max.value)


def _prepare(sql: str, catalog, local: list[TableDef], param_oids: list[int]):
    return prepare_select(parse_sql(sql)[0].stmt, _LocalCatalog(catalog, local),
                          param_oids)


def _prepare_node(stmt, catalog, local: list[TableDef], param_oids: list[int]):
    return prepare_select(stmt, _LocalCatalog(catalog, local), param_oids)


async def _engine_rows(prepared, txn, session, params: list,
                       local_rows: dict[int, list[tuple]]) -> list[tuple]:
    source = _LocalSource(_TxnSource(txn, session.node.catalog, False, session=session),
                          local_rows)
    return (await prepared.run(source, params, _engine_config(session))).rows


def _with_prefix(stmt) -> str:
    w = getattr(stmt, "withClause", None)
    if w is None:
        return ""
    return ("WITH RECURSIVE " if w.recursive else "WITH ") + _sql(w) + " "


def _untyped(node: Any) -> bool:
    """A literal string, NULL or bare parameter: typed by the column it is stored into."""
    return isinstance(node, ast.ParamRef) or (
        isinstance(node, ast.A_Const) and (node.isnull or isinstance(node.val, ast.String)))


def _type_sql(col: ColumnDef) -> str:
    """The column's type for a CAST (length limits are applied when the value is stored)."""
    if col.type_oid == T.BPCHAR:
        return "bpchar"               # "character" alone would mean char(1)
    return T.OID_TO_NAME.get(col.type_oid, "text")


def _stored_sql(node: Any, col: ColumnDef) -> str:
    """SQL text of a value stored into ``col`` (DEFAULT becomes the column's default)."""
    if isinstance(node, ast.SetToDefault):
        return f"CAST({col.default_sql or 'NULL'} AS {_type_sql(col)})"
    if _untyped(node):
        return f"CAST({_sql(node)} AS {_type_sql(col)})"
    return f"({_sql(node)})"


def _typed_node(node: Any, col: ColumnDef) -> Any:
    if isinstance(node, ast.SetToDefault) or _untyped(node):
        return parse_sql("SELECT " + _stored_sql(node, col))[0].stmt.targetList[0].val
    return node


_CATEGORY = {**{o: "n" for o in (T.INT2, T.INT4, T.INT8, T.FLOAT4, T.FLOAT8, T.NUMERIC)},
             T.DATE: "d", T.TIMESTAMP: "d", T.TIMESTAMPTZ: "d", T.JSON: "j", T.JSONB: "j"}


def _converter(col: ColumnDef, oid: int) -> Callable[[Any], Any]:
    """PostgreSQL's assignment cast of a value of type ``oid`` into ``col``; 42804 if none."""
    target, typmod = col.type_oid, col.type_modifier
    if oid != target and oid not in (T.UNKNOWN, 0) and target not in _TEXTS:
        a, b = _CATEGORY.get(oid, oid), _CATEGORY.get(target, target)
        if a != b:
            raise DatatypeMismatch(
                f'column "{col.name}" is of type {T.OID_TO_NAME.get(target)} but '
                f"expression is of type {S.type_name(oid)}",
                hint="You will need to rewrite or cast the expression.")
    if typmod >= 0:
        return lambda v: assign(S.cast(v, target), target, typmod)
    if oid == target:
        return lambda v: v
    return lambda v: S.cast(v, target)


class _Returning:
    """RETURNING: the key-aware projection when it can, else the engine over the new rows.

    With ``leaves`` (UPDATE ... FROM / DELETE ... USING: each FROM item's alias and
    columns), RETURNING also sees the FROM row each target row was matched with: every
    written row and its FROM rows share an index column the engine joins on.
    """

    def __init__(self, stmt, table: TableDef, alias: str, scope: RowScope, catalog,
                 param_oids: list[int], force_engine: bool = False,
                 leaves: list[tuple[str, list[Column]]] | None = None):
        targets = _returning_targets(stmt)
        self.projection = self.prepared = None
        self.leaves = leaves or []
        if not targets:
            return
        if not (force_engine or needs_engine(targets)):
            self.projection = projection(targets, scope, table, "RETURNING")
            return
        a = _ident(alias)
        if not self.leaves:
            local = [_local_table(_NEW, table, None, 0)]
            sql = f"SELECT {', '.join(_sql(t) for t in targets)} FROM {_NEW} AS {a}"
        else:
            local = [_local_table(_NEW, table, _IDX_COL, T.INT8)]
            groups = [(alias, table.column_names)]
            items, joins = [f"{_NEW} AS {a}"], []
            for j, (leaf, cols) in enumerate(self.leaves):
                name = f"__dsql_from{j}"
                local.append(TableDef(_LOCAL_IDS[_NEW] - 100 - j, "pg_temp", name, tuple(
                    ColumnDef(c.name, c.type_oid) for c in cols) + (
                    ColumnDef(_IDX_COL, T.INT8),), ()))
                items.append(f"{name} AS {_ident(leaf)}")
                joins.append(f"{a}.{_IDX_COL} = {_ident(leaf)}.{_IDX_COL}")
                groups.append((leaf, [c.name for c in cols]))
            sql = (f"SELECT {', '.join(_expand_stars(targets, groups))} FROM "
                   f"{', '.join(items)} WHERE {' AND '.join(joins)}")
        self.prepared = _prepare(sql, catalog, local, param_oids)
        self.local_ids = [t.table_id for t in local]
        param_oids[:] = self.prepared.param_oids

    @property
    def wanted(self) -> bool:
        return self.projection is not None or self.prepared is not None

    def columns(self) -> list[Column] | None:
        if self.projection is not None:
            return self.projection.columns()
        return list(self.prepared.columns) if self.prepared is not None else None

    async def rows(self, rows: list[tuple], txn, session, params: list,
                   from_rows: list[tuple] | None = None) -> list[tuple]:
        """RETURNING of the written ``rows``; ``from_rows[i]``: row i's FROM rows."""
        if self.projection is not None:
            return self.projection.apply(rows, params)
        if not self.leaves:
            local = {_LOCAL_IDS[_NEW]: rows}
        else:
            local = {self.local_ids[0]: [r + (i,) for i, r in enumerate(rows)]}
            for j, table_id in enumerate(self.local_ids[1:]):
                local[table_id] = [f[j] + (i,) for i, f in enumerate(from_rows)]
        return await _engine_rows(self.prepared, txn, session, params, local)


def _expand_stars(targets, groups: list[tuple[str, list[str]]]) -> list[str]:
    """RETURNING targets as SQL, ``*`` and ``alias.*`` spelled out column by column."""
    out = []
    for t in targets:
        v = t.val
        if isinstance(v, ast.ColumnRef) and isinstance(v.fields[-1], ast.A_Star):
            chosen = groups if len(v.fields) == 1 else \
                [g for g in groups if g[0] == v.fields[-2].sval]
            if chosen:
                out.extend(f"{_ident(a)}.{_ident(n)}" for a, names in chosen for n in names)
                continue
        out.append(_sql(t))
    return out


def _from_leaves(items) -> list[str]:
    """The range names FROM items bring into scope (JoinExprs without alias unpacked)."""
    out: list[str] = []
    for it in items or ():
        if isinstance(it, ast.JoinExpr) and it.alias is None:
            out.extend(_from_leaves([it.larg, it.rarg]))
        elif isinstance(it, ast.RangeVar):
            out.append(it.alias.aliasname if it.alias else it.relname)
        elif getattr(it, "alias", None) is not None:
            out.append(it.alias.aliasname)
        else:
            raise FeatureNotSupported("RETURNING with this FROM item is not supported")
    return out


async def _dml_result(tag: str, rows: list[tuple], returning: _Returning | None, txn,
                      session, params: list, from_rows: list[tuple] | None = None
                      ) -> QueryResult:
    if returning is None or not returning.wanted:
        return QueryResult(tag)
    return QueryResult(tag, returning.columns(), await returning.rows(rows, txn, session,
                                                                      params, from_rows))


def _finish_dml(plan: "Plan", stmt, table: TableDef, alias: str, scope: RowScope, catalog,
                param_oids: list[int], force_engine: bool = False,
                leaves: list[tuple[str, list[Column]]] | None = None) -> "Plan":
    """RETURNING, the result shape and the parameter types every DML plan carries."""
    plan.is_dml = True
    plan.returning = _Returning(stmt, table, alias, scope, catalog, param_oids,
                                force_engine, leaves)
    plan.columns = plan.returning.columns()
    n = max(len(param_oids), len(scope.param_oids))
    merged = [(param_oids[i] if i < len(param_oids) else 0) or
              (scope.param_oids[i] if i < len(scope.param_oids) else 0) for i in range(n)]
    plan.param_oids = [o or T.TEXT for o in merged]
    return plan


def _table_scope(relation, table: TableDef, param_oids: list[int]) -> RowScope:
    alias = relation.alias.aliasname if relation.alias else table.name
    return RowScope(table.column_names, table.column_oids, alias, list(param_oids))


def _alias(relation, table: TableDef) -> str:
    return relation.alias.aliasname if relation.alias else table.name


# -- INSERT ---------------------------------------------------------------------------
@dataclass
class Arbiter:
    """A unique constraint INSERT ... ON CONFLICT checks proposed rows against.

    Today only the primary key; a unique index plugs in by returning its own Arbiter from
    :func:`conflict_arbiters` with a ``lookup`` that goes through the index.
    """
    name: str
    columns: tuple[int, ...]

    def conflict_key(self, table: TableDef, row: tuple) -> Any:
        return tuple(row[i] for i in self.columns)

    async def lookup(self, txn, table: TableDef, rows: list[tuple]
                     ) -> list[tuple[bytes, tuple] | None]:
        """For each proposed row: the existing (storage key, row) it conflicts with."""
        keys = [table.row_key(self.conflict_key(table, r)) for r in rows]
        found = await txn.get_many(keys) if keys else []
        return [None if old is None else (k, old) for k, old in zip(keys, found)]


@dataclass
class IndexArbiter(Arbiter):
    """A valid unique index: rows with a NULL in its columns never conflict."""
    index: Any = None

    def conflict_key(self, table: TableDef, row: tuple) -> Any:
        values = tuple(row[i] for i in self.columns)
        return values if None not in values else object()

    async def lookup(self, txn, table: TableDef, rows: list[tuple]
                     ) -> list[tuple[bytes, tuple] | None]:
        out: list[tuple[bytes, tuple] | None] = [None] * len(rows)
        wanted = [(i, tuple(r[p] for p in self.columns)) for i, r in enumerate(rows)]
        wanted = [(i, v) for i, v in wanted if None not in v]
        entries = await txn.get_many([self.index.entry_key(v, ()) for _, v in wanted]) \
            if wanted else []
        hits = [(i, table.row_key(e[0])) for (i, _), e in zip(wanted, entries) if e]
        found = await txn.get_many([k for _, k in hits]) if hits else []
        for (i, key), old in zip(hits, found):
            if old is not None:
                out[i] = (key, old)
        return out


def _unique_index_arbiters(table: TableDef, catalog) -> list[Arbiter]:
    reg = registry_of_catalog(catalog) if catalog is not None else None
    out: list[Arbiter] = []
    for d in reg.for_table(table.table_id, states=(VALID,)) if reg is not None else ():
        pos = d.positions(table) if d.unique else None
        if pos is not None:
            out.append(IndexArbiter(d.name, pos[0], d))
    return out


def conflict_arbiters(table: TableDef, clause: ast.OnConflictClause,
                      catalog=None) -> list[Arbiter]:
    """The constraints ON CONFLICT arbitrates on (PostgreSQL's inference rules): the
    primary key and the table's valid unique indexes (UNIQUE constraints among them)."""
    constraints = [] if table.hidden_pk else [Arbiter(f"{table.name}_pkey", table.pk)]
    constraints += _unique_index_arbiters(table, catalog)
    infer = clause.infer
    if infer is None:
        if clause.action == OnConflictAction.ONCONFLICT_UPDATE:
            raise ParseError("ON CONFLICT DO UPDATE requires inference specification or "
                             "constraint name",
                             hint="For example, ON CONFLICT (column_name).")
        return constraints
    if infer.conname:
        for c in constraints:
            if c.name == infer.conname:
                return [c]
        raise UndefinedObject(f'constraint "{infer.conname}" for table "{table.name}" does not '
                              "exist")
    wanted = set()
    for elem in infer.indexElems or ():
        if not isinstance(elem, ast.IndexElem) or elem.name is None:
            raise FeatureNotSupported("ON CONFLICT on expressions is not supported")
        if elem.name not in table.column_names:
            raise UndefinedColumn(f'column "{elem.name}" does not exist')
        wanted.add(table.column_names.index(elem.name))
    matching = [c for c in constraints if set(c.columns) == wanted]
    if not matching:
        raise InvalidColumnReference("there is no unique or exclusion constraint matching the ON "
                                     "CONFLICT specification")
    return matching


@dataclass
class OnConflict:
    arbiters: list[Arbiter]
    update: Any = None            # engine select: (index, new values...) per updated row
    positions: list[int] = field(default_factory=list)
    converters: list[Callable] = field(default_factory=list)


def _plan_on_conflict(stmt: ast.InsertStmt, table: TableDef, alias: str, catalog,
                      param_oids: list[int]) -> OnConflict:
    clause = stmt.onConflictClause
    oc = OnConflict(conflict_arbiters(table, clause, catalog))
    if clause.action != OnConflictAction.ONCONFLICT_UPDATE:
        return oc
    values = []
    for target in clause.targetList:
        if target.name not in table.column_names:
            raise UndefinedColumn(f'column "{target.name}" of relation "{table.name}" does not '
                                  "exist")
        pos = table.column_names.index(target.name)
        if pos in oc.positions:
            raise ParseError(f'multiple assignments to same column "{target.name}"')
        oc.positions.append(pos)
        val = target.val
        if isinstance(val, ast.MultiAssignRef):
            val = _multi_assign_part(val)
        values.append(_stored_sql(val, table.columns[pos]))
    where = f" AND ({_sql(clause.whereClause)})" if clause.whereClause is not None else ""
    existing = _local_table(_EXISTING, table, _IDX_COL, T.INT8)
    excluded = _local_table(_EXCLUDED, table, _IDX_COL, T.INT8)
    a = _ident(alias)
    # one level: an unqualified column both relations have is ambiguous, as in PostgreSQL
    oc.update = _prepare(f"SELECT excluded.{_IDX_COL}, {', '.join(values)} FROM "
                         f"{_EXISTING} AS {a}, {_EXCLUDED} AS excluded "
                         f"WHERE {a}.{_IDX_COL} = excluded.{_IDX_COL}{where}", catalog,
                         [existing, excluded], param_oids)
    param_oids[:] = oc.update.param_oids
    oc.converters = [_converter(table.columns[p], c.type_oid)
                     for p, c in zip(oc.positions, oc.update.columns[1:])]
    return oc


@dataclass
class InsertPlan(Plan):
    table: TableDef | None = None
    rows: list[list[RowExpr]] = field(default_factory=list)   # key-aware VALUES
    source: Any = None                  # else an engine select producing the values
    positions: list[int] = field(default_factory=list)
    converters: list[Callable] = field(default_factory=list)
    defaults: list[RowExpr] = field(default_factory=list)
    on_conflict: OnConflict | None = None
    returning: _Returning | None = None

    async def _proposed(self, txn, params, session) -> list[tuple]:
        if self.source is None:
            return [tuple(e.fn((), params) for e in exprs) for exprs in self.rows]
        got = await _engine_rows(self.source, txn, session, params, {})
        base = [e.fn((), params) for e in self.defaults]
        out = []
        for values in got:
            row = list(base)
            for pos, conv, v in zip(self.positions, self.converters, values):
                row[pos] = conv(v)
            out.append(tuple(row))
        return out

    async def run(self, txn, params, session) -> QueryResult:
        t = self.table
        new = await self._proposed(txn, params, session)
        for row in new:
            check_row(t, row)
        if self.on_conflict is not None:
            return await self._upsert(txn, params, session, new)
        keys = [new_row_key(t, row) for row in new]
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
        return await _dml_result(f"INSERT 0 {len(new)}", new, self.returning, txn, session,
                                 params)

    async def _upsert(self, txn, params, session, new: list[tuple]) -> QueryResult:
        t, oc = self.table, self.on_conflict
        found = [await a.lookup(txn, t, new) for a in oc.arbiters]
        claimed: set = set()          # (arbiter, conflict key) this statement wrote
        out: list[tuple | int] = []   # rows inserted, or index into updates
        updates: list[tuple[bytes, tuple, tuple]] = []   # (key, existing, excluded)
        for i, row in enumerate(new):
            ck = [(j, a.conflict_key(t, row)) for j, a in enumerate(oc.arbiters)]
            hit = next((found[j][i] for j, _ in enumerate(oc.arbiters) if found[j][i]), None)
            mine = any(c in claimed for c in ck)
            if hit is None and not mine:
                claimed.update(ck)
                out.append(row)
                continue
            if oc.update is None:
                continue                                   # DO NOTHING
            if mine:
                raise CardinalityViolation(
                    "ON CONFLICT DO UPDATE command cannot affect row a second "
                    "time",
                    hint="Ensure that no rows proposed for insertion within the "
                    "same command have duplicate constrained values.")
            claimed.update(ck)
            out.append(len(updates))
            updates.append((hit[0], hit[1], row))
        changed: dict[int, tuple] = {}
        if updates:
            got = await _engine_rows(oc.update, txn, session, params, {
                _LOCAL_IDS[_EXISTING]: [old + (i,) for i, (_, old, _) in enumerate(updates)],
                _LOCAL_IDS[_EXCLUDED]: [ex + (i,) for i, (_, _, ex) in enumerate(updates)]})
            for values in got:
                i = values[0]
                row = list(updates[i][1])
                for pos, conv, v in zip(oc.positions, oc.converters, values[1:]):
                    row[pos] = conv(v)
                changed[i] = tuple(row)
        written: list[tuple] = []
        inserted = [item for item in out if isinstance(item, tuple)]
        if inserted and not t.hidden_pk and not any(
                type(a) is Arbiter for a in oc.arbiters):
            # the primary key is not an arbiter here: a row that collides with it fails
            keys, seen = [new_row_key(t, row) for row in inserted], set()
            for key, row, old in zip(keys, inserted, await txn.get_many(keys)):
                if old is not None or key in seen:
                    raise duplicate_key(t, row)
                seen.add(key)
        for item in out:
            if isinstance(item, tuple):
                txn.put(new_row_key(t, item), item)
                written.append(item)
            elif item in changed:
                key, _, _ = updates[item]
                row = changed[item]
                check_row(t, row)
                await _write_update(txn, t, key, row, oc.positions)
                written.append(row)
        return await _dml_result(f"INSERT 0 {len(written)}", written, self.returning, txn,
                                 session, params)


def _insert_positions(stmt: ast.InsertStmt, table: TableDef) -> list[int]:
    if not stmt.cols:
        return list(range(len(table.columns)))
    positions = []
    for target in stmt.cols:
        if target.name not in table.column_names:
            raise UndefinedColumn(f'column "{target.name}" of relation "{table.name}" does not '
                                  "exist")
        pos = table.column_names.index(target.name)
        if pos in positions:
            raise DuplicateColumn(f'column "{target.name}" specified more than once')
        positions.append(pos)
    return positions


def _check_width(n: int, positions: list[int], explicit: bool = True) -> list[int]:
    """The target positions ``n`` values fill; without a column list, the first n."""
    if n > len(positions):
        raise ParseError("INSERT has more expressions than target columns")
    if n < len(positions):
        if not explicit:
            return positions[:n]
        raise ParseError("INSERT has more target columns than expressions")
    return positions


def plan_insert(stmt: ast.InsertStmt, catalog, param_oids: list[int]) -> InsertPlan:
    table = catalog.resolve(stmt.relation)
    alias = _alias(stmt.relation, table)
    scope = RowScope(table.column_names, table.column_oids, alias, list(param_oids))
    positions = _insert_positions(stmt, table)
    empty = RowScope((), (), None, scope.param_oids)
    sel = stmt.selectStmt
    plan = InsertPlan(table=table, positions=positions)
    engine = sel is not None and not sel.valuesLists or stmt.withClause is not None or \
        sel is not None and needs_engine(sel.valuesLists)
    if sel is not None and not engine:
        plan.rows = _plan_values(sel.valuesLists, table, positions, empty, bool(stmt.cols))
    elif sel is None:                   # DEFAULT VALUES
        plan.rows = [[column_default(c) for c in table.columns]]
    oids = list(empty.param_oids)
    if engine:
        plan.source = _plan_insert_select(stmt, table, positions, catalog, oids)
        plan.converters = [_converter(table.columns[p], c.type_oid)
                           for p, c in zip(positions, plan.source.columns)]
        plan.defaults = [column_default(c) for c in table.columns]
    if stmt.onConflictClause is not None:
        plan.on_conflict = _plan_on_conflict(stmt, table, alias, catalog, oids)
    return _finish_dml(plan, stmt, table, alias, scope, catalog, oids)


def _returning_targets(stmt) -> Any:
    clause = getattr(stmt, "returningClause", None)
    return clause.exprs if clause is not None else getattr(stmt, "returningList", None)


def _plan_values(values_lists, table: TableDef, positions: list[int], empty: RowScope,
                 explicit: bool):
    rows = []
    for values in values_lists:
        if len(values) != len(values_lists[0]):
            raise ParseError("VALUES lists must all be the same length")
        positions = _check_width(len(values), positions, explicit)
        exprs = [column_default(c) for c in table.columns]
        for pos, node in zip(positions, values):
            col = table.columns[pos]
            exprs[pos] = column_default(col) if isinstance(node, ast.SetToDefault) \
                else _assign(empty.compile(node, "VALUES"), col, empty)
        rows.append(exprs)
    return rows


def _plan_insert_select(stmt: ast.InsertStmt, table: TableDef, positions: list[int],
                        catalog, param_oids: list[int]):
    """The engine select whose rows are inserted; untyped values take the column's type."""
    sel = copy.deepcopy(stmt.selectStmt)
    explicit = bool(stmt.cols)
    cols = [table.columns[p] for p in positions]
    if sel.valuesLists:
        for values in sel.valuesLists:
            if len(values) != len(sel.valuesLists[0]):
                raise ParseError("VALUES lists must all be the same length")
            _check_width(len(values), positions, explicit)
        sel.valuesLists = tuple(tuple(_typed_node(v, c) for v, c in zip(values, cols))
                                for values in sel.valuesLists)
    elif sel.op == 0 and sel.targetList and not any(
            isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
            for t in sel.targetList):
        _check_width(len(sel.targetList), positions, explicit)
        sel.targetList = tuple(ast.ResTarget(name=t.name, val=_typed_node(t.val, c))
                               for t, c in zip(sel.targetList, cols))
    if stmt.withClause is not None:
        if sel.withClause is not None:
            raise FeatureNotSupported("WITH on both INSERT and its SELECT is not supported")
        sel.withClause = stmt.withClause
    prepared = _prepare_node(sel, catalog, [], param_oids)
    param_oids[:] = prepared.param_oids
    positions[:] = _check_width(len(prepared.columns), positions, explicit)
    return prepared


# -- UPDATE / DELETE --------------------------------------------------------------------
async def _write_update(txn, t: TableDef, key: bytes, new: tuple,
                        positions: list[int]) -> None:
    if any(pos in t.pk for pos in positions) and not t.hidden_pk:
        new_key = new_row_key(t, new)
        if new_key != key:
            if await txn.get(new_key) is not None:
                raise duplicate_key(t, new)
            txn.delete(key)
            key = new_key
    txn.put(key, new)


def _matches_sql(stmt, table: TableDef, alias: str, extra: list[str], from_items) -> str:
    """SELECT key, old row, extra... FROM target AS alias, from_items WHERE where."""
    a = _ident(alias)
    cols = [f"{a}.{_KEY_COL}"] + [f"{a}.{_ident(c)}" for c in table.column_names] + extra
    items = [f"{_TARGET} AS {a}"] + [_sql(f) for f in from_items or ()]
    where = f" WHERE {_sql(stmt.whereClause)}" if stmt.whereClause is not None else ""
    return f"{_with_prefix(stmt)}SELECT {', '.join(cols)} FROM {', '.join(items)}{where}"


async def _target_rows(txn, table: TableDef) -> list[tuple]:
    low, high = table.key_range()
    found = await txn.scan(low, high)
    if len(found) > limits.scan_rows_max:
        raise LimitExceeded("statement returns too many rows")
    return [row + (key,) for key, row in found]


async def _matched(prepared, table: TableDef, txn, session, params
                   ) -> list[tuple[bytes, tuple, tuple]]:
    """(key, old row, extra values) per target row matched, each row once."""
    got = await _engine_rows(prepared, txn, session, params,
                             {_LOCAL_IDS[_TARGET]: await _target_rows(txn, table)})
    n = len(table.columns)
    seen: set[bytes] = set()
    out = []
    for r in got:
        if r[0] in seen:
            continue                # joined more than once: updated once (PostgreSQL)
        seen.add(r[0])
        out.append((r[0], tuple(r[1:n + 1]), tuple(r[n + 1:])))
    return out


def _engine_explain(verb: str, table: TableDef | None, prepared) -> list[str]:
    if prepared is None or table is None:
        return [f"{verb}Plan"]
    reads = ", ".join(t.name if t.table_id >= 0 or t.name != _TARGET else table.name
                      for t in prepared.tables)
    return [f"{verb} on {table.name}", f"  ->  query engine: {reads}"]


def _plan_leaves(stmt, from_items, catalog, param_oids: list[int]
                 ) -> list[tuple[str, list[Column]]]:
    """The FROM items' range names and columns, when RETURNING may refer to them."""
    if not from_items or not _returning_targets(stmt):
        return []
    items = ", ".join(_sql(f) for f in from_items)
    return [(leaf, list(_prepare(f"{_with_prefix(stmt)}SELECT {_ident(leaf)}.* FROM {items}",
                                 catalog, [], list(param_oids)).columns))
            for leaf in _from_leaves(from_items)]


def _split_from(extras: tuple, leaves: list[tuple[str, list[Column]]]) -> tuple:
    out, i = [], 0
    for _, cols in leaves:
        out.append(tuple(extras[i:i + len(cols)]))
        i += len(cols)
    return tuple(out)


@dataclass
class UpdatePlan(Plan):
    access: Access | None = None
    assignments: list[tuple[int, RowExpr]] = field(default_factory=list)
    matches: Any = None                 # engine path: key, old row, new values, FROM rows
    table: TableDef | None = None
    positions: list[int] = field(default_factory=list)
    converters: list[Callable] = field(default_factory=list)
    leaves: list[tuple[str, list[Column]]] = field(default_factory=list)
    returning: _Returning | None = None

    async def run(self, txn, params, session) -> QueryResult:
        from_rows = []
        if self.matches is not None:
            t = self.table
            changes = []
            n = len(self.positions)
            for key, row, values in await _matched(self.matches, t, txn, session, params):
                new = list(row)
                for pos, conv, v in zip(self.positions, self.converters, values):
                    new[pos] = conv(v)
                changes.append((key, tuple(new)))
                from_rows.append(_split_from(values[n:], self.leaves))
            positions = self.positions
        else:
            t = self.access.table
            changes = []
            for key, row in await self.access.rows(txn, params):
                new = list(row)
                for pos, expr in self.assignments:
                    new[pos] = expr.fn(row, params)
                changes.append((key, tuple(new)))
            positions = [pos for pos, _ in self.assignments]
        updated = []
        for key, new in changes:
            check_row(t, new)
            await _write_update(txn, t, key, new, positions)
            updated.append(new)
        return await _dml_result(f"UPDATE {len(updated)}", updated, self.returning, txn,
                                 session, params, from_rows)

    def explain(self) -> list[str]:
        return _engine_explain("Update", self.table, self.matches)


def _set_targets(stmt: ast.UpdateStmt, table: TableDef) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for target in stmt.targetList:
        if target.name not in table.column_names:
            raise UndefinedColumn(f'column "{target.name}" of relation "{table.name}" does not '
                                  "exist")
        pos = table.column_names.index(target.name)
        if any(p == pos for p, _ in out):
            raise ParseError(f'multiple assignments to same column "{target.name}"')
        val = target.val
        if isinstance(val, ast.MultiAssignRef):
            val = _multi_assign_part(val)
        out.append((pos, val))
    return out


def _multi_assign_part(ref: ast.MultiAssignRef) -> Any:
    """Column ``colno`` of ``SET (a, b) = (row | sub-select)`` as a value of its own."""
    src = ref.source
    if isinstance(src, ast.RowExpr):
        if len(src.args) != ref.ncolumns:
            raise ParseError("number of columns does not match number of values")
        return src.args[ref.colno - 1]
    sub = src.subselect if isinstance(src, ast.SubLink) else None
    if sub is None or sub.op != 0 or any(
            isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
            for t in sub.targetList or ()):
        raise FeatureNotSupported("this form of SET (columns) = ... is not supported")
    if len(sub.targetList) != ref.ncolumns:
        raise ParseError("number of columns does not match number of values")
    one = copy.deepcopy(sub)     # the sub-select once per column: same rows, same errors
    one.targetList = (sub.targetList[ref.colno - 1],)
    return parse_sql(f"SELECT ({_sql(one)})")[0].stmt.targetList[0].val


def plan_update(stmt: ast.UpdateStmt, catalog, param_oids: list[int]) -> UpdatePlan:
    table = catalog.resolve(stmt.relation)
    alias = _alias(stmt.relation, table)
    scope = _table_scope(stmt.relation, table, param_oids)
    targets = _set_targets(stmt, table)
    engine = bool(stmt.fromClause) or stmt.withClause is not None or \
        needs_engine(stmt.whereClause, [v for _, v in targets])
    if not engine:
        assignments = []
        for pos, node in targets:
            col = table.columns[pos]
            expr = column_default(col) if isinstance(node, ast.SetToDefault) \
                else _assign(scope.compile(node, "UPDATE"), col, scope)
            assignments.append((pos, expr))
        access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                               stmt.whereClause, scope)
        plan = UpdatePlan(access=access, assignments=assignments, table=table)
        return _finish_dml(plan, stmt, table, alias, scope, catalog, list(scope.param_oids))
    oids = list(param_oids)
    leaves = _plan_leaves(stmt, stmt.fromClause, catalog, oids)
    extra = [_stored_sql(node, table.columns[pos]) for pos, node in targets] + \
        [f"{_ident(leaf)}.*" for leaf, _ in leaves]
    prepared = _prepare(_matches_sql(stmt, table, alias, extra, stmt.fromClause), catalog,
                        [_local_table(_TARGET, table, _KEY_COL, T.BYTEA)], oids)
    oids[:] = prepared.param_oids
    n = len(table.columns) + 1
    plan = UpdatePlan(matches=prepared, table=table, positions=[p for p, _ in targets],
                      converters=[_converter(table.columns[p], c.type_oid) for (p, _), c
                                  in zip(targets, prepared.columns[n:])], leaves=leaves)
    return _finish_dml(plan, stmt, table, alias, RowScope((), (), alias, []), catalog, oids,
                       force_engine=True, leaves=leaves)


@dataclass
class DeletePlan(Plan):
    access: Access | None = None
    matches: Any = None                 # engine path: key, old row, FROM rows
    table: TableDef | None = None
    leaves: list[tuple[str, list[Column]]] = field(default_factory=list)
    returning: _Returning | None = None

    async def run(self, txn, params, session) -> QueryResult:
        from_rows = []
        if self.matches is not None:
            found = []
            for k, r, extras in await _matched(self.matches, self.table, txn, session,
                                               params):
                found.append((k, r))
                from_rows.append(_split_from(extras, self.leaves))
        else:
            found = await self.access.rows(txn, params)
        for key, _ in found:
            txn.delete(key)
        return await _dml_result(f"DELETE {len(found)}", [r for _, r in found],
                                 self.returning, txn, session, params, from_rows)

    def explain(self) -> list[str]:
        return _engine_explain("Delete", self.table, self.matches)


def plan_delete(stmt: ast.DeleteStmt, catalog, param_oids: list[int]) -> DeletePlan:
    table = catalog.resolve(stmt.relation)
    alias = _alias(stmt.relation, table)
    scope = _table_scope(stmt.relation, table, param_oids)
    engine = bool(stmt.usingClause) or stmt.withClause is not None or \
        needs_engine(stmt.whereClause)
    if not engine:
        access = plan_pushdown(best_access(table, stmt.whereClause, scope, catalog),
                               stmt.whereClause, scope)
        return _finish_dml(DeletePlan(access=access, table=table), stmt, table, alias,
                           scope, catalog, list(scope.param_oids))
    oids = list(param_oids)
    leaves = _plan_leaves(stmt, stmt.usingClause, catalog, oids)
    prepared = _prepare(_matches_sql(stmt, table, alias,
                                     [f"{_ident(leaf)}.*" for leaf, _ in leaves],
                                     stmt.usingClause), catalog,
                        [_local_table(_TARGET, table, _KEY_COL, T.BYTEA)], oids)
    oids[:] = prepared.param_oids
    return _finish_dml(DeletePlan(matches=prepared, table=table, leaves=leaves), stmt, table,
                       alias, RowScope((), (), alias, []), catalog, oids, force_engine=True,
                       leaves=leaves)


