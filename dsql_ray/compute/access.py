"""Access paths over the primary key, and what is pushed down to storage.

``plan_access`` chooses how a single-table statement finds its rows from its WHERE
clause: a point lookup (every key column fixed by a constant or parameter), a range
over a key prefix, or the table's whole key range. ``plan_pushdown`` moves the
conjuncts storage evaluates exactly (``column op constant``, ``IS [NOT] NULL``) into the
scan, and the statement's columns become a projection pushed to storage. Secondary
indexes are another access path (``index_access.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import BoolExprType, NullTestType
from pglast.stream import RawStream

from .. import limits
from ..errors import BindError, DsqlError
from ..keys import encode_key, prefix_end
from ..storage.mvcc import row_filter
from . import types as T
from .catalog import TableDef
from .interrupt import checkpoints
from .query.astwalk import any_node
from .query.rowexpr import RowExpr, RowScope
from .query.runtime import check_memory, rows_size


class SqlText:
    """A parse-tree node's SQL text, printed when first shown (EXPLAIN), not at plan
    time: printing costs more than planning a point lookup."""
    __slots__ = ("node", "_text")

    def __init__(self, node: Any):
        self.node, self._text = node, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = RawStream()(self.node)
        return self._text

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


# -- access paths -------------------------------------------------------------
@dataclass
class Access:
    """How rows of a table are found: by key, by key range, or the whole table."""
    table: TableDef
    point: list[RowExpr] | None = None     # every pk column fixed
    prefix: list[RowExpr] | None = None    # leading pk columns fixed
    residual: Callable | None = None    # predicate to apply to each row
    #: conjuncts evaluated in storage: (op, column position, value expression or None),
    #: see storage.mvcc.row_filter; the residual holds only the other conjuncts
    pushed: list[tuple[str, int, RowExpr | None]] = field(default_factory=list)
    pushed_sql: list[SqlText] = field(default_factory=list)
    columns: tuple[int, ...] | None = None   # the columns the statement reads (None: all)
    key_sql: list[SqlText] = field(default_factory=list)   # conjuncts fixing key columns
    where_sql: SqlText | None = None                        # the WHERE clause, for EXPLAIN

    def describe(self, node=None) -> str:
        """One line per fact (EXPLAIN shows them): the access path, the key range and the
        shards it reads (given the compute node), then what storage evaluates."""
        lines = self.path(node)
        if self.pushed_sql:
            lines.append("Filter pushed to storage: "
                         f"({' AND '.join(map(str, self.pushed_sql))})")
        if self.columns is not None:
            names = self.table.column_names
            lines.append("Columns: " + ", ".join(names[i] for i in self.columns))
        return "\n".join(lines)

    def path(self, node=None) -> list[str]:
        t = self.table
        if self.point is not None or self.prefix:
            lines = [f"Index Scan using {t.name}_pkey on {t.name}",
                     f"Index Cond: ({' AND '.join(map(str, self.key_sql))})"]
            low, high = self._key_bounds([])
        else:
            lines = [f"Seq Scan on {t.name}"]
            low, high = t.key_range()
        if low is not None:
            lines.append(f"Key range: [{low.hex()}, {high.hex() if high else 'end'})")
        else:
            low, high = t.key_range()
        if self.residual is not None and self.where_sql:
            lines.append(f"Filter: ({self.where_sql})")
        return lines + shard_lines(node, low, high)

    def _key_bounds(self, params: list) -> tuple[bytes | None, bytes | None]:
        """The primary-key range of a point or prefix lookup (None: values unknown yet)."""
        try:
            values = tuple(e.fn((), params) for e in (self.point or self.prefix or ()))
        except (IndexError, DsqlError):
            return None, None
        low = self.table.key_prefix() + encode_key(values)
        return low, prefix_end(low)

    def storage_filter(self, params: list) -> tuple:
        """The pushed predicate with this execution's constants and parameters."""
        return tuple((op, pos, None if e is None else e.fn((), params))
                     for op, pos, e in self.pushed)

    async def rows(self, txn, params: list) -> list[tuple[bytes, tuple]]:
        t = self.table
        pushed = self.storage_filter(params)
        if self.point is not None:
            key = t.row_key(tuple(e.fn((), params) for e in self.point))
            row = await txn.get(key)
            found = [] if row is None else [(key, row)]
            test = row_filter(pushed)
            if test is not None:
                found = [(k, r) for k, r in found if test(r)]
        else:
            if self.prefix:
                low = t.key_prefix() + encode_key(tuple(e.fn((), params) for e in self.prefix))
                high = prefix_end(low)
            else:
                low, high = t.key_range()
            found = await txn.scan(low, high, pushed, self.columns) \
                if pushed or self.columns is not None else await txn.scan(low, high)
            # the statement memory bound (54000): what the scan brought into compute
            check_memory(rows_size(found), limits.statement_memory_max.value)
        pred = self.residual
        if pred is None:
            return found
        return [(k, r) for k, r in checkpoints(found) if pred(r, params)]


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for a in node.args for c in _conjuncts(a)]
    return [node] if node is not None else []


