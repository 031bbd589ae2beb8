"""What a running statement carries: parameters, enclosing rows, scanned tables, limits."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ...errors import DivisionByZero, DsqlError, LimitExceeded

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_RECURSION = 100_000
#: rows an operator's loop handles between two cancel checkpoints
CHECK_EVERY = 1024


@dataclass
class EngineConfig:
    """Knobs of the query engine."""
    max_rows: int = DEFAULT_MAX_ROWS              # rows one statement may materialise
    max_recursion: int = DEFAULT_MAX_RECURSION    # WITH RECURSIVE iterations
    now: dt.datetime | None = None                # transaction timestamp (now())
    #: called at every row-count checkpoint; raises to stop the statement (cancel)
    interrupt: Callable[[], None] | None = None
    #: estimated bytes of intermediate results one statement may hold (None: unbounded)
    max_bytes: float | None = None


class Abandoned(Exception):
    """The statement's caller stopped waiting for it (its session ended): stop computing."""


class RunState:
    """Per-execution state shared by every level of one statement."""

    def __init__(self, config: EngineConfig, tables: dict[int, list[tuple]]):
        self.config = config
        self.tables = tables
        self.cache: dict[Any, Any] = {}
        self.base_bytes = 0            # scanned tables, held for the whole statement
        self.abandoned = False         # set by the loop when nobody awaits the result
        self.now = config.now or dt.datetime.now(dt.timezone.utc)
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=dt.timezone.utc)

    def checkpoint(self) -> None:
        """Stop here if the statement was canceled (57014) or abandoned."""
        if self.abandoned:
            raise Abandoned()
        if self.config.interrupt is not None:
            self.config.interrupt()

    def check_rows(self, n: int, rows: list | None = None) -> None:
        """A checkpoint of an operator holding ``n`` rows (``rows``: a sample of them)."""
        self.checkpoint()
        if n > self.config.max_rows:
            raise LimitExceeded(f"query would materialise more than {self.config.max_rows} "
                                "rows", hint="Add a more selective WHERE clause or a LIMIT.")
        if rows and self.config.max_bytes is not None:
            check_memory(self.base_bytes + n * row_size(rows[-1]), self.config.max_bytes)


def checked(rows: Iterable[Any], run: RunState) -> Iterator[Any]:
    """``rows``, with a cancel checkpoint before each batch of :data:`CHECK_EVERY`."""
    for i, row in enumerate(rows):
        if not i % CHECK_EVERY:
            run.checkpoint()
        yield row


def value_size(v: Any) -> int:
    """Rough bytes a Python value holds (CPython object sizes)."""
    if v is None or v is True or v is False:
        return 8
    if isinstance(v, (str, bytes)):
        return 49 + len(v)
    if isinstance(v, (tuple, list)):
        return 56 + 8 * len(v) + sum(value_size(x) for x in v)
    return 32


def row_size(row: Any) -> int:
    return value_size(row) if isinstance(row, (tuple, list)) else 64


def rows_size(rows: list) -> int:
    """Estimated bytes of ``rows``: their count times the mean size of up to 16 samples."""
    if not rows:
        return 0
    step = max(1, len(rows) // 16)
    sample = rows[::step][:16]
    return len(rows) * sum(row_size(r) for r in sample) // len(sample)


def check_memory(estimate: float, budget: float) -> None:
    if estimate > budget:
        raise LimitExceeded(f"statement memory limit exceeded: intermediate results need "
                            f"about {int(estimate) // 1024} KiB, the limit is "
                            f"{int(budget) // 1024} KiB",
                            hint="Add a more selective WHERE clause or a LIMIT.")


class Env:
    """Evaluation environment of one query level: ``outer[k]`` is level k's current row."""
    __slots__ = ("params", "outer", "run")

    def __init__(self, params: list, outer: tuple, run: RunState):
        self.params = params
        self.outer = outer
        self.run = run

    def push(self, row: tuple) -> "Env":
        return Env(self.params, self.outer + (row,), self.run)


Fn = Callable[[tuple, Env], Any]


@dataclass
class Expr:
    """A compiled expression: ``fn(row, env)`` and its SQL type."""
    fn: Fn
    oid: int
    const: bool = False            # no column, parameter or volatile function inside
    param: int | None = None       # a bare $n (its type may still be settled by context)
    typmod: tuple[int, ...] | None = None

    def value(self):
        return self.fn((), None)


def const(value: Any, oid: int) -> Expr:
    return Expr(lambda row, env: value, oid, True)


def division_by_zero() -> DsqlError:
    return DivisionByZero("division by zero")


# -- sorting -----------------------------------------------------------------------------
def sort_rows(rows: list, keys: list[tuple[Callable[[Any], Any], bool, bool]]) -> list:
    """Stable multi-key sort. keys: (extract(row) → value, descending, nulls_first)."""
    out = list(rows)
    for extract, desc, nulls_first in reversed(keys):
        null_rank = (0 if nulls_first else 1) if not desc else (1 if nulls_first else 0)
        value_rank = 1 - null_rank

        def key(r, extract=extract, nr=null_rank, vr=value_rank):
            v = extract(r)
            return (nr,) if v is None else (vr, v)
        out.sort(key=key, reverse=desc)
    return out


def hashable(v: Any) -> Any:
    """A value usable in a dict key (arrays become tuples)."""
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    return v


def row_key(row: tuple) -> tuple:
    return tuple(hashable(v) for v in row)
