"""Making psycopg speak either of PostgreSQL's query protocols, for tests that run a suite
through both: psycopg sends a statement without parameters as a simple Query, while
libpq's PQsendQueryParams, JDBC, pgx, Npgsql and asyncpg send every statement through
the extended protocol (Parse, Bind, Describe portal, Execute, Sync)."""
from __future__ import annotations

import psycopg

PROTOCOLS = ("simple", "extended")


class ExtendedCursor(psycopg.Cursor):
    """Sends every statement as PQsendQueryParams does, parameters or not."""

    def _execute_send(self, query, *, force_extended: bool = False, binary=None) -> None:
        super()._execute_send(query, force_extended=True, binary=binary)


def cursor_factory(protocol: str) -> type[psycopg.Cursor]:
    """The cursor class of a connection that speaks ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    return ExtendedCursor if protocol == "extended" else psycopg.Cursor