def _key_equalities(node: Any, table: TableDef, scope: RowScope) -> dict[int, RowExpr]:
    """pk position → the constant/parameter expression it is compared equal to."""
    fixed: dict[int, RowExpr] = {}
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
                val = scope.compile(val_side)
            except DsqlError:
                continue
            if not (val.const or val.param is not None):
                continue
            col_oid = table.columns[col].type_oid
            if val.oid not in (T.UNKNOWN, 0) and not _same_family(val.oid, col_oid):
                continue
            fixed[pk_cols[col]] = scope.coerce(val, col_oid) if val.oid != col_oid \
                else val
    return fixed


#: column types whose Python values compare in storage as PostgreSQL compares them
_PUSHABLE_TYPES = T.INTEGER_OIDS | {T.TEXT, T.VARCHAR, T.BOOL, T.DATE, T.TIMESTAMP,
                                    T.TIMESTAMPTZ}
_FLIP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def column_comparison(conj: Any, scope: RowScope) -> tuple[str, int, RowExpr] | None:
    """``column op value`` either way round, the value a constant or a parameter:
    (the operator as seen from the column, the column's position, the compiled value)."""
    if not (isinstance(conj, ast.A_Expr) and conj.kind == 0 and len(conj.name) == 1
            and conj.name[0].sval in _FLIP):
        return None
    for col_side, val_side, op in ((conj.lexpr, conj.rexpr, conj.name[0].sval),
                                   (conj.rexpr, conj.lexpr, _FLIP[conj.name[0].sval])):
        if not isinstance(col_side, ast.ColumnRef) or isinstance(val_side, ast.ColumnRef):
            continue
        try:
            col = scope.lookup(col_side.fields)
            val = scope.compile(val_side)
        except DsqlError:
            continue
        if val.const or val.param is not None:
            return op, col, val
    return None


def _pushable(conj: Any, table: TableDef, scope: RowScope
              ) -> tuple[str, int, RowExpr | None] | None:
    """``column op constant`` or ``column IS [NOT] NULL`` as a storage predicate term."""
    if isinstance(conj, ast.NullTest) and isinstance(conj.arg, ast.ColumnRef) \
            and not conj.argisrow:
        try:
            col = scope.lookup(conj.arg.fields)
        except DsqlError:
            return None
        return ("isnull" if conj.nulltesttype == NullTestType.IS_NULL else "notnull", col,
                None)
    term = column_comparison(conj, scope)
    if term is not None:
        op, col, val = term
        col_oid = table.columns[col].type_oid
        if col_oid not in _PUSHABLE_TYPES:
            return None
        if val.oid not in (T.UNKNOWN, 0) and not (
                val.oid == col_oid or (val.oid in T.INTEGER_OIDS and col_oid in T.INTEGER_OIDS)
                or (val.oid in (T.TEXT, T.VARCHAR) and col_oid in (T.TEXT, T.VARCHAR))):
            return None
        if val.oid != col_oid and not (val.oid in T.INTEGER_OIDS and col_oid in T.INTEGER_OIDS):
            val = scope.coerce(val, col_oid)
        return (op, col, val)
    return None


