"""Parse stage: SQL text → pglast statements, cached by text (a parse costs ~70 µs)."""
from __future__ import annotations


import re
from functools import lru_cache

import pglast
from pglast import ast

from ..errors import ParseError


#: DSQL's ``CREATE [UNIQUE] INDEX ASYNC``: PostgreSQL's parser knows it as CONCURRENTLY
_INDEX_ASYNC = re.compile(r"(\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+)ASYNC\b", re.IGNORECASE)
#: DSQL's ``ALTER TABLE ASYNC t VALIDATE CONSTRAINT c``: parsed without ASYNC (the
#: validation always runs as a background job, compute/jobs.py)
_ALTER_ASYNC = re.compile(r"(\bALTER\s+TABLE\s+)ASYNC\s+(?=\S+\s+VALIDATE\b)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def parse(sql: str) -> tuple[tuple[ast.Node, str], ...]:
    """Every statement of ``sql`` with its own text, in order."""
    if "async" in sql.lower():
        sql = _INDEX_ASYNC.sub(r"\1CONCURRENTLY", sql)
        sql = _ALTER_ASYNC.sub(r"\1", sql)
    try:
        raw = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise ParseError(str(exc).split(", at index")[0] if str(exc) else "syntax error") from None
    encoded = sql.encode()
    out = []
    for stmt in raw:
        start = stmt.stmt_location or 0
        end = start + stmt.stmt_len if stmt.stmt_len else len(encoded)
        out.append((stmt.stmt, encoded[start:end].decode().strip()))
    return tuple(out)


#: literal node → the attribute holding its value (a Float keeps its text)
_LITERALS = {ast.String: "sval", ast.Integer: "ival", ast.Float: "fval"}


def option_value(opt: ast.DefElem, kinds: tuple = (ast.String, ast.Integer, ast.Float)):
    """A statement option's literal argument, if it is one of ``kinds``; else None."""
    arg = opt.arg
    return getattr(arg, _LITERALS[type(arg)]) if isinstance(arg, kinds) else None

