"""Sequences at run time: nextval, currval, setval, lastval.

A sequence is a catalog relation (kind ``S``) whose one row holds the next unallocated
value. A compute takes values in blocks (the sequence's CACHE) with a small transaction
of its own on that row, retried on conflicts (bounded), and hands them out from memory.
When a statement needs values it does not have (or a setval), the function raises
:class:`SequenceNeeded`; the session runs that small transaction and runs the statement
again, reusing in order the values the stopped attempt took, so a rerun leaves no gap.
"""
from __future__ import annotations

import asyncio
import random
from typing import Any

from pglast import ast

from ..errors import (DsqlError, FeatureNotSupported, InternalError, NumericOutOfRange,
                      ObjectNotInPrerequisiteState, SerializationFailure, UndefinedTable,
                      WrongObjectType)
from . import types as T
from .catalog import TableDef, UnknownTable, sequence_key, table_key
from .context import CURRENT_SESSION
from .query.functions import no_function, register, strict
from .system.tables import table_oid
from .txn import Transaction

SEQUENCE_ALLOCATE_ATTEMPTS = 20     # conflicting block allocations before giving up


class SequenceNeeded(Exception):
    """Raised by nextval/setval when values (or a setval) must first be committed; the
    session does the small transaction and runs the statement again."""

    def __init__(self, seq: TableDef | None, count: int = 0, setval: tuple | None = None):
        super().__init__(seq.name if seq is not None else "catalog")
        self.seq, self.count, self.setval = seq, count, setval   # no seq: reload the catalog


def _blocks(node) -> dict[int, list[int]]:
    """Values allocated to this compute: sequence id → [next value, values left]."""
    catalog = node.catalog
    if not hasattr(catalog, "sequence_blocks"):
        catalog.sequence_blocks = {}
    return catalog.sequence_blocks


def _sequence(session, name) -> TableDef:
    if isinstance(name, int):            # nextval('s'::regclass): the sequence's oid
        for t in session.node.catalog.tables.values():
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
        if "catalog" not in session.sequence_effects:     # made on another compute?
            raise SequenceNeeded(None) from None
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
    """The next value: first those this statement took in an attempt that had to stop for
    more values (reused in order, so a rerun leaves no gap), then this compute's block."""
    session = _active_session()
    seq = _sequence(session, name)
    sid = seq.table_id
    taken = session.sequence_taken.setdefault(sid, [])
    reuse = session.sequence_reuse.get(sid)
    if reuse:
        value = reuse.pop(0)
    else:
        block = _blocks(session.node).get(sid)
        if not block or block[1] <= 0:
            raise SequenceNeeded(seq, len(taken) + 1)
        value = block[0]
        block[0] += seq.sequence.increment
        block[1] -= 1
    taken.append(value)
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
    seq = _sequence(session, name)
    if seq.table_id not in session.currvals:
        raise ObjectNotInPrerequisiteState(
            f'currval of sequence "{seq.name}" is not yet defined in this session')
    return session.currvals[seq.table_id]


def setval(name: str, value: int, is_called: bool = True) -> int:
    session = _active_session()
    seq = _sequence(session, name)
    s = seq.sequence
    if not s.min_value <= value <= s.max_value:
        raise NumericOutOfRange(
            f'setval: value {value} is out of bounds for sequence "{seq.name}" '
            f"({s.min_value}..{s.max_value})")
    done = session.sequence_effects
    if (seq.table_id, value, is_called) not in done:
        raise SequenceNeeded(seq, setval=(value, is_called))
    return value


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


async def satisfy(session, need: SequenceNeeded) -> None:
    """Allocate a block of values for nextval, or apply a setval, then the statement reruns."""
    node = session.node
    if need.seq is None:
        await node.catalog.refresh(node.clock.now())
        session.sequence_effects.add("catalog")
        return
    seq, s = need.seq, need.seq.sequence
    if need.setval is not None:
        value, is_called = need.setval
        await _sequence_txn(node, seq, lambda cur: (value + s.increment if is_called else value,
                                                   None))
        _blocks(node).pop(seq.table_id, None)
        session.sequence_effects.add((seq.table_id, value, is_called))
        return
    want = max(s.cache, need.count)

    def take(cur: int):
        last = cur + (want - 1) * s.increment
        if (s.increment > 0 and cur > s.max_value) or (s.increment < 0 and cur < s.min_value):
            bound = s.max_value if s.increment > 0 else s.min_value
            raise DsqlError(f'nextval: reached {"maximum" if s.increment > 0 else "minimum"} '
                            f'value of sequence "{seq.name}" ({bound})', sqlstate="2200H")
        if s.increment > 0:
            last = min(last, s.max_value)
        else:
            last = max(last, s.min_value)
        count = (last - cur) // s.increment + 1
        return cur + count * s.increment, (cur, count)
    start, count = await _sequence_txn(node, seq, take)
    _blocks(node)[seq.table_id] = [start, count]


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
