"""Sequences at run time: nextval, currval, setval, lastval.

A sequence is a catalog relation (kind ``S``) whose one row holds the next unallocated
value. A compute takes values in blocks (the sequence's CACHE, or more when a statement
needs more) with a small transaction of its own on that row, retried on conflicts
(bounded), and hands them out from memory.

No statement is run twice for its sequence values:

1. **planning** counts the ``nextval`` calls a statement makes per row, by sequence name
   (:func:`nextval_calls`, over the statement and the DEFAULTs it fills in);
2. **before running**, and again in a plan's own loops once they know their row count
   (INSERT ... SELECT defaults, key-aware UPDATE and SELECT), :func:`reserve` makes sure
   this compute holds that many values, taking another block if not;
3. **while running**, nextval takes the reserved values, then those this compute still
   holds. Calls the query engine makes past both (their count was known only as it ran)
   continue from where this compute's last block ended, and :func:`settle` claims them
   right after the statement with one small transaction, which fails with 40001 if
   another allocation moved the sequence meanwhile (a value is never handed out twice). setval is recorded while the
   statement runs and written by :func:`settle`; a nextval after it in the same
   statement continues from the value set.
"""
from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from pglast import ast

from ..errors import (FeatureNotSupported, InternalError, NumericOutOfRange,
                      ObjectNotInPrerequisiteState, SequenceLimitReached,
                      SerializationFailure,
                      UndefinedTable, WrongObjectType)
from . import types as T
from .catalog import ColumnDef, TableDef, UnknownTable, sequence_key, table_key
from .constraints import parse_expr
from .context import CURRENT_SESSION
from .parse import parse
from .query.astwalk import nodes
from .query.functions import no_function, register, strict
from .system.tables import table_oid
from .txn import Transaction

SEQUENCE_ALLOCATE_ATTEMPTS = 20     # conflicting block allocations before giving up
#: guards this compute's blocks: the loop and the engine's worker threads
#: (query/threads.py, where nextval may run) both take values from them
_BLOCKS_LOCK = threading.Lock()


# -- planning: the nextval calls a statement makes -----------------------------------------
def _constant_name(arg: Any) -> str | None:
    """The sequence a call names when it is a literal: 's', 'sch.s' or 's'::regclass."""
    if isinstance(arg, ast.TypeCast):
        arg = arg.arg
    if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
        return arg.val.sval
    return None


def nextval_calls(*trees: Any) -> Counter:
    """Sequence name → how many ``nextval`` calls these parse trees hold (per row)."""
    out: Counter = Counter()
    for node in nodes(list(trees)):
        if isinstance(node, ast.FuncCall) and node.funcname[-1].sval == "nextval" \
                and len(node.args or ()) == 1:
            name = _constant_name(node.args[0])
            if name is not None:
                out[name] += 1
    return out


def view_calls(tables: Iterable[TableDef]) -> Counter:
    """The nextval calls in the stored queries of the views among ``tables``."""
    return sum((nextval_calls(parse(t.view_sql)[0][0]) for t in tables
                if t.kind == "v" and t.view_sql), Counter())


def default_calls(columns: Iterable[ColumnDef]) -> Counter:
    """The nextval calls the DEFAULTs of these columns make (one row)."""
    return sum((nextval_calls(parse_expr(c.default_expr)) for c in columns
                if c.default_expr is not None), Counter())


# -- values held: this compute's blocks, a statement's reservation -------------------------
@dataclass
class Block:
    """Values held for one sequence, as ranges of (next value, values left); for this
    compute's block also where the sequence row stood after its last allocation."""
    ranges: deque = field(default_factory=deque)
    end: int | None = None

    def left(self) -> int:
        return sum(n for _, n in self.ranges)

    def take(self, increment: int) -> int | None:
        while self.ranges and self.ranges[0][1] <= 0:
            self.ranges.popleft()
        if not self.ranges:
            return None
        r = self.ranges[0]
        value = r[0]
        r[0] += increment
        r[1] -= 1
        return value

    def split(self, count: int, increment: int) -> list[list[int]]:
        """The first ``count`` values (or fewer), taken out as ranges."""
        out = []
        while count > 0 and self.ranges:
            first, n = self.ranges[0]
            if n <= count:
                out.append(self.ranges.popleft())
            else:
                out.append([first, count])
                self.ranges[0] = [first + count * increment, n - count]
            count -= out[-1][1]
        return out


def _blocks(node) -> dict[int, Block]:
    """Values allocated to this compute: sequence id → its Block."""
    catalog = node.catalog
    if not hasattr(catalog, "sequence_blocks"):
        catalog.sequence_blocks = {}
    return catalog.sequence_blocks


