"""Plans for secondary indexes: CREATE INDEX ASYNC, DROP INDEX, CALL sys.wait_for_job,
and the UNIQUE constraints of CREATE TABLE (unique indexes). Index scans are an access
path: ``access/index_scan.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast

from ..errors import (DependentObjectsStillExist, DsqlError, DuplicateTable, FeatureNotSupported,
                      GroupingError, InvalidObjectDefinition, UndefinedColumn, UndefinedFunction,
                      UndefinedObject, UndefinedTable, WrongObjectType)
from . import types as T
from .catalog import row_to_table, schema_key, table_key, tables_range
from .query.aggregates import AGGREGATES
from .query.astwalk import any_node
from .query.functions import READS_CATALOG
from .query.rowexpr import RowExpr, RowScope, expr_sql, parse_expr
from .indexes import (VALID, WRITE_ONLY, IndexDef, allocate_index_id, columns_per_index_max,
                      index_key, indexes_per_table_max, load_indexes, put_index, slots_of)
from .jobs import (bump_catalog_version, new_job_id, runner, submit_index_build,
                   submit_index_drop, wait_for_job)
from .plan.base import Plan, result_column
from .result import QueryResult

# -- CREATE INDEX ASYNC ---------------------------------------------------------------------
@dataclass
class CreateIndexPlan(Plan):
    schema: str = "public"
    table: str = ""
    name: str | None = None
    key_columns: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    unique: bool = False
    if_not_exists: bool = False
    exprs: tuple[str | None, ...] = ()        # per key: an expression's SQL text, or None
    predicate: str | None = None              # a partial index's WHERE (SQL text)

    async def run(self, txn, params, session) -> QueryResult:
        cols = self.columns
        row = await txn.get(table_key(self.schema, self.table))
        if row is None:
            raise UndefinedTable(f'relation "{self.table}" does not exist')
        t = row_to_table(row)
        if getattr(t, "kind", "r") != "r":
            raise WrongObjectType(f'"{self.table}" is not a table')
        check_index_expressions(t, self.exprs, self.predicate)
        d = await new_index(txn, t, self.name, self.key_columns, self.include, self.unique,
                            exprs=self.exprs, predicate=self.predicate)
        if d is None:
            if self.if_not_exists:
                session.notice(f'relation "{self.name}" already exists, skipping')
                return QueryResult("CREATE INDEX", cols, [])
            raise DuplicateTable(f'relation "{self.name}" already exists')
        await mark_schema_changed(txn, t.table_id)
        submit_index_build(txn, d)
        runner(session.node).kick()
        return QueryResult("CREATE INDEX", cols, [(d.job_id,)])


async def mark_schema_changed(txn, table_id: int) -> None:
    """Every transaction that used the table before this DDL fails at COMMIT (OC001), and
    every compute reloads its catalog at its next transaction."""
    try:
        txn.put(schema_key(table_id), txn.start_ts)
    except ImportError:        # an older catalog without schema markers
        pass
    await bump_catalog_version(txn)
    txn.touched_catalog = True


async def live_indexes(txn, tables_by_id: dict | None = None) -> list[IndexDef]:
    """Index definitions at the snapshot whose table still exists."""
    if tables_by_id is None:
        low, high = tables_range()
        tables_by_id = {row_to_table(r).table_id for _, r in await txn.scan(low, high)}
    return [d for d in await load_indexes(txn) if d.table_id in tables_by_id]


async def new_index(txn, t, name: str | None, columns, include, unique: bool, *,
                    state: str = WRITE_ONLY, constraint: bool = False,
                    existing: list[IndexDef] | None = None, exprs: tuple = (),
                    predicate: str | None = None) -> IndexDef | None:
    """Check and write a new index definition; None if the name is taken."""
    names = t.column_names
    exprs = tuple(exprs) or (None,) * len(columns)
    plain = [c for c, e in zip(columns, exprs) if e is None]
    for c in (*plain, *include):
        if c not in names:
            raise UndefinedColumn(f'column "{c}" does not exist')
    columns_per_index_max.check(len(columns) + len(include))
    for c in plain:
        oid = t.columns[names.index(c)].type_oid
        if oid == T.JSON:
            raise UndefinedObject('data type json has no default operator class for access method '
                                  '"btree"')
        if oid == T.JSONB:
            raise FeatureNotSupported("indexes on jsonb columns are not supported")
    if existing is None:
        existing = await live_indexes(txn)
    taken = {(d.schema, d.name) for d in existing}
    if name is None:
        parts = [c if e is None else _expr_name(e) for c, e in zip(columns, exprs)]
        base = f"{t.name}_{'_'.join(parts)}_{'key' if constraint else 'idx'}"[:63]
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
                 constraint,
                 key_slots=tuple(-1 if e is not None else slots[names.index(c)]
                                 for c, e in zip(columns, exprs)),
                 include_slots=tuple(slots[names.index(c)] for c in include),
                 exprs=exprs if any(e is not None for e in exprs) else (),
                 predicate=predicate)
    await put_index(txn, d)
    return d


def _expr_name(sql: str) -> str:
    """The name PostgreSQL gives an expression key in a generated index name."""
    node = parse_expr(sql)
    return node.funcname[-1].sval if isinstance(node, ast.FuncCall) else "expr"


_NOT_IMMUTABLE = frozenset({
    "random", "setseed", "nextval", "setval", "currval", "lastval", "now", "clock_timestamp",
    "statement_timestamp", "transaction_timestamp", "timeofday", "gen_random_uuid",
    "current_setting", "to_char", "to_date", "to_timestamp", "age", "current_database",
    "current_schema", "current_schemas", "pg_backend_pid", "version", "txid_current",
    "inet_client_addr", "inet_server_addr", "pg_typeof", "format"})


def check_index_expressions(t, exprs, predicate: str | None) -> None:
    """Index expressions and a partial index's predicate: immutable functions only, no
    sub-query or aggregate (as PostgreSQL), and they compile over the table's columns."""
    scope = RowScope(t.column_names, t.column_oids, t.name)
    for what, sql in [*(("expression", e) for e in exprs if e is not None),
                      *((("predicate", predicate),) if predicate is not None else ())]:
        node = parse_expr(sql)
        if any_node(node, lambda n: isinstance(n, ast.SubLink)):
            raise FeatureNotSupported(f"cannot use subquery in index {what}")
        if any_node(node, lambda n: isinstance(n, ast.FuncCall)
                    and n.funcname[-1].sval.lower() in AGGREGATES):
            raise GroupingError(f"aggregate functions are not allowed in index {what}s")
        if any_node(node, lambda n: isinstance(n, ast.SQLValueFunction) or (
                isinstance(n, ast.FuncCall)
                and (n.funcname[-1].sval.lower() in _NOT_IMMUTABLE
                     or n.funcname[-1].sval.lower() in READS_CATALOG))):
            raise InvalidObjectDefinition(f"functions in index {what} must be marked IMMUTABLE")
        if what == "predicate":
            scope.condition(node, "WHERE")
        else:
            scope.compile(node)


