"""Secondary indexes as an access path: which valid index a WHERE clause can use.

``choose_index`` takes the primary-key access path (``keys.py``) and replaces it with
an index scan when a valid index fixes more leading columns; ``best_access`` is the
two together, the choice every single-table statement makes. ``engine_index_access``
gives the query engine the same choice for a one-table SELECT it runs.

An :class:`IndexAccess` (equality on the leading columns of a *valid* index, optionally
a range on the next one) scans the entries' key range, fetches the rows by primary key
and tests the whole WHERE clause on them; if at run time the index is not readable at
the transaction's snapshot (dropped, or built after the snapshot) it falls back to the
primary-key path it was planned from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import NullTestType

from ... import limits
from ...errors import DsqlError, LimitExceeded
from ...keys import decode_key, encode_key, prefix_end
from ...storage.mvcc import row_filter
from .. import types as T
from ..catalog import TableDef
from ..indexes import IndexDef, VALID, registry, registry_of_catalog
from ..interrupt import checkpoints
from ..query.astwalk import any_node, substitute
from ..query.rowexpr import RowExpr, RowScope, expr_sql, parse_expr
from .keys import plan_access
from .path import Access, SqlText, shard_lines
from .terms import FLIP, column_comparison, conjuncts, family


_OPS = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


_NULL_TAG = b"\xf0"                 # keys.py: NULL sorts after every value


#: types whose key encoding gives back the very value (not numeric's scale, float's -0)
_EXACT_KEY_TYPES = {*T.INTEGER_OIDS, T.TEXT, T.VARCHAR, T.BPCHAR, T.BOOL, T.DATE, T.UUID,
                    T.TIMESTAMP, T.BYTEA}


def column_conditions(where: Any, table, scope: RowScope
                      ) -> dict[int, list[tuple[str, RowExpr, str]]]:
    """column position → [(op, value expression, the conjunct)] for ``col op constant``."""
    out: dict[int, list[tuple[str, RowExpr, str]]] = {}
    for conj in conjuncts(where):
        term = column_comparison(conj, scope)
        if term is None or term[0] not in _OPS:
            continue
        o, col, val = term
        col_oid = table.columns[col].type_oid
        if val.oid not in (T.UNKNOWN, 0) and family(val.oid) != family(col_oid):
            continue
        if val.oid != col_oid:
            try:
                val = scope.coerce(val, col_oid)
            except DsqlError:
                continue
        out.setdefault(col, []).append((o, val, conj))
    return out


def expression_conditions(where: Any, scope: RowScope, exprs: set[str]
                          ) -> dict[str, list[tuple[str, RowExpr, str]]]:
    """index expression text → [(op, value expression, the conjunct)] for conjuncts
    ``expression op constant`` whose expression is an index's (``lower(email) = $1``)."""
    out: dict[str, list[tuple[str, RowExpr, str]]] = {}
    for conj in conjuncts(where):
        if not (isinstance(conj, ast.A_Expr) and conj.kind == 0 and len(conj.name) == 1
                and conj.name[0].sval in _OPS):
            continue
        op = conj.name[0].sval
        for side, other, o in ((conj.lexpr, conj.rexpr, op), (conj.rexpr, conj.lexpr, FLIP[op])):
            text = expr_sql(unqualified(side)) \
                if isinstance(side, (ast.FuncCall, ast.A_Expr)) else None
            if text not in exprs:
                continue
            try:
                key, val = scope.compile(side), scope.compile(other)
                if not (val.const or val.param is not None):
                    continue
                if val.oid != key.oid:
                    val = scope.coerce(val, key.oid)
            except DsqlError:
                continue
            if val.oid in (T.UNKNOWN, 0) or family(val.oid) == family(key.oid):
                out.setdefault(text, []).append((o, val, conj))
    return out


def unqualified(node: Any) -> Any:
    """The expression with ``t.col`` written ``col`` (one table: index expressions name
    bare columns)."""
    return substitute(node, lambda n: ast.ColumnRef(fields=(n.fields[-1],))
                      if isinstance(n, ast.ColumnRef) and len(n.fields) > 1
                      and isinstance(n.fields[-1], ast.String) else None)


def implies(where: Any, predicate: str, scope: RowScope) -> bool:
    """Does the WHERE clause imply a partial index's predicate? Each of its conjuncts
    must be one of the WHERE's, or follow from one by range (``x > 20`` ⇒ ``x > 10``,
    a comparison with a constant ⇒ ``x IS NOT NULL``)."""
    have = conjuncts(where)
    texts = {expr_sql(unqualified(c)) for c in have}
    for need in conjuncts(parse_expr(predicate)):
        if expr_sql(need) not in texts and not any(_follows(c, need, scope) for c in have):
            return False
    return True


def _bound(conj: Any, scope: RowScope) -> tuple[str, int, Any] | None:
    term = column_comparison(conj, scope)
    if term is None or not term[2].const:
        return None
    try:
        return term[0], term[1], term[2].value()
    except DsqlError:
        return None


