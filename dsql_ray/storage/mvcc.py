"""Multi-version rows over an ordered key space.

Each key keeps its versions as parallel lists of commit timestamps (ascending) and rows;
a row of ``None`` is a deletion. A read as of τ sees, for every key, the newest version
with timestamp ≤ τ. Keys are kept sorted so a key range is a contiguous slice.
"""
from __future__ import annotations

import bisect
import operator
from typing import Any, Callable, Iterator, Sequence

from sortedcontainers import SortedList

TOMBSTONE = None


class MvccStore:
    def __init__(self) -> None:
        self._versions: dict[bytes, tuple[list[int], list[Any]]] = {}
        self._keys = SortedList()
        self.last_ts = 0

    @classmethod
    def from_versions(cls, versions: dict[bytes, tuple[list[int], list[Any]]],
                      last_ts: int) -> "MvccStore":
        """A store holding ``versions`` (taken over, not copied) with ``last_ts``.

        Each entry is (timestamps ascending, rows) as :meth:`apply` builds it; used to
        restore a checkpoint (``storage/checkpoint.py``).
        """
        store = cls()
        store._versions = versions
        store._keys = SortedList(versions)
        store.last_ts = last_ts
        return store

    def __len__(self) -> int:
        return len(self._versions)

    def apply(self, ts: int, writes) -> None:
        """Install one commit's writes at ``ts``; commits arrive in timestamp order."""
        # Streams of different adjudicators may share a timestamp (never on one key).
        assert ts >= self.last_ts, f"MVCC apply out of order: {ts} after {self.last_ts}"
        self.last_ts = ts
        versions = self._versions
        for key, row in writes:
            entry = versions.get(key)
            if entry is None:
                versions[key] = ([ts], [row])
                self._keys.add(key)
            else:
                entry[0].append(ts)
                entry[1].append(row)

    def get(self, key: bytes, ts: int) -> Any:
        entry = self._versions.get(key)
        if entry is None:
            return None
        tss, rows = entry
        if tss[-1] <= ts:            # the common case: the newest version is visible
            return rows[-1]
        i = bisect.bisect_right(tss, ts)
        return rows[i - 1] if i else None

    def scan(self, low: bytes, high: bytes | None, ts: int) -> Iterator[tuple[bytes, Any]]:
        """Visible (key, row) pairs with low ≤ key < high, in key order."""
        keys = self._keys.irange(low, high, inclusive=(True, False)) if high is not None \
            else self._keys.irange(low, None)
        get = self.get
        for key in keys:
            row = get(key, ts)
            if row is not None:
                yield key, row

    def scan_where(self, low: bytes, high: bytes | None, ts: int, pred: Sequence = (),
                   columns: Sequence[int] | None = None, limit: int | None = None
                   ) -> list[tuple[bytes, Any]]:
        """:meth:`scan` keeping rows that satisfy ``pred`` and only ``columns`` of them.

        See :func:`row_filter` and :func:`row_projection`; ``limit`` bounds the rows
        returned (matches, not rows examined).
        """
        test = row_filter(pred)
        project = row_projection(columns)
        out = []
        for key, row in self.scan(low, high, ts):
            if test is not None and not test(row):
                continue
            out.append((key, row if project is None else project(row)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def gc(self, horizon: int) -> int:
        """Drop versions no snapshot at or after ``horizon`` can see; returns versions freed."""
        freed = 0
        dead: list[bytes] = []
        for key, (tss, rows) in self._versions.items():
            if len(tss) == 1 and not (rows[0] is None and tss[0] <= horizon):
                continue
            i = bisect.bisect_right(tss, horizon)   # versions[:i] are ≤ horizon
            keep_from = max(i - 1, 0)               # the newest of them stays visible
            if keep_from:
                del tss[:keep_from]
                del rows[:keep_from]
                freed += keep_from
            if len(tss) == 1 and rows[0] is None and tss[0] <= horizon:
                dead.append(key)
        for key in dead:
            del self._versions[key]
            self._keys.remove(key)
            freed += 1
        return freed

    def snapshot_rows(self, ts: int) -> Iterator[tuple[bytes, Any]]:
        return self.scan(b"", None, ts)


# -- predicates and projections pushed down from compute ----------------------------------
# A pushed predicate is a small, picklable tuple: an AND of (op, column position, value)
# with op one of = <> < <= > >= (value a constant of the column's type) or "isnull" /
# "notnull" (value unused). Comparisons follow SQL: a NULL operand is never true, so
# storage drops the row exactly when compute's WHERE would.
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}
PUSHABLE_OPS = frozenset(_COMPARE) | {"isnull", "notnull"}


def _test(op: str, pos: int, value: Any) -> Callable[[tuple], bool]:
    if op == "isnull":
        return lambda row: row[pos] is None
    if op == "notnull":
        return lambda row: row[pos] is not None
    if value is None:
        return lambda row: False
    cmp = _COMPARE[op]

    def test(row: tuple) -> bool:
        v = row[pos]
        return v is not None and cmp(v, value)
    return test


def row_filter(pred: Sequence | None) -> Callable[[tuple], bool] | None:
    """The row test for a pushed predicate (None when there is nothing to test)."""
    if not pred:
        return None
    tests = [_test(op, pos, value) for op, pos, value in pred]
    if len(tests) == 1:
        return tests[0]

    def test_all(row: tuple) -> bool:
        for t in tests:
            if not t(row):
                return False
        return True
    return test_all


def row_projection(columns: Sequence[int] | None) -> Callable[[tuple], tuple] | None:
    """Keep only ``columns`` of a row; the others become None so positions stay put."""
    if columns is None:
        return None
    keep = frozenset(columns)
    return lambda row: tuple(v if i in keep else None for i, v in enumerate(row))
