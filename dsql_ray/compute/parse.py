"""Parse stage: SQL text → pglast statements, cached by text (a parse costs ~70 µs)."""
from __future__ import annotations


from functools import lru_cache

import pglast
from pglast import ast

from ..errors import ParseError


@lru_cache(maxsize=4096)
def parse(sql: str) -> tuple[tuple[ast.Node, str], ...]:
    """Every statement of ``sql`` with its own text, in order."""
    try:
        raw = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise ParseError(str(exc).split(", at index")[0] if str(exc) else "syntax error",
                         sqlstate="42601") from None
    encoded = sql.encode()
    out = []
    for stmt in raw:
        start = stmt.stmt_location or 0
        end = start + stmt.stmt_len if stmt.stmt_len else len(encoded)
        out.append((stmt.stmt, encoded[start:end].decode().strip()))
    return tuple(out)