def _follows(have: Any, need: Any, scope: RowScope) -> bool:
    """``have`` (col op constant) implies ``need`` (a range on the same column, or the
    column IS NOT NULL)."""
    got = _bound(have, scope)
    if got is None or got[2] is None:
        return False
    if isinstance(need, ast.NullTest) and isinstance(need.arg, ast.ColumnRef) \
            and need.nulltesttype == NullTestType.IS_NOT_NULL:
        try:
            return scope.lookup(need.arg.fields) == got[1]
        except DsqlError:
            return False
    want = _bound(need, scope)
    if want is None or want[1] != got[1] or want[2] is None:
        return False
    (h_op, _, h), (w_op, _, w) = got, want
    try:
        if w_op in (">", ">="):
            return (h_op in (">", ">=", "=") and
                    (h > w or (h == w and (w_op == ">=" or h_op == ">"))))
        if w_op in ("<", "<="):
            return (h_op in ("<", "<=", "=") and
                    (h < w or (h == w and (w_op == "<=" or h_op == "<"))))
        return w_op == "=" and h_op == "=" and h == w
    except TypeError:
        return False


@dataclass
class IndexAccess(Access):
    """Rows found through a secondary index: entries of a key range, then rows by key."""
    index: IndexDef | None = None
    eq: list[RowExpr] = field(default_factory=list)          # leading columns fixed
    lower: tuple[RowExpr, bool] | None = None                 # next column > / >= value
    upper: tuple[RowExpr, bool] | None = None                 # next column < / <= value
    cond_sql: list[SqlText] = field(default_factory=list)
    filter_sql: list[SqlText] = field(default_factory=list)    # the other WHERE conjuncts

    def describe(self, node=None) -> str:
        """The index, its condition and key range, the shards; the WHERE clause is tested
        on the rows fetched by key (nothing is pushed to storage on this path)."""
        return "\n".join(self.path(node))

    def path(self, node=None) -> list[str]:
        d, t = self.index, self.table
        scan = "Index Only Scan" if self.covering(d) else "Index Scan"
        lines = [f"{scan} using {d.name} on {t.name}",
                 f"Index Cond: ({' AND '.join(map(str, self.cond_sql))})"]
        if self.filter_sql:
            lines.append(f"Filter: ({' AND '.join(map(str, self.filter_sql))})")
        bounds = self._bounds([])
        if bounds is not None:
            low, high = bounds
            lines.append(f"Key range: [{low.hex()}, {high.hex() if high else 'end'})")
        lines.extend(shard_lines(node, *(bounds or d.key_range())))
        return lines

    def _bounds(self, params: list) -> tuple[bytes, bytes | None] | None:
        """The entries' key range for these parameters; None if a value is NULL/unknown."""
        try:
            eq = tuple(e.fn((), params) for e in self.eq)
            lo = None if self.lower is None else (self.lower[0].fn((), params), self.lower[1])
            hi = None if self.upper is None else (self.upper[0].fn((), params), self.upper[1])
        except (IndexError, DsqlError):
            return None
        if None in eq or (lo is not None and lo[0] is None) or (hi is not None and hi[0] is None):
            return None
        base = self.index.key_prefix() + encode_key(eq)
        try:
            if lo is None:
                low = base
            else:
                start = base + encode_key((lo[0],))
                low = start if lo[1] else prefix_end(start)
            if hi is None:
                high = base + _NULL_TAG if (lo is not None or self.upper is not None) \
                    else prefix_end(base)
            else:
                end = base + encode_key((hi[0],))
                high = prefix_end(end) if hi[1] else end
        except (TypeError, ValueError):
            return None
        return low, high

    async def rows(self, txn, params: list) -> list[tuple[bytes, tuple]]:
        node = txn.node
        ensure = getattr(node.catalog, "ensure", None)
        if ensure is not None:
            await ensure(txn)
        reg = registry(node)
        await reg.ensure_fresh()
        d = reg.get(self.index.schema, self.index.name)
        if d is None or d.index_id != self.index.index_id or d.state != VALID \
                or d.complete_ts > txn.start_ts:
            return await Access.rows(self, txn, params)        # not readable here
        bounds = self._bounds(params)
        if bounds is None:
            return []                  # a NULL compared with = or < is never true
        entries = await txn.scan(*bounds)
        if len(entries) > limits.scan_rows_max:
            raise LimitExceeded("statement returns too many rows")
        if self.covering(d):
            found = self._rows_from_entries(d, entries)
        else:
            keys = [self.table.row_key(tuple(value[0])) for _, value in entries]
            found = [(k, r) for k, r in zip(keys, await txn.get_many(keys)) if r is not None]
        test = row_filter(self.storage_filter(params))
        pred = self.residual
        return [(k, r) for k, r in checkpoints(found)
                if (test is None or test(r)) and (pred is None or pred(r, params))]


    def covering(self, d: IndexDef) -> bool:
        """Do the entries hold every column the statement reads (an index-only scan)?"""
        t = self.table
        pos = d.positions(t)
        if self.columns is None or pos is None or -1 in pos[0]:
            return False
        have = {*pos[0], *pos[1], *(() if t.hidden_pk else t.pk)}
        return set(self.columns) <= have and \
            all(t.columns[p].type_oid in _EXACT_KEY_TYPES for p in pos[0])

    def _rows_from_entries(self, d: IndexDef, entries) -> list[tuple[bytes, tuple]]:
        """Rows holding the read columns, rebuilt from the entries: key values from the
        entry's key, the primary key and INCLUDE values from its value."""
        t = self.table
        key_pos, inc_pos = d.positions(t)
        pk_pos = () if t.hidden_pk else t.pk
        out = []
        for entry_key, (pk, included) in entries:
            row: list[Any] = [None] * len(t.columns)
            for p, v in zip(key_pos, decode_key(entry_key[8:])):
                row[p] = v
            for p, v in zip(inc_pos, included):
                row[p] = v
            for p, v in zip(pk_pos, pk):
                row[p] = v
            out.append((t.row_key(tuple(pk)), tuple(row)))
        return out


