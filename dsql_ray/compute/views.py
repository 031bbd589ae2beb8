"""Views at run time: a view's rows are its stored query run in the same transaction."""
from __future__ import annotations

from .catalog import TableDef
from .parse import parse
from .query import prepare_select
from .system import SystemCatalog


async def view_rows(view: TableDef, source, config) -> list[tuple]:
    """Expand a view: run its stored query against the same transaction."""
    stmt = parse(view.view_sql)[0][0]
    prepared = prepare_select(stmt, SystemCatalog(source.catalog), [])
    result = await prepared.run(source, [], config)
    return [tuple(r) for r in result.rows]
