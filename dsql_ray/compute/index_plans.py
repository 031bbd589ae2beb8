"""Plans for secondary indexes: index scans, CREATE INDEX ASYNC, DROP INDEX, CALL, EXPLAIN.

``plan_access`` (compute/planner.py) asks :func:`choose_index` for a better path than the
primary key's: equality on the leading columns of a *valid* index, optionally a range on
the next one. An :class:`IndexAccess` scans the entries' key range, fetches the rows by
primary key and tests the whole WHERE clause on them; if at run time the index is not
readable at the transaction's snapshot (dropped, or built after the snapshot) it falls
back to the primary-key path it was planned from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.stream import RawStream

from .. import limits
from ..errors import BindError, DsqlError, FeatureNotSupported
from ..keys import decode_key, encode_key, prefix_end
from . import types as T
from .catalog import row_to_table, table_key
from .query.rowexpr import RowExpr, RowScope
from .indexes import (VALID, WRITE_ONLY, IndexDef, allocate_index_id, columns_per_index_max,
                      index_key, indexes_per_table_max, load_indexes, put_index, registry,
                      registry_of_catalog, slots_of)
from .interrupt import checkpoints
from .jobs import (bump_catalog_version, new_job_id, runner, submit_index_build,
                   submit_index_drop, wait_for_job)
from .planner import Access, Plan, _conjuncts, column_comparison, result_column
from .result import QueryResult
from ..storage.mvcc import row_filter

_OPS = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NULL_TAG = b"\xf0"                 # keys.py: NULL sorts after every value
#: types whose key encoding gives back the very value (not numeric's scale, float's -0)
_EXACT_KEY_TYPES = {*T.INTEGER_OIDS, T.TEXT, T.VARCHAR, T.BPCHAR, T.BOOL, T.DATE, T.UUID,
                    T.TIMESTAMP, T.BYTEA}


def _family(oid: int) -> str:
    if oid in T.INTEGER_OIDS:
        return "int"
    if oid in (T.TEXT, T.VARCHAR, T.BPCHAR):
        return "text"
    return str(oid)


def column_conditions(where: Any, table, scope: RowScope) -> dict[int, list[tuple[str, RowExpr, str]]]:
    """column position → [(op, value expression, SQL text)] for ``col op constant`` terms."""
    out: dict[int, list[tuple[str, RowExpr, str]]] = {}
    for conj in _conjuncts(where):
        term = column_comparison(conj, scope)
        if term is None or term[0] not in _OPS:
            continue
        o, col, val = term
        col_oid = table.columns[col].type_oid
        if val.oid not in (T.UNKNOWN, 0) and _family(val.oid) != _family(col_oid):
            continue
        if val.oid != col_oid:
            try:
                val = scope.coerce(val, col_oid)
            except DsqlError:
                continue
        out.setdefault(col, []).append((o, val, RawStream()(conj)))
    return out


@dataclass
class IndexAccess(Access):
    """Rows found through a secondary index: entries of a key range, then rows by key."""
    index: IndexDef | None = None
    eq: list[RowExpr] = field(default_factory=list)          # leading columns fixed
    lower: tuple[RowExpr, bool] | None = None                 # next column > / >= value
    upper: tuple[RowExpr, bool] | None = None                 # next column < / <= value
    cond_sql: list[str] = field(default_factory=list)
    filter_sql: list[str] = field(default_factory=list)    # the other WHERE conjuncts

    def describe(self, node=None) -> str:
        """The index, its condition and key range, the shards; the WHERE clause is tested
        on the rows fetched by key (nothing is pushed to storage on this path)."""
        return "\n".join(self.path(node))

    def path(self, node=None) -> list[str]:
        d, t = self.index, self.table
        scan = "Index Only Scan" if self.covering(d) else "Index Scan"
        lines = [f"{scan} using {d.name} on {t.name}",
                 f"Index Cond: ({' AND '.join(self.cond_sql)})"]
        if self.filter_sql:
            lines.append(f"Filter: ({' AND '.join(self.filter_sql)})")
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
            raise DsqlError("statement returns too many rows", sqlstate="54000")
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
        if self.columns is None or pos is None:
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


def shard_lines(node, low: bytes, high: bytes | None) -> list[str]:
    if node is None:
        return []
    shards = [i for i, s in enumerate(node.shards)
              if not ((s.high is not None and s.high <= low)
                      or (high is not None and s.low >= high))]
    return [f"Shards: {', '.join(str(i) for i in shards)} (of {len(node.shards)} key ranges)"]


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
    conds = column_conditions(where, table, scope)
    if not conds:
        return access
    best, best_score = None, 2 * len(access.prefix or ()) + 0.5 * bool(access.prefix)
    for d in candidates:
        pos = d.positions(table)
        if pos is None:
            continue
        eq, texts, lower, upper = [], [], None, None
        for p in pos[0]:
            terms = conds.get(p, [])
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
                      lower=lower, upper=upper, cond_sql=texts)
    for name in ("pushed", "pushed_sql", "columns", "key_sql", "where_sql"):
        if hasattr(access, name):
            setattr(out, name, getattr(access, name))
    out.filter_sql = [t for t in (RawStream()(c) for c in _conjuncts(where))
                      if t not in texts]
    return out


# -- CREATE INDEX ASYNC ---------------------------------------------------------------------
@dataclass
class CreateIndexPlan(Plan):
    schema: str = "public"
    table: str = ""
    name: str | None = None
    columns: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    unique: bool = False
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        cols = [result_column("job_id", T.TEXT)]
        row = await txn.get(table_key(self.schema, self.table))
        if row is None:
            raise DsqlError(f'relation "{self.table}" does not exist', sqlstate="42P01")
        t = row_to_table(row)
        if getattr(t, "kind", "r") != "r":
            raise DsqlError(f'"{self.table}" is not a table', sqlstate="42809")
        d = await new_index(txn, t, self.name, self.columns, self.include, self.unique)
        if d is None:
            if self.if_not_exists:
                session.notice(f'relation "{self.name}" already exists, skipping')
                return QueryResult("CREATE INDEX", cols, [])
            raise DsqlError(f'relation "{self.name}" already exists', sqlstate="42P07")
        await mark_schema_changed(txn, t.table_id)
        submit_index_build(txn, d)
        runner(session.node).kick()
        return QueryResult("CREATE INDEX", cols, [(d.job_id,)])


async def mark_schema_changed(txn, table_id: int) -> None:
    """Every transaction that used the table before this DDL fails at COMMIT (OC001), and
    every compute reloads its catalog at its next transaction."""
    try:
        from .catalog import schema_key
        txn.put(schema_key(table_id), txn.start_ts)
    except ImportError:        # an older catalog without schema markers
        pass
    await bump_catalog_version(txn)
    txn.touched_catalog = True


async def live_indexes(txn, tables_by_id: dict | None = None) -> list[IndexDef]:
    """Index definitions at the snapshot whose table still exists."""
    from .catalog import tables_range
    if tables_by_id is None:
        low, high = tables_range()
        tables_by_id = {row_to_table(r).table_id for _, r in await txn.scan(low, high)}
    return [d for d in await load_indexes(txn) if d.table_id in tables_by_id]


async def new_index(txn, t, name: str | None, columns, include, unique: bool, *,
                    state: str = WRITE_ONLY, constraint: bool = False,
                    existing: list[IndexDef] | None = None) -> IndexDef | None:
    """Check and write a new index definition; None if the name is taken."""
    names = t.column_names
    for c in (*columns, *include):
        if c not in names:
            raise BindError(f'column "{c}" does not exist', sqlstate="42703")
    columns_per_index_max.check(len(columns) + len(include))
    for c in columns:
        oid = t.columns[names.index(c)].type_oid
        if oid == T.JSON:
            raise DsqlError('data type json has no default operator class for access method '
                            '"btree"', sqlstate="42704")
        if oid == T.JSONB:
            raise FeatureNotSupported("indexes on jsonb columns are not supported")
    if existing is None:
        existing = await live_indexes(txn)
    taken = {(d.schema, d.name) for d in existing}
    if name is None:
        base = f"{t.name}_{'_'.join(columns)}_{'key' if constraint else 'idx'}"[:63]
        name, n = base, 0
        while (t.schema, name) in taken or await txn.get(table_key(t.schema, name)):
            n += 1
            name = f"{base}{n}"
    elif (t.schema, name) in taken or await txn.get(table_key(t.schema, name)) is not None:
        return None
    indexes_per_table_max.check(sum(d.table_id == t.table_id for d in existing) + 1)
    slots = slots_of(t)
    d = IndexDef(t.schema, name, t.table_id, await allocate_index_id(txn), tuple(columns),
                 tuple(include), unique, state, 0, None if state == VALID else new_job_id(),
                 constraint, key_slots=tuple(slots[names.index(c)] for c in columns),
                 include_slots=tuple(slots[names.index(c)] for c in include))
    await put_index(txn, d)
    return d


def plan_create_index(stmt: ast.IndexStmt, catalog, param_oids) -> CreateIndexPlan:
    if not stmt.concurrent:
        raise FeatureNotSupported("unsupported mode. please use CREATE INDEX ASYNC.")
    if stmt.whereClause is not None:
        raise FeatureNotSupported("partial indexes are not supported")
    if (stmt.accessMethod or "btree") != "btree":
        raise FeatureNotSupported(f'access method "{stmt.accessMethod}" is not supported')
    columns = []
    for elem in stmt.indexParams:
        if elem.name is None:
            raise FeatureNotSupported("indexes on expressions are not supported")
        columns.append(elem.name)
    include = [e.name for e in stmt.indexIncludingParams or ()]
    rel = stmt.relation
    # the table is re-read at the transaction's snapshot when the plan runs
    return CreateIndexPlan(schema=rel.schemaname or "public", table=rel.relname,
                           name=stmt.idxname, columns=tuple(columns), include=tuple(include),
                           unique=bool(stmt.unique), if_not_exists=bool(stmt.if_not_exists),
                           is_ddl=True)


# -- DROP INDEX -------------------------------------------------------------------------------
@dataclass
class DropIndexPlan(Plan):
    names: list[tuple[str, str]] = field(default_factory=list)
    if_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        live = {(d.schema, d.name): d for d in await live_indexes(txn)}
        for schema, name in self.names:
            d = live.get((schema, name))
            if d is None:
                if self.if_exists:
                    session.notice(f'index "{name}" does not exist, skipping')
                    continue
                raise DsqlError(f'index "{name}" does not exist', sqlstate="42704")
            if d.constraint:
                raise DsqlError(f"cannot drop index {name} because constraint {name} on "
                                "its table requires it", sqlstate="2BP01",
                                hint=f"You can drop constraint {name} instead.")
            txn.delete(index_key(schema, name))
            await mark_schema_changed(txn, d.table_id)
            submit_index_drop(txn, d)               # its entries go in the background
            runner(session.node).kick()
        return QueryResult("DROP INDEX")


def plan_drop_index(stmt: ast.DropStmt, catalog, param_oids) -> DropIndexPlan:
    names = []
    for obj in stmt.objects:
        parts = [s.sval for s in obj]
        names.append((parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0]))
    return DropIndexPlan(names=names, if_exists=bool(stmt.missing_ok), is_ddl=True)


# -- CALL sys.wait_for_job ----------------------------------------------------------------------
@dataclass
class WaitForJobPlan(Plan):
    job_id: RowExpr | None = None

    async def run(self, txn, params, session) -> QueryResult:
        job_id = self.job_id.fn((), params)
        if job_id is None:
            raise DsqlError("job id must not be null", sqlstate="22004")
        job = await wait_for_job(session.node, str(job_id))
        return QueryResult("CALL", self.columns, [(job.status == "completed",)])


def plan_call(stmt: ast.CallStmt, catalog, param_oids) -> WaitForJobPlan:
    call = stmt.funccall
    name = ".".join(s.sval for s in call.funcname)
    if name.lower() != "sys.wait_for_job":
        raise DsqlError(f"procedure {name}() does not exist", sqlstate="42883")
    if len(call.args or ()) != 1:
        raise DsqlError("sys.wait_for_job takes one argument: the job id", sqlstate="42883")
    scope = RowScope((), (), None, list(param_oids))
    expr = scope.typed(call.args[0], T.TEXT, "CALL")
    return WaitForJobPlan(job_id=expr, columns=[result_column("wait_for_job", T.BOOL)],
                          param_oids=[o or T.TEXT for o in scope.param_oids])


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
    from .planner import PLANNERS
    options = {o.defname.lower(): o for o in stmt.options or ()}
    for opt in options:
        if opt not in ("verbose", "analyze", "costs", "buffers", "timing", "summary",
                       "format", "settings", "wal"):
            raise DsqlError(f'unrecognized EXPLAIN option "{opt}"', sqlstate="42601")
    fmt = options.get("format")
    if fmt is not None and str(getattr(fmt.arg, "sval", "text")).lower() != "text":
        raise FeatureNotSupported("EXPLAIN output formats other than TEXT are not supported")
    query = stmt.query
    if not isinstance(query, (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
        raise DsqlError("EXPLAIN works on SELECT, INSERT, UPDATE and DELETE", sqlstate="42601")
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
                       is_dml=analyze and inner.is_dml)



# -- UNIQUE constraints of CREATE TABLE ---------------------------------------------------------
def unique_constraints(stmt: ast.CreateStmt, names: list[str]
                       ) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """(constraint name or None, columns) of each column- or table-level UNIQUE."""
    out = []
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            for con in elt.constraints or ():
                if con.contype.name == "CONSTR_UNIQUE":
                    out.append((con.conname, (elt.colname,)))
        elif isinstance(elt, ast.Constraint) and elt.contype.name == "CONSTR_UNIQUE":
            out.append((elt.conname, tuple(k.sval for k in elt.keys)))
    for _, cols in out:
        for c in cols:
            if c not in names:
                raise BindError(f'column "{c}" named in key does not exist', sqlstate="42703")
    return tuple(out)


async def create_unique_constraints(txn, table, uniques) -> None:
    """Unique indexes of a new (empty) table: valid at once, nothing to build."""
    if not uniques:
        return
    existing = await live_indexes(txn)
    for name, cols in uniques:
        d = await new_index(txn, table, name, cols, (), True, state=VALID, constraint=True,
                            existing=existing)
        if d is None:
            raise DsqlError(f'relation "{name}" already exists', sqlstate="42P07")
        existing.append(d)


# -- the general engine ---------------------------------------------------------------------
def engine_index_access(stmt: ast.SelectStmt, prepared, catalog) -> dict[int, Access]:
    """An index path for the one table of a single-table query (aggregates, DISTINCT,
    GROUP BY …): the engine re-tests the WHERE clause, so the index only narrows the rows.
    Only when the table is read once (no subquery or self-join sees the narrowed rows)."""
    from .query.astwalk import any_node
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