def choose_index(access: Access, where: Any, scope: RowScope, catalog) -> Access:
    """An index scan when a valid index fixes more leading columns than the primary key."""
    if where is None or access.point is not None:
        return access
    reg = registry_of_catalog(catalog)
    if reg is None:
        return access
    table = access.table
    candidates = reg.for_table(table.table_id, states=(VALID,))
    if not candidates:
        return access
    conds: dict = column_conditions(where, table, scope)
    conds.update(expression_conditions(where, scope, {e for d in candidates
                                                      for e in d.exprs if e is not None}))
    if not conds:
        return access
    best, best_score = None, 2 * len(access.prefix or ()) + 0.5 * bool(access.prefix)
    for d in candidates:
        pos = d.positions(table)
        if pos is None or (d.predicate is not None and not implies(where, d.predicate, scope)):
            continue
        eq, texts, lower, upper = [], [], None, None
        for p, e in zip(pos[0], d.exprs or (None,) * len(pos[0])):
            terms = conds.get(p if e is None else e, [])
            same = [t for t in terms if t[0] == "="]
            if same:
                eq.append(same[0][1])
                texts.append(same[0][2])
                continue
            for op, val, text in terms:
                if op in (">", ">=") and lower is None:
                    lower = (val, op == ">=")
                    texts.append(text)
                elif op in ("<", "<=") and upper is None:
                    upper = (val, op == "<=")
                    texts.append(text)
            break
        score = 2 * len(eq) + (1 if lower or upper else 0)
        if d.unique and len(eq) == len(pos[0]):
            score += 1
        if score > best_score:
            best, best_score = (d, eq, lower, upper, texts), score
    if best is None:
        return access
    d, eq, lower, upper, texts = best
    out = IndexAccess(table, prefix=access.prefix, residual=access.residual, index=d, eq=eq,
                      lower=lower, upper=upper, cond_sql=[SqlText(c) for c in texts])
    for name in ("pushed", "pushed_sql", "columns", "key_sql", "where_sql"):
        if hasattr(access, name):
            setattr(out, name, getattr(access, name))
    out.filter_sql = [SqlText(c) for c in conjuncts(where) if all(c is not t for t in texts)]
    return out


def best_access(table: TableDef, where: Any, scope: RowScope, catalog) -> Access:
    """The primary-key path, or a secondary index's when a valid one fixes more leading
    columns."""
    return choose_index(plan_access(table, where, scope), where, scope, catalog)


def engine_index_access(stmt: ast.SelectStmt, prepared, catalog) -> dict[int, Access]:
    """An index path for the one table of a single-table query (aggregates, DISTINCT,
    GROUP BY …): the engine re-tests the WHERE clause, so the index only narrows the rows.
    Only when the table is read once (no subquery or self-join sees the narrowed rows)."""
    tables = getattr(prepared, "tables", ())
    from_ = stmt.fromClause or ()
    if stmt.op != 0 or stmt.withClause or stmt.whereClause is None or len(tables) != 1 \
            or len(from_) != 1 or not isinstance(from_[0], ast.RangeVar):
        return {}
    rangevars = []
    any_node(stmt, lambda n: isinstance(n, ast.RangeVar) and rangevars.append(n) and False)
    table = tables[0]
    if len(rangevars) != 1 or table.table_id <= 0 or getattr(table, "kind", "r") != "r":
        return {}
    rv = from_[0]
    scope = RowScope(table.column_names, table.column_oids,
                     rv.alias.aliasname if rv.alias else table.name,
                     list(getattr(prepared, "param_oids", ())))
    try:
        access = choose_index(Access(table), stmt.whereClause, scope, catalog)
    except DsqlError:
        return {}
    return {table.table_id: access} if isinstance(access, IndexAccess) else {}
