"""COPY FROM STDIN: each field through its column type's input (or binary receive)
function, the rows inserted in batches through INSERT's plan, so the same checks apply.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ... import limits
from ...errors import (DsqlError, DuplicateColumn, InvalidColumnReference, QueryCanceled,
                       UndefinedColumn)
from ...frontend.backend import CopyInHandler
from ...frontend.pgwire import BINARY_FORMAT, decode_value
from ..catalog import TableDef
from ..plan.rows import column_default
from ..query.rowexpr import constant
from ..query.sqltypes import assign, cast
from ..result import QueryResult
from .fields import Field, csv_fields, text_fields
from .options import CopyOptions, bad_format, shown, with_context
from .records import BinaryTuples, Records


FOREIGN_KEY_VIOLATION = "23503"
BATCH_ROWS = 250              # rows inserted (one duplicate-key read) at a time


BATCH_BYTES = 1 << 20         # … or fewer when they are large


class CopyLoader:
    """Records → rows of the table → INSERT batches in the transaction."""

    def __init__(self, table: TableDef, options: CopyOptions, attlist: Any,
                 insert: Callable[[list[list]], Awaitable[None]]):
        """``insert(rows)`` inserts rows (one expression per column) as INSERT does."""
        self.table, self.options, self._insert = table, options, insert
        names = table.column_names
        if attlist:
            positions = []
            for item in attlist:
                name = item.sval
                if name not in names:
                    raise UndefinedColumn(f'column "{name}" of relation "{table.name}" does not '
                                          "exist")
                if names.index(name) in positions:
                    raise DuplicateColumn(f'column "{name}" specified more than once')
                positions.append(names.index(name))
        else:
            positions = list(range(len(names)))
        self.positions = positions
        self.width = len(positions)
        listed = {names[p] for p in positions}
        for what, cols in (("FORCE_NOT_NULL", options.force_not_null),
                           ("FORCE_NULL", options.force_null)):
            for name in cols:
                if name == "*":
                    continue
                if name not in names:
                    raise UndefinedColumn(f'column "{name}" of relation "{table.name}" does not '
                                          "exist")
                if name not in listed:
                    raise InvalidColumnReference(f'{what} column "{name}" not referenced by COPY')
        self._not_null = {p for p in positions
                          if "*" in options.force_not_null
                          or names[p] in options.force_not_null}
        self._force_null = {p for p in positions
                            if "*" in options.force_null or names[p] in options.force_null}
        self._defaults = [column_default(c) for c in table.columns]   # as INSERT has them
        self._records = BinaryTuples(self.width) if options.binary else Records(options)
        self._split = csv_fields if options.csv else text_fields
        self._header = options.header
        self._line = 0
        self._batch: list[tuple[int, list]] = []
        self._batch_bytes = 0
        self.count = 0

    async def feed(self, data: bytes) -> None:
        take = self._tuple if self.options.binary else self._record
        for record in self._records.feed(data):
            await take(record)

    async def finish(self) -> int:
        try:
            for record in self._records.finish():
                await self._record(record)
        except DsqlError as exc:
            raise with_context(exc, f"COPY {self.table.name}, line {self._line + 1}") \
                from None
        await self._flush()
        return self.count

    async def _record(self, record: bytes) -> None:
        self._line += 1 + (record.count(b"\n") if self.options.csv else 0)
        try:
            fields = self._split(record, self.options)
        except DsqlError as exc:
            raise with_context(exc, self._where(record)) from None
        if self._header:
            self._check_header(fields, record)
            self._header = False
            return
        if len(fields) != self.width:
            if len(fields) < self.width:
                name = self.table.columns[self.positions[len(fields)]].name
                exc = bad_format(f'missing data for column "{name}"')
            else:
                exc = bad_format("extra data after last expected column")
            raise with_context(exc, self._where(record))
        await self._add(self._row(fields, record), len(record))

    async def _tuple(self, values: list[bytes | None]) -> None:
        """A tuple of the binary format: each value through the type's binary input."""
        self._line += 1
        where = f"COPY {self.table.name}, line {self._line}"
        if len(values) != self.width:
            raise with_context(bad_format(f"row field count is {len(values)}, expected "
                                           f"{self.width}"), where)
        exprs = list(self._defaults)
        for pos, raw in zip(self.positions, values):
            col = self.table.columns[pos]
            oid, value = col.type_oid, None
            if raw is not None:
                try:
                    value = assign(cast(decode_value(raw, oid, BINARY_FORMAT), oid), oid,
                                   col.type_modifier)
                except DsqlError as exc:
                    if exc.sqlstate == "22P03":
                        exc = DsqlError("incorrect binary data format", sqlstate="22P03")
                    raise with_context(exc, f"{where}, column {col.name}") from None
            exprs[pos] = constant(value, oid)
        await self._add(exprs, sum(len(v) for v in values if v is not None))

    async def _add(self, row: list, size: int) -> None:
        self._batch.append((self._line, row))
        self._batch_bytes += size
        if len(self._batch) >= BATCH_ROWS or self._batch_bytes >= BATCH_BYTES:
            await self._flush()

    def _row(self, fields: list[Field], record: bytes) -> list:
        """The row as INSERT would see it: one expression per column, the defaults for
        the columns not listed (or given as the DEFAULT string)."""
        exprs = list(self._defaults)
        columns, default = self.table.columns, self.options.default
        for pos, field in zip(self.positions, fields):
            value = field.value
            if not field.quoted and default is not None and field.raw == default:
                continue
            if value is None and pos in self._not_null:
                value = field.raw.decode("utf-8", "replace")
            elif field.quoted and pos in self._force_null and \
                    value.encode() == self.options.null:
                value = None
            col = columns[pos]
            if value is not None:
                try:
                    value = assign(cast(value, col.type_oid), col.type_oid,
                                   col.type_modifier)
                except DsqlError as exc:
                    raise with_context(exc, f'COPY {self.table.name}, line {self._line}, '
                                            f'column {col.name}: "{shown(value)}"') from None
            exprs[pos] = constant(value, col.type_oid)
        return exprs

    def _check_header(self, fields: list[Field], record: bytes) -> None:
        if self._header != "match":
            return
        names = [self.table.columns[p].name for p in self.positions]
        if len(fields) != len(names):
            raise with_context(bad_format(f"wrong number of fields in header line: got "
                                           f"{len(fields)}, expected {len(names)}"),
                               self._where(record))
        for i, (field, name) in enumerate(zip(fields, names), 1):
            if field.value is None:
                exc = bad_format(f"column name mismatch in header line field {i}: got "
                                  f'null value ("{field.raw.decode()}"), expected "{name}"')
            elif field.value != name:
                exc = bad_format(f"column name mismatch in header line field {i}: got "
                                  f'"{field.value}", expected "{name}"')
            else:
                continue
            raise with_context(exc, self._where(record))

    def _where(self, record: bytes) -> str:
        return f'COPY {self.table.name}, line {self._line}: "{shown(record)}"'

    async def _flush(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        try:
            await self._insert([row for _, row in batch])
        except DsqlError as exc:
            if exc.sqlstate == FOREIGN_KEY_VIOLATION:
                # checked once the batch is written (compute/fkeys.py), as PostgreSQL
                # checks it at the end of the COPY: no line to name, nothing to retry
                raise
            if exc.sqlstate == limits.rows_per_txn_max.sqlstate or len(batch) == 1:
                raise with_context(exc, f"COPY {self.table.name}, line {batch[-1][0]}") \
                    from None
            # which line: INSERT checks the whole batch before writing any of it, so
            # insert row by row up to the one that fails (the transaction fails anyway)
            for line, row in batch:
                try:
                    await self._insert([row])
                except DsqlError as one:
                    raise with_context(one, f"COPY {self.table.name}, line {line}") from None
            raise with_context(exc, f"COPY {self.table.name}, line {batch[-1][0]}") \
                from None
        self.count += len(batch)


class CopyIn(CopyInHandler):
    """A COPY FROM STDIN waiting for its data, as a statement's result: the wire layer
    answers CopyInResponse (``width`` columns in ``format``), hands each CopyData to
    :meth:`data`, and ends with :meth:`done` (CopyDone: the ``COPY n`` result) or
    :meth:`fail` (CopyFail: 57014). The first error ends the COPY (and fails the
    transaction); :meth:`abandon` ends it when the client stops sending (idempotent).
    ``rest`` holds the statements that followed the COPY in a simple query."""

    def __init__(self, loader: CopyLoader, commit: Callable[[], Awaitable[None]],
                 abandon: Callable[[], None]):
        super().__init__("COPY")
        self.width = loader.width
        self.format = 1 if loader.options.binary else 0     # of the data and each column
        self.rest = ""
        self._loader = loader
        self._commit, self._abandon = commit, abandon
        self._open = True

    async def data(self, chunk: bytes) -> None:
        await self._guard(self._loader.feed(chunk))

    async def done(self) -> QueryResult:
        count = await self._guard(self._loader.finish())
        self._open = False
        await self._commit()
        return QueryResult(f"COPY {count}")

    async def fail(self, message: str) -> None:
        self.abandon()
        raise QueryCanceled(f"COPY from stdin failed: {message}")

    def abandon(self) -> None:
        if self._open:
            self._open = False
            self._abandon()

    async def _guard(self, coro: Awaitable[Any]) -> Any:
        if not self._open:
            coro.close()
            raise DsqlError("COPY from stdin is no longer in progress", sqlstate="08P01")
        try:
            return await coro
        except BaseException:
            self.abandon()
            raise
