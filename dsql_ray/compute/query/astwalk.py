"""Searching pglast parse trees."""
from __future__ import annotations

from typing import Any, Callable

from pglast import ast


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
