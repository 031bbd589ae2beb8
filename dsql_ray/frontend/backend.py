"""What the front end asks of the backend that serves a session, and what it gets back.

The front end (``session.py``) calls a :class:`SessionBackend`; compute implements it.
The backend answers each statement with a :class:`QueryResult`, or with a COPY handler
(:class:`CopyInHandler`, :class:`CopyOutHandler`) that the front end drives with the
client's CopyData: so the front end never imports compute.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Protocol, Sequence


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int          # PostgreSQL type OID (23 int4, 25 text, …); see frontend.types
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


class CopyInHandler(QueryResult):
    """A COPY FROM STDIN waiting for its data, as a statement's result. The front end
    answers CopyInResponse (``width`` columns in ``format``: 0 text, 1 binary), hands
    each CopyData to :meth:`data`, and ends with :meth:`done` (CopyDone: the ``COPY n``
    result) or :meth:`fail` (CopyFail); :meth:`abandon` when the client stops sending
    (idempotent). ``rest``: the statements that followed the COPY in a simple query."""
    width: int
    format: int
    rest: str

    async def data(self, chunk: bytes) -> None:
        raise NotImplementedError

    async def done(self) -> QueryResult:
        raise NotImplementedError

    async def fail(self, message: str) -> None:
        raise NotImplementedError

    def abandon(self) -> None:
        raise NotImplementedError


class CopyOutHandler(QueryResult):
    """A COPY TO STDOUT, as a statement's result: ``columns`` and ``rows``, which the
    front end encodes in ``format`` and sends as CopyOutResponse, the CopyData payloads
    of :meth:`chunks`, CopyDone and the ``COPY n`` tag."""
    format: int

    def chunks(self, rows: Iterable[list[bytes | None]]) -> Iterator[bytes]:
        raise NotImplementedError


class SessionBackend(Protocol):
    """The compute side of one client session, as the wire protocol sees it.

    Every method raises :class:`dsql_ray.errors.DsqlError` for user-visible errors.
    """

    #: 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block
    txn_status: str
    #: NOTICE messages not sent yet: the wire layer sends them (before the statement's
    #: results or error) and empties the list
    notices: list[str]

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

    def abort_block(self) -> None:
        """An extended-protocol message (Parse, Bind, Describe, Execute) failed: as in
        PostgreSQL, a transaction block it ran in is now failed (25P02 until its end)."""

    async def close(self) -> None:
        """The client went away: roll back any open transaction."""
