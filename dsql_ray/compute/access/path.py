"""An access path: how a statement finds a table's rows (by key, key range or the
whole table), what it pushes to storage, and how EXPLAIN shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pglast.stream import RawStream

from ... import limits
from ...errors import DsqlError
from ...keys import encode_key, prefix_end
from ...storage.mvcc import row_filter
from ..catalog import TableDef
from ..interrupt import checkpoints
from ..query.rowexpr import RowExpr
from ..query.runtime import check_memory, rows_size


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


def shard_lines(node, low: bytes, high: bytes | None) -> list[str]:
    if node is None:
        return []
    shards = [i for i, s in enumerate(node.shards)
              if not ((s.high is not None and s.high <= low)
                      or (high is not None and s.low >= high))]
    return [f"Shards: {', '.join(str(i) for i in shards)} (of {len(node.shards)} key ranges)"]
