"""What the compute role hands back to the wire layer for one statement."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int          # PostgreSQL type OID (23 int4, 25 text, …); see compute.types
    type_size: int = -1
    type_modifier: int = -1


@dataclass
class QueryResult:
    """Result of one statement.

    ``columns`` is None for statements that return no rows (INSERT without RETURNING,
    DDL, BEGIN …). ``rows`` holds Python values (None for NULL) in column order.
    ``tag`` is the CommandComplete tag: ``SELECT 3``, ``INSERT 0 1``, ``CREATE TABLE``.
    """
    tag: str
    columns: list[Column] | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class PreparedInfo:
    """What Describe(statement) needs: parameter types and the row shape."""
    param_type_oids: list[int]
    columns: list[Column] | None


class SessionBackend(Protocol):
    """The compute side of one client session, as the wire protocol sees it.

    Every method raises :class:`dsql_ray.errors.DsqlError` for user-visible errors.
    """

    #: 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block
    txn_status: str

    def parameter_status(self) -> dict[str, str]:
        """ParameterStatus values to send after authentication."""

    async def execute_simple(self, sql: str) -> list[QueryResult]:
        """Run every statement of a simple-query string, in order.

        Returns one result per statement. If statement k fails, raises a DsqlError
        whose ``partial_results`` attribute holds the results of statements 0..k-1.
        An empty string returns an empty list (the wire sends EmptyQueryResponse).
        """

    async def prepare(self, sql: str, param_type_oids: Sequence[int]) -> PreparedInfo:
        """Parse and plan one statement with $n parameters (0 = type unspecified)."""

    async def execute_prepared(self, sql: str, param_type_oids: Sequence[int],
                               params: Sequence[Any], max_rows: int = 0) -> QueryResult:
        """Execute one statement with already-decoded parameter values."""

    async def close(self) -> None:
        """The client went away: roll back any open transaction."""
