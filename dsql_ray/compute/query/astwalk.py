"""Searching pglast parse trees; stored expressions' SQL text and parse trees."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Iterator

from pglast import ast, parse_sql
from pglast.stream import RawStream


def nodes(root: Any) -> Iterator[ast.Node]:
    """Every node under ``root`` (lists and tuples included), parents before children,
    in source order."""
    if isinstance(root, ast.Node):
        yield root
        for attr in root:
            yield from nodes(getattr(root, attr))
    elif isinstance(root, (tuple, list)):
        for x in root:
            yield from nodes(x)


def pruned(root: Any, prune: Callable[[ast.Node], bool]) -> Iterator[ast.Node]:
    """As :func:`nodes`, not descending below the nodes ``prune`` accepts (which are
    yielded themselves)."""
    if isinstance(root, ast.Node):
        yield root
        if not prune(root):
            for attr in root:
                yield from pruned(getattr(root, attr), prune)
    elif isinstance(root, (tuple, list)):
        for x in root:
            yield from pruned(x, prune)


def column_refs(root: Any) -> Iterator[ast.ColumnRef]:
    """The column references under ``root`` whose last field is a name (not ``*``)."""
    return (n for n in nodes(root)
            if isinstance(n, ast.ColumnRef) and isinstance(n.fields[-1], ast.String))


def any_node(root: Any, match: Callable[[ast.Node], bool]) -> bool:
    """Does any node under ``root`` (lists and tuples included) satisfy ``match``?"""
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            stack.extend(n)
        elif isinstance(n, ast.Node):
            if match(n):
                return True
            stack.extend(getattr(n, attr) for attr in n)
    return False


def expr_sql(node) -> str:
    """An expression (or statement) as SQL text, the way definitions are stored."""
    return RawStream()(node)


@lru_cache(maxsize=4096)
def parse_expr(sql: str):
    """The parse tree of a stored expression's SQL text (shared: copy it to change it)."""
    return parse_sql(f"SELECT {sql}")[0].stmt.targetList[0].val


def substitute(node: Any, replace: Callable[[Any], Any]) -> Any:
    """A copy of the tree with each node for which ``replace`` answers something other
    than None swapped for that answer (not searched further)."""
    new = replace(node)
    if new is not None:
        return new
    if isinstance(node, (list, tuple)):
        return tuple(substitute(x, replace) for x in node)
    if isinstance(node, ast.Node):
        return type(node)(**{a: substitute(getattr(node, a), replace) for a in node})
    return node