@dataclass
class _Continued:
    """Values one statement takes past its reservation (or after a setval), from
    ``base``; :func:`settle` writes the sequence row to ``position`` afterwards."""
    seq: TableDef
    base: int
    position: int
    setval: bool = False

    def take(self) -> int:
        value = _within_bounds(self.seq, self.position)
        self.position += self.seq.sequence.increment
        return value


@dataclass
class StatementSequences:
    """One running statement's values: those reserved for it, those taken past them."""
    reserved: dict[int, Block] = field(default_factory=dict)
    continued: dict[int, _Continued] = field(default_factory=dict)


def _statement(session) -> StatementSequences:
    state = getattr(session, "sequence_statement", None)
    if state is None:
        state = session.sequence_statement = StatementSequences()
    return state


def _within_bounds(seq: TableDef, value: int) -> int:
    s = seq.sequence
    if s.min_value <= value <= s.max_value:
        return value
    bound = s.max_value if s.increment > 0 else s.min_value
    raise SequenceLimitReached(f'nextval: reached {"maximum" if s.increment > 0 else "minimum"} '
                               f'value of sequence "{seq.name}" ({bound})')


# -- the functions ---------------------------------------------------------------------------
def _resolve(session, name) -> TableDef:
    if isinstance(name, int):            # nextval('s'::regclass): the sequence's oid
        for t in list(session.node.catalog.tables.values()):
            if table_oid(t) == name:
                name = f"{t.schema}.{t.name}"
                break
        else:
            raise InternalError(f"could not open relation with OID {name}")
    parts = [p.strip('"') for p in name.split(".")]
    schema, rel = (parts[-2], parts[-1]) if len(parts) > 1 else (None, parts[0])
    rv = ast.RangeVar(schemaname=schema, relname=rel, inh=True, relpersistence="p")
    try:
        t = session.node.catalog.resolve(rv, session.search_path())
    except UnknownTable:
        raise UndefinedTable(f'relation "{name}" does not exist') from None
    if t.kind != "S":
        raise WrongObjectType(f'"{t.name}" is not a sequence')
    return t


def _active_session():
    session = CURRENT_SESSION.get()
    if session is None:
        raise FeatureNotSupported("sequence functions need a session")
    return session


def nextval(name: str) -> int:
    """The next value: the statement's reservation, then what this compute still holds,
    then past both (claimed by :func:`settle`)."""
    session = _active_session()
    seq = _resolve(session, name)
    sid, state, inc = seq.table_id, _statement(session), seq.sequence.increment
    value = None
    if sid not in state.continued:
        with _BLOCKS_LOCK:                  # the compute's blocks: shared by its sessions
            block = _blocks(session.node).setdefault(sid, Block())
            value = state.reserved.setdefault(sid, Block()).take(inc)
            value = block.take(inc) if value is None else value
        if value is None:
            if block.end is None:         # a call planning could not count
                raise FeatureNotSupported(
                    f'nextval of sequence "{seq.name}" was not counted while planning',
                    hint="Name the sequence with a literal, in the statement or in a view "
                         "it reads directly.")
            state.continued[sid] = _Continued(seq, block.end, block.end)
    if value is None:
        value = state.continued[sid].take()
    session.currvals[sid] = value
    session.lastval = value
    return value


def lastval() -> int:
    session = _active_session()
    if session.lastval is None:
        raise ObjectNotInPrerequisiteState("lastval is not yet defined in this session")
    return session.lastval


def currval(name: str) -> int:
    session = _active_session()
    seq = _resolve(session, name)
    if seq.table_id not in session.currvals:
        raise ObjectNotInPrerequisiteState(
            f'currval of sequence "{seq.name}" is not yet defined in this session')
    return session.currvals[seq.table_id]


def setval(name: str, value: int, is_called: bool = True) -> int:
    """Recorded now, written by :func:`settle` when the statement ends."""
    session = _active_session()
    seq = _resolve(session, name)
    s = seq.sequence
    if not s.min_value <= value <= s.max_value:
        raise NumericOutOfRange(
            f'setval: value {value} is out of bounds for sequence "{seq.name}" '
            f"({s.min_value}..{s.max_value})")
    start = value + s.increment if is_called else value
    _statement(session).continued[seq.table_id] = _Continued(seq, start, start, setval=True)
    return value


