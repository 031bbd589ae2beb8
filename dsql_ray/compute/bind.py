"""Bind: the catalog as one statement's planner sees it.

Names resolve through the session's search path; every relation resolved is noted (its
schema marker joins the commit's conflict check, so DDL that changed it fails a writer
with OC001), and the statement's target relation is checked to be a table.
"""
from __future__ import annotations

from typing import Any

from pglast import ast

from ..errors import FeatureNotSupported


class StatementCatalog:
    """The catalog as one statement's planner sees it: the session's search path, and a
    note of every relation resolved (their schema markers join the commit check)."""

    def __init__(self, catalog, search_path: tuple[str, ...], node: Any):
        self._catalog = catalog
        self.search_path = search_path
        self.used: dict[int, Any] = {}
        self.target = None
        self._stmt = node
        self._target_rv = getattr(node, "relation", None) \
            if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)) else None

    def resolve(self, rangevar):
        t = self._catalog.resolve(rangevar, self.search_path)
        if t.table_id > 0:
            self.used[t.table_id] = t
        if rangevar is self._target_rv:
            if t.kind != "r":
                verb = {ast.InsertStmt: "insert into", ast.UpdateStmt: "update",
                        ast.DeleteStmt: "delete from"}
                what = {"v": "view", "S": "sequence"}[t.kind]
                raise FeatureNotSupported(f'cannot {verb[type(self._stmt)]} {what} "{t.name}"')
            self.target = t
        return t

    def __getattr__(self, name):
        if name in ("domains", "functions"):
            self.__dict__["used_userdefs"] = True    # the plan depends on them (userdefs.py)
        return getattr(self._catalog, name)
