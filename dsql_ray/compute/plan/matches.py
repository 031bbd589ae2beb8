"""UPDATE ... FROM and DELETE ... USING (and any WHERE the key-aware path cannot
evaluate) through the query engine: one SELECT over the target's rows, each carrying its
storage key, says which rows to write and with which values."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from ... import limits
from ...errors import LimitExceeded
from .. import types as T
from ..access.path import Access
from ..catalog import TableDef
from ..result import Column
from . import trees
from .base import Plan
from .engine import (KEY_COL, LOCAL_IDS, TARGET, engine_rows, local_table,
                     prepare_local)
from .returning import Returning, from_leaves, returning_targets


def prepare_matches(stmt, table: TableDef, alias: str, extra: list[Any], from_items,
                    catalog, param_oids: list[int]):
    """``SELECT key, old row, extra... FROM target AS alias, from_items WHERE where``."""
    cols = [trees.column(alias, KEY_COL)] + [trees.column(alias, c)
                                              for c in table.column_names] + extra
    tree = trees.select([trees.target(c) for c in cols],
                        [trees.relation(TARGET, alias), *(from_items or ())],
                        stmt.whereClause, stmt.withClause)
    prepared = prepare_local(tree, catalog, [local_table(TARGET, table, KEY_COL, T.BYTEA)],
                             param_oids)
    param_oids[:] = prepared.param_oids
    return prepared


async def _target_rows(txn, table: TableDef) -> list[tuple]:
    low, high = table.key_range()
    found = await txn.scan(low, high)
    if len(found) > limits.scan_rows_max:
        raise LimitExceeded("statement returns too many rows")
    return [row + (key,) for key, row in found]


async def matched(prepared, table: TableDef, txn, session, params
                  ) -> list[tuple[bytes, tuple, tuple]]:
    """(key, old row, extra values) per target row matched, each row once."""
    got = await engine_rows(prepared, txn, session, params,
                            {LOCAL_IDS[TARGET]: await _target_rows(txn, table)})
    n = len(table.columns)
    seen: set[bytes] = set()
    out = []
    for r in got:
        if r[0] in seen:
            continue                # joined more than once: updated once (PostgreSQL)
        seen.add(r[0])
        out.append((r[0], tuple(r[1:n + 1]), tuple(r[n + 1:])))
    return out


@dataclass
class MatchedDml(Plan):
    """UPDATE or DELETE: the rows an access path finds (key-aware), or those the engine
    matches (``matches``: key, old row, new values, FROM rows)."""
    access: Access | None = None
    matches: Any = None
    table: TableDef | None = None
    leaves: list[tuple[str, list[Column]]] = field(default_factory=list)
    returning: Returning | None = None
    verb = "Dml"

    async def engine_matches(self, txn, session, params, values: int = 0
                             ) -> list[tuple[bytes, tuple, tuple, tuple]]:
        """(key, old row, the first ``values`` extra values, FROM rows) per matched row."""
        return [(key, row, extras[:values], split_from(extras[values:], self.leaves))
                for key, row, extras in await matched(self.matches, self.table, txn, session,
                                                      params)]

    def explain(self) -> list[str]:
        if self.matches is None or self.table is None:
            return [f"{self.verb}Plan"]
        reads = ", ".join(t.name if t.table_id >= 0 or t.name != TARGET else self.table.name
                          for t in self.matches.tables)
        return [f"{self.verb} on {self.table.name}", f"  ->  query engine: {reads}"]


def plan_leaves(stmt, from_items, catalog, param_oids: list[int]
                ) -> list[tuple[str, list[Column]]]:
    """The FROM items' range names and columns, when RETURNING may refer to them."""
    if not from_items or not returning_targets(stmt):
        return []
    return [(leaf, list(prepare_local(
        trees.select([trees.target(trees.star(leaf))], from_items, None, stmt.withClause),
        catalog, [], list(param_oids)).columns)) for leaf in from_leaves(from_items)]


def leaf_stars(leaves: list[tuple[str, list[Column]]]) -> list[ast.ColumnRef]:
    return [trees.star(leaf) for leaf, _ in leaves]


def split_from(extras: tuple, leaves: list[tuple[str, list[Column]]]) -> tuple:
    """A matched row's extra values cut into one FROM row per leaf."""
    out, i = [], 0
    for _, cols in leaves:
        out.append(tuple(extras[i:i + len(cols)]))
        i += len(cols)
    return tuple(out)
