"""INSERT ... ON CONFLICT: the arbiters (primary key, valid unique indexes) proposed rows
are checked against, and the DO UPDATE assignments as one engine SELECT over the
conflicting rows (``__dsql_existing``) and the proposed ones (``excluded``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pglast import ast
from pglast.enums import OnConflictAction

from ...errors import (FeatureNotSupported, InvalidColumnReference, ParseError,
                       UndefinedColumn, UndefinedObject)
from .. import types as T
from ..catalog import TableDef
from ..indexes import VALID, registry_of_catalog
from . import trees
from .engine import EXCLUDED, EXISTING, IDX_COL, local_table, prepare_local
from .rows import converter


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
    """A valid unique index: rows with a NULL in its key, or that a partial index's
    predicate leaves out, never conflict; an expression key compares its values."""
    index: Any = None

    def conflict_key(self, table: TableDef, row: tuple) -> Any:
        if not self.index.covers(table, row):
            return object()
        values = self.index.key_values(table, row)
        return values if None not in values else object()

    async def lookup(self, txn, table: TableDef, rows: list[tuple]
                     ) -> list[tuple[bytes, tuple] | None]:
        out: list[tuple[bytes, tuple] | None] = [None] * len(rows)
        wanted = [(i, self.index.key_values(table, r)) for i, r in enumerate(rows)
                  if self.index.covers(table, r)]
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
    # a partial index is inferred only with its predicate (ON CONFLICT (…) WHERE …)
    matching = [c for c in constraints if set(c.columns) == wanted
                and getattr(getattr(c, "index", None), "predicate", None) is None]
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



def plan_on_conflict(stmt: ast.InsertStmt, table: TableDef, alias: str, catalog,
                     param_oids: list[int]) -> OnConflict:
    clause = stmt.onConflictClause
    oc = OnConflict(conflict_arbiters(table, clause, catalog))
    if clause.action != OnConflictAction.ONCONFLICT_UPDATE:
        return oc
    values = []
    for pos, val in trees.assignments(clause.targetList, table):
        oc.positions.append(pos)
        values.append(trees.target(trees.stored(val, table.columns[pos])))
    # one level: an unqualified column both relations have is ambiguous, as in PostgreSQL
    same = trees.equals(trees.column(alias, IDX_COL), trees.column("excluded", IDX_COL))
    tree = trees.select([trees.target(trees.column("excluded", IDX_COL))] + values,
                        [trees.relation(EXISTING, alias), trees.relation(EXCLUDED, "excluded")],
                        trees.conjunction([same, clause.whereClause]))
    oc.update = prepare_local(tree, catalog, [local_table(EXISTING, table, IDX_COL, T.INT8),
                                              local_table(EXCLUDED, table, IDX_COL, T.INT8)],
                              param_oids)
    param_oids[:] = oc.update.param_oids
    oc.converters = [converter(table.columns[p], c.type_oid)
                     for p, c in zip(oc.positions, oc.update.columns[1:])]
    return oc