#: push filters and projections into storage scans (off only to measure: bench_pushdown.py)
PUSHDOWN = True


def plan_pushdown(access: Access, where: Any, scope: RowScope) -> Access:
    """Move the WHERE conjuncts storage can evaluate exactly into ``access.pushed``.

    The residual keeps the others (a row passes when every conjunct is true). Tables
    whose stored rows are not in column order (altered) keep everything in compute.
    """
    table = access.table
    if where is None or not PUSHDOWN or getattr(table, "altered", False):
        return access
    pushed, pushed_sql, rest = [], [], []
    for conj in _conjuncts(where):
        term = _pushable(conj, table, scope)
        if term is None:
            rest.append(conj)
        else:
            pushed.append(term)
            pushed_sql.append(SqlText(conj))
    if not pushed:
        return access
    access.pushed, access.pushed_sql = pushed, pushed_sql
    fns = [scope.typed(c, T.BOOL).fn for c in rest]
    if not fns:
        access.residual = None
    elif len(fns) == 1:
        f = fns[0]
        access.residual = lambda row, params: f(row, params) is True
    else:
        access.residual = lambda row, params: all(f(row, params) is True for f in fns)
    return access


def _referenced_columns(nodes: Any, scope: RowScope) -> tuple[int, ...] | None:
    """Positions of the columns ``nodes`` mention; None when they need every column."""
    found: set[int] = set()
    every = False

    def visit(n):
        nonlocal every
        if isinstance(n, ast.ColumnRef):
            if isinstance(n.fields[-1], ast.A_Star):
                every = True
            else:
                try:
                    found.add(scope.lookup(n.fields))
                except DsqlError:
                    every = True
        return False
    any_node(nodes, visit)
    if every or len(found) == len(scope.names):
        return None
    return tuple(sorted(found))


def _same_family(a: int, b: int) -> bool:
    ints = T.INTEGER_OIDS
    texts = {T.TEXT, T.VARCHAR, T.BPCHAR}
    return a == b or (a in ints and b in ints) or (a in texts and b in texts)


def plan_access(table: TableDef, where: Any, scope: RowScope) -> Access:
    """The primary-key path: a point lookup when the WHERE clause fixes every key
    column, a range over a key prefix when it fixes the leading ones, else the table's
    key range; the whole WHERE clause stays the residual test (see plan_pushdown)."""
    pred = None
    if where is not None:
        pred = scope.predicate(where)
    access = Access(table, residual=pred)
    if where is None:
        return access
    access.where_sql = SqlText(where)
    fixed = {} if table.hidden_pk else _key_equalities(where, table, scope)
    if table.hidden_pk:
        pass                                  # no declared key: only an index can help
    elif len(fixed) == len(table.pk):
        access.point = [fixed[i] for i in range(len(table.pk))]
    else:
        leading = []
        for i in range(len(table.pk)):
            if i not in fixed:
                break
            leading.append(fixed[i])
        access.prefix = leading or None
    used = {table.columns[table.pk[i]].name for i in range(len(access.point or access.prefix
                                                               or ()))}
    access.key_sql = [SqlText(c) for c in _conjuncts(where)
                      if isinstance(c, ast.A_Expr) and any(
                          isinstance(side, ast.ColumnRef) and isinstance(side.fields[-1],
                                                                         ast.String)
                          and side.fields[-1].sval in used for side in (c.lexpr, c.rexpr))]
    return access


def shard_lines(node, low: bytes, high: bytes | None) -> list[str]:
    if node is None:
        return []
    shards = [i for i, s in enumerate(node.shards)
              if not ((s.high is not None and s.high <= low)
                      or (high is not None and s.low >= high))]
    return [f"Shards: {', '.join(str(i) for i in shards)} (of {len(node.shards)} key ranges)"]
