"""Query parameters and result values, as psycopg passes and returns them.

``%s`` and ``%(name)s`` placeholders become ``$n`` (``%%`` is a literal ``%``); each
Python value travels as itself with the type psycopg would declare for it (int → bigint
or numeric, float → double precision, Decimal → numeric, bytes → bytea, datetime →
timestamp[tz], …; str and None undeclared, so the server infers them from the
statement, as psycopg's text dumper lets PostgreSQL do). Results come back as the
server's Python values (int, Decimal, str, bytes, datetime, UUID, …); json and jsonb
are decoded, as psycopg does.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from typing import Any, Mapping, Sequence

from ..interval import Interval
from .errors import ProgrammingError

BOOL, BYTEA, INT8, FLOAT8, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID, \
    JSON, JSONB = 16, 17, 20, 701, 1082, 1083, 1114, 1184, 1186, 1700, 2950, 114, 3802

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?(?P<kind>[sbt%])")


def convert_query(sql: str, params: Sequence[Any] | Mapping[str, Any]
                  ) -> tuple[str, list[str | int]]:
    """``sql`` with ``$n`` placeholders, and the parameter order: positions (for a
    sequence) or names (for a mapping), one per ``$n``."""
    order: list[str | int] = []
    names: dict[str, int] = {}
    style: list[str] = []

    def sub(m: re.Match) -> str:
        if m.group("kind") == "%":
            if m.group("name") is not None:
                raise ProgrammingError("%(name)% is not a placeholder")
            return "%"
        name = m.group("name")
        style.append("named" if name is not None else "positional")
        if name is None:
            order.append(len(order))
            return f"${len(order)}"
        if name not in names:
            order.append(name)
            names[name] = len(order)
        return f"${names[name]}"
    out = _PLACEHOLDER.sub(sub, sql)
    if len(set(style)) > 1:
        raise ProgrammingError("mixing %s and %(name)s placeholders is not allowed")
    named = isinstance(params, Mapping)
    if style and (style[0] == "named") != named:
        raise ProgrammingError("%(name)s placeholders need a mapping of parameters"
                               if style[0] == "named" else
                               "%s placeholders need a sequence of parameters")
    if not named and len(order) != len(params):
        raise ProgrammingError(f"the query has {len(order)} placeholders but "
                               f"{len(params)} parameters were passed")
    return out, order


def bind(order: list[str | int], params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
    try:
        return [adapt(params[k]) for k in order]    # type: ignore[index]
    except KeyError as exc:
        raise ProgrammingError(f"query parameter missing: {exc.args[0]}") from None


def adapt(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def type_oid(value: Any) -> int:
    """The parameter type psycopg would declare for a Python value (0: let the server
    infer it)."""
    if value is None or isinstance(value, str):
        return 0
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT8 if -2 ** 63 <= value < 2 ** 63 else NUMERIC
    if isinstance(value, float):
        return FLOAT8
    if isinstance(value, decimal.Decimal):
        return NUMERIC
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTEA
    if isinstance(value, dt.datetime):
        return TIMESTAMPTZ if value.tzinfo is not None else TIMESTAMP
    if isinstance(value, dt.date):
        return DATE
    if isinstance(value, dt.time):
        return TIME
    if isinstance(value, (dt.timedelta, Interval)):
        return INTERVAL
    if isinstance(value, uuid.UUID):
        return UUID
    if isinstance(value, (dict, list)):
        return 0
    raise ProgrammingError(f"cannot adapt type {type(value).__name__!r}")


def type_oids(param_sets: Sequence[Sequence[Any]]) -> list[int]:
    """One declared type per parameter: the first non-NULL value's in any set."""
    if not param_sets:
        return []
    oids = [0] * len(param_sets[0])
    pending = set(range(len(oids)))
    for values in param_sets:
        for i in list(pending):
            if values[i] is not None:
                oids[i] = type_oid(values[i])
                pending.discard(i)
        if not pending:
            break
    return oids


def decoder(type_oids: Sequence[int]):
    """A row converter for these result columns (None when rows need no change)."""
    json_cols = [i for i, oid in enumerate(type_oids) if oid in (JSON, JSONB)]
    if not json_cols:
        return None

    def convert(row: tuple) -> tuple:
        out = list(row)
        for i in json_cols:
            if isinstance(out[i], str):
                out[i] = json.loads(out[i])
        return tuple(out)
    return convert