# -- the small transactions -----------------------------------------------------------------
async def _sequence_txn(node, seq: TableDef, change) -> Any:
    """Commit a small transaction on the sequence row, retrying on conflicts (bounded)."""
    for attempt in range(SEQUENCE_ALLOCATE_ATTEMPTS):
        txn = Transaction(node, node.clock.now(), explicit=False)
        row = await txn.get(table_key(seq.schema, seq.name))
        if row is None or row[0] != seq.table_id:          # dropped (or renamed) meanwhile
            await node.catalog.refresh(txn.start_ts)
            raise UndefinedTable(f'relation "{seq.name}" does not exist')
        txn.uses([seq])                  # a DROP SEQUENCE racing this commit fails one
        current = await txn.get(sequence_key(seq.table_id))
        if current is None:
            current = seq.sequence.start
        new, result = change(current)
        txn.put(sequence_key(seq.table_id), new)
        try:
            await node.commit(txn)
            return result
        except SerializationFailure:
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise SerializationFailure()


async def _allocate(node, seq: TableDef, want: int) -> None:
    """Take ``want`` values (at least the CACHE) into this compute's block."""
    s = seq.sequence
    want = max(s.cache, want)

    def take(cur: int):
        _within_bounds(seq, cur)
        last = cur + (want - 1) * s.increment
        last = min(last, s.max_value) if s.increment > 0 else max(last, s.min_value)
        count = (last - cur) // s.increment + 1
        return cur + count * s.increment, (cur, count)
    start, count = await _sequence_txn(node, seq, take)
    with _BLOCKS_LOCK:
        block = _blocks(node).setdefault(seq.table_id, Block())
        block.ranges.append([start, count])
        block.end = start + count * s.increment


async def _sequence(session, name) -> TableDef:
    """The sequence a planned call names, the catalog refreshed once if it is unknown
    here (made on another compute)."""
    try:
        return _resolve(session, name)
    except UndefinedTable:
        await session.node.catalog.refresh(session.node.clock.now())
        return _resolve(session, name)


async def reserve(session, calls: Counter, rows: int = 1) -> None:
    """Set aside for the running statement the values ``rows`` rows of these calls take:
    from this compute's block, which takes another block first if it holds too few."""
    if not calls:
        return
    state, wanted = _statement(session), {}
    for name, per_row in calls.items():           # 's' and 'public.s' may be one sequence
        seq = await _sequence(session, name)
        wanted[seq.table_id] = (seq, wanted.get(seq.table_id, (seq, 0))[1] + per_row * rows)
    for sid, (seq, need) in wanted.items():
        pool = state.reserved.setdefault(sid, Block())
        short = need - pool.left()
        if short <= 0:
            continue
        with _BLOCKS_LOCK:
            block = _blocks(session.node).setdefault(sid, Block())
            missing = short - block.left()
        if missing > 0:
            await _allocate(session.node, seq, missing)
        with _BLOCKS_LOCK:
            pool.ranges.extend(block.split(short, seq.sequence.increment))


async def settle(session, succeeded: bool = True) -> None:
    """After a statement: hand back to this compute the values reserved and not taken,
    write its setvals, and claim the values it took past its reservation (40001 if
    another allocation moved the sequence meanwhile; not claimed if it failed)."""
    state, session.sequence_statement = _statement(session), None
    node = session.node
    for sid, pool in state.reserved.items():
        with _BLOCKS_LOCK:
            block = _blocks(node).setdefault(sid, Block())
            block.ranges.extendleft(reversed([r for r in pool.ranges if r[1] > 0]))
    for sid, cont in state.continued.items():
        if not (cont.setval or succeeded):
            continue
        await _sequence_txn(node, cont.seq, _claim(cont))
        with _BLOCKS_LOCK:
            block = _blocks(node).setdefault(sid, Block())
            if cont.setval:
                block.ranges.clear()
            block.end = cont.position


def _claim(cont: _Continued):
    def change(cur: int):
        if not cont.setval and cur != cont.base:
            raise SerializationFailure("sequence values were taken concurrently")
        return cont.position, None
    return change


async def sequence_row(txn, seq: TableDef) -> tuple:
    """SELECT * FROM a sequence: (last_value, log_cnt, is_called) as PostgreSQL shows them."""
    current = await txn.get(sequence_key(seq.table_id))
    if current is None:
        return (seq.sequence.start, 0, False)
    return (current - seq.sequence.increment, 0, True)


def _register_functions() -> None:
    def resolver(impl, lo, hi):
        def resolve(c, args, name):
            if not lo <= len(args) <= hi:
                raise no_function(name, args)
            return strict(impl, args, T.INT8, volatile=True)
        return resolve
    register("nextval")(resolver(nextval, 1, 1))
    register("currval")(resolver(currval, 1, 1))
    register("lastval")(resolver(lastval, 0, 0))
    register("setval")(resolver(lambda n, v, c=True: setval(n, int(v), bool(c)), 2, 3))


_register_functions()
