"""COPY TO STDOUT: the rows of a SELECT written as COPY's text or CSV lines.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from ...frontend.backend import CopyOutHandler
from ..result import QueryResult
from .options import CopyOptions
from .records import BINARY_SIGNATURE, I16, I32


_TEXT_OUT = {0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t",
             0x0B: b"\\v", 0x5C: b"\\\\"}


class CopyOut(CopyOutHandler):
    """A COPY TO STDOUT, as a statement's result: the rows of the table or query
    (``columns``, ``rows``), which the wire layer sends as CopyOutResponse, the
    CopyData of :meth:`chunks`, CopyDone and ``COPY n``. The values come already in
    their output form (bytes, None for NULL): text, or binary in the binary format, as
    PostgreSQL's output and send functions write them."""

    def __init__(self, result: QueryResult, options: CopyOptions):
        super().__init__(f"COPY {len(result.rows)}", result.columns, result.rows)
        self.options = options
        names = [c.name for c in result.columns or ()]
        quote_all = "*" in options.force_quote
        self._forced = {i for i, n in enumerate(names)
                        if quote_all or n in options.force_quote}
        self._names = names
        delim = options.delimiter
        if options.csv:
            specials = delim + options.quote + b"\r\n"
            self._needs_quote = re.compile(b"[" + re.escape(specials) + b"]")
            self._quote_escape = re.compile(
                b"([" + re.escape(options.quote + options.escape) + b"])")
        else:
            table = dict(_TEXT_OUT)
            table.setdefault(delim[0], b"\\" + delim)     # a tab stays \t
            self._text_escape = re.compile(b"[" + re.escape(bytes(table)) + b"]")
            self._text_table = {bytes([k]): v for k, v in table.items()}

    @property
    def format(self) -> int:
        """0 text (text and CSV), 1 binary: of the output and of every column."""
        return 1 if self.options.binary else 0

    def chunks(self, rows: Iterable[list[bytes | None]]) -> Iterator[bytes]:
        """The CopyData payloads, cut as PostgreSQL cuts them: one per line (the text
        formats' header line first); in binary the file header travels with the first
        tuple and the trailer comes last."""
        if self.options.binary:
            pending = BINARY_SIGNATURE + I32.pack(0) + I32.pack(0)  # flags, extension
            for fields in rows:
                yield pending + self.line(fields)
                pending = b""
            yield pending + I16.pack(-1)
            return
        if self.options.header:
            yield self.line([n.encode() for n in self._names], header=True)
        for fields in rows:
            yield self.line(fields)

    def line(self, fields: list[bytes | None], header: bool = False) -> bytes:
        opts = self.options
        if opts.binary:
            return I16.pack(len(fields)) + b"".join(
                I32.pack(-1) if v is None else I32.pack(len(v)) + v for v in fields)
        out = []
        for i, value in enumerate(fields):
            if value is None:
                out.append(opts.null)
            elif opts.csv:
                out.append(self._csv_value(value, i in self._forced and not header,
                                           len(fields) == 1))
            else:
                out.append(self._text_escape.sub(lambda m: self._text_table[m.group()],
                                                 value))
        return opts.delimiter.join(out) + b"\n"

    def _csv_value(self, value: bytes, force: bool, single: bool) -> bytes:
        """PostgreSQL's CopyAttributeOutCSV: quote when forced, when the value reads as
        the NULL string, holds a delimiter, quote or newline, or (alone on a line)
        is the end marker."""
        opts = self.options
        if force or value == opts.null or self._needs_quote.search(value) or \
                (single and value == b"\\."):
            escape = opts.escape
            inner = self._quote_escape.sub(lambda m: escape + m.group(), value)
            return opts.quote + inner + opts.quote
        return value
