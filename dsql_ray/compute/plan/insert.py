"""INSERT: VALUES compiled over no row (key-aware), or an engine SELECT whose rows are
inserted (INSERT ... SELECT, WITH, sub-queries); ON CONFLICT in ``conflict.py``."""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast

from ...errors import CardinalityViolation, DuplicateColumn, FeatureNotSupported, ParseError
from ..catalog import TableDef
from ..query.rowexpr import RowExpr, RowScope, needs_engine
from ..result import QueryResult
from ..sequences import default_calls, nextval_calls, reserve
from . import trees
from .base import Plan
from .conflict import Arbiter, OnConflict, plan_on_conflict
from .engine import EXCLUDED, EXISTING, LOCAL_IDS, engine_rows, prepare_local
from .returning import Returning, dml_result, finish_dml
from .rows import (alias_of, assign_value, check_row, column_default, converter,
                   duplicate_key, new_row_key, write_update)


@dataclass
class InsertPlan(Plan):
    table: TableDef | None = None
    rows: list[list[RowExpr]] = field(default_factory=list)   # key-aware VALUES
    source: Any = None                  # else an engine select producing the values
    positions: list[int] = field(default_factory=list)
    converters: list[Callable] = field(default_factory=list)
    defaults: list[RowExpr] = field(default_factory=list)
    default_sequences: Counter = field(default_factory=Counter)   # per engine row
    on_conflict: OnConflict | None = None
    returning: Returning | None = None

    async def _proposed(self, txn, params, session) -> list[tuple]:
        if self.source is None:
            return [tuple(e.fn((), params) for e in exprs) for exprs in self.rows]
        got = await engine_rows(self.source, txn, session, params, {})
        await reserve(session, self.default_sequences, len(got))
        filled = set(self.positions)
        missing = [(i, e) for i, e in enumerate(self.defaults) if i not in filled]
        out = []
        for values in got:
            row: list = [None] * len(self.defaults)
            for i, e in missing:             # each row its own DEFAULTs (nextval)
                row[i] = e.fn((), params)
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
        return await dml_result(f"INSERT 0 {len(new)}", new, self.returning, txn, session,
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
            got = await engine_rows(oc.update, txn, session, params, {
                LOCAL_IDS[EXISTING]: [old + (i,) for i, (_, old, _) in enumerate(updates)],
                LOCAL_IDS[EXCLUDED]: [ex + (i,) for i, (_, _, ex) in enumerate(updates)]})
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
                await write_update(txn, t, key, row, oc.positions)
                written.append(row)
        return await dml_result(f"INSERT 0 {len(written)}", written, self.returning, txn,
                                 session, params)


def _insert_positions(stmt: ast.InsertStmt, table: TableDef) -> list[int]:
    if not stmt.cols:
        return list(range(len(table.columns)))
    positions = []
    for target in stmt.cols:
        pos = trees.target_column(table, target.name)
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
    alias = alias_of(stmt.relation, table)
    scope = RowScope(table.column_names, table.column_oids, alias, list(param_oids))
    positions = _insert_positions(stmt, table)
    empty = RowScope((), (), None, scope.param_oids)
    sel = stmt.selectStmt
    plan = InsertPlan(table=table, positions=positions)
    engine = sel is not None and not sel.valuesLists or stmt.withClause is not None or \
        sel is not None and needs_engine(sel.valuesLists)
    plan.sequences = nextval_calls(stmt)
    if sel is not None and not engine:
        plan.rows = _plan_values(sel.valuesLists, table, positions, empty, bool(stmt.cols))
        plan.sequences += _values_defaults(sel.valuesLists, table, positions)
    elif sel is None:                   # DEFAULT VALUES
        plan.rows = [[column_default(c) for c in table.columns]]
        plan.sequences += default_calls(table.columns)
    oids = list(empty.param_oids)
    if engine:
        plan.source = _plan_insert_select(stmt, table, positions, catalog, oids)
        plan.converters = [converter(table.columns[p], c.type_oid)
                           for p, c in zip(positions, plan.source.columns)]
        plan.defaults = [column_default(c) for c in table.columns]
        plan.default_sequences = default_calls(
            c for i, c in enumerate(table.columns) if i not in positions)
    if stmt.onConflictClause is not None:
        plan.on_conflict = plan_on_conflict(stmt, table, alias, catalog, oids)
    return finish_dml(plan, stmt, table, alias, scope, catalog, oids)


def _values_defaults(values_lists, table: TableDef, positions: list[int]) -> Counter:
    """The nextval calls of the DEFAULTs VALUES rows fill in (columns left out, DEFAULT)."""
    out: Counter = Counter()
    for values in values_lists:
        given = {p for p, v in zip(positions, values) if not isinstance(v, ast.SetToDefault)}
        out += default_calls(c for i, c in enumerate(table.columns) if i not in given)
    return out


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
                else assign_value(empty.compile(node, "VALUES"), col, empty)
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
        sel.valuesLists = tuple(tuple(trees.stored(v, c) for v, c in zip(values, cols))
                                for values in sel.valuesLists)
    elif sel.op == 0 and sel.targetList and not any(
            isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
            for t in sel.targetList):
        _check_width(len(sel.targetList), positions, explicit)
        sel.targetList = tuple(ast.ResTarget(name=t.name, val=trees.stored(t.val, c))
                               for t, c in zip(sel.targetList, cols))
    if stmt.withClause is not None:
        if sel.withClause is not None:
            raise FeatureNotSupported("WITH on both INSERT and its SELECT is not supported")
        sel.withClause = stmt.withClause
    prepared = prepare_local(sel, catalog, [], param_oids)
    param_oids[:] = prepared.param_oids
    positions[:] = _check_width(len(prepared.columns), positions, explicit)
    return prepared

