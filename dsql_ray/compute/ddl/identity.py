"""Writes into identity columns: GENERATED ALWAYS takes no explicit value (428C9).
"""
from __future__ import annotations

from pglast import ast

from ...errors import GeneratedAlways
from ..catalog import TableDef


def check_insert_identity(stmt: ast.InsertStmt, table: TableDef) -> None:
    """GENERATED ALWAYS columns take no explicit value (PostgreSQL's 428C9)."""
    always = {c.name for c in table.columns if c.identity == "a"}
    if not always or stmt.override:
        return
    cols = [c.name for c in stmt.cols] if stmt.cols else table.column_names
    sel = stmt.selectStmt
    rows = sel.valuesLists if sel is not None and sel.valuesLists else None
    for i, name in enumerate(cols):
        if name not in always:
            continue
        if rows is not None and all(isinstance(r[i], ast.SetToDefault) for r in rows
                                    if i < len(r)):
            continue
        raise GeneratedAlways(f'cannot insert a non-DEFAULT value into column "{name}"',
                              detail=f'Column "{name}" is an identity column defined as GENERATED '
                               "ALWAYS.", hint="Use OVERRIDING SYSTEM VALUE to override.")


def check_update_identity(stmt: ast.UpdateStmt, table: TableDef) -> None:
    always = {c.name for c in table.columns if c.identity == "a"}
    for target in stmt.targetList or ():
        if target.name in always and not isinstance(target.val, ast.SetToDefault):
            raise GeneratedAlways(
                f'column "{target.name}" can only be updated to DEFAULT',
                detail=f'Column "{target.name}" is an identity column defined as '
                 "GENERATED ALWAYS.")