def index_keys(stmt: ast.IndexStmt) -> tuple[list[str], list[str | None]]:
    """The key columns' names (an expression's SQL text for an expression key) and, per
    key, the expression's SQL text or None."""
    columns, exprs = [], []
    for elem in stmt.indexParams:
        if elem.name is not None:
            columns.append(elem.name)
            exprs.append(None)
            continue
        node = elem.expr
        if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String):
            columns.append(node.fields[-1].sval)       # ((col)) is the column
            exprs.append(None)
            continue
        text = expr_sql(node)
        columns.append(text)
        exprs.append(text)
    return columns, exprs


def plan_create_index(stmt: ast.IndexStmt, catalog, param_oids) -> CreateIndexPlan:
    if not stmt.concurrent:
        raise FeatureNotSupported("unsupported mode. please use CREATE INDEX ASYNC.")
    if (stmt.accessMethod or "btree") != "btree":
        raise FeatureNotSupported(f'access method "{stmt.accessMethod}" is not supported')
    columns, exprs = index_keys(stmt)
    predicate = expr_sql(stmt.whereClause) if stmt.whereClause is not None else None
    include = [e.name for e in stmt.indexIncludingParams or ()]
    rel = stmt.relation
    # the table is re-read at the transaction's snapshot when the plan runs
    return CreateIndexPlan(schema=rel.schemaname or "public", table=rel.relname,
                           name=stmt.idxname, key_columns=tuple(columns),
                           include=tuple(include), unique=bool(stmt.unique),
                           if_not_exists=bool(stmt.if_not_exists), is_ddl=True,
                           exprs=tuple(exprs) if any(exprs) else (), predicate=predicate,
                           columns=[result_column("job_id", T.TEXT)])


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
                raise UndefinedObject(f'index "{name}" does not exist')
            if d.constraint:
                raise DependentObjectsStillExist(
                    f"cannot drop index {name} because constraint {name} on "
                    "its table requires it",
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
        raise UndefinedFunction(f"procedure {name}() does not exist")
    if len(call.args or ()) != 1:
        raise UndefinedFunction("sys.wait_for_job takes one argument: the job id")
    scope = RowScope((), (), None, list(param_oids))
    expr = scope.typed(call.args[0], T.TEXT, "CALL")
    return WaitForJobPlan(job_id=expr, columns=[result_column("wait_for_job", T.BOOL)],
                          param_oids=[o or T.TEXT for o in scope.param_oids])


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
                raise UndefinedColumn(f'column "{c}" named in key does not exist')
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
            raise DuplicateTable(f'relation "{name}" already exists')
        existing.append(d)


