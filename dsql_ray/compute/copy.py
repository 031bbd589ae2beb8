"""COPY between the client and a table: the statement's options, the text, CSV and
binary formats, and the rows they carry, inserted through the normal INSERT path.

Aurora DSQL accepts COPY only from and to the client (``FROM STDIN``, ``TO STDOUT``;
psql's ``\\copy``). The wire layer feeds the client's CopyData to a :class:`CopyIn` in
whatever pieces the client cut it; :class:`Records` splits that stream into records
(lines) by the format's rules, :func:`text_fields` and :func:`csv_fields` split a record
into fields as PostgreSQL's COPY does (text: backslash escapes and ``\\N``; CSV:
quoting, NULL as an unquoted empty string), :class:`BinaryTuples` reads the binary
format, and :class:`CopyLoader` converts each field with the column type's input (or
binary receive) function and inserts the rows in batches through the planner's INSERT,
so the same checks apply (23505, 23502, defaults for omitted columns, the 3,000-row
transaction limit). Errors carry PostgreSQL's CONTEXT (``COPY t, line 3, column id:
"x"``). COPY TO STDOUT reads like a SELECT and :class:`CopyOut` writes the lines.

Python's ``csv`` module is not used: before 3.12 it cannot tell a quoted empty string
from an unquoted one (which COPY reads as NULL), nor a quoted NULL string from the NULL
marker; the CSV reader here follows PostgreSQL's CopyReadAttributesCSV.

Formats: https://www.postgresql.org/docs/current/sql-copy.html
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Iterator

from pglast import ast

from .. import limits
from ..errors import (CharacterNotInRepertoire, DsqlError, DuplicateColumn, FeatureNotSupported,
                      InvalidColumnReference, InvalidParameterValue, ParseError, QueryCanceled,
                      UndefinedColumn)
from ..frontend.backend import CopyInHandler, CopyOutHandler
from ..frontend.pgwire import BINARY_FORMAT, decode_value
from .catalog import TableDef
from .parse import option_value
from .query.rowexpr import constant
from .plan.rows import column_default
from .result import QueryResult
from .query.sqltypes import assign, cast

BATCH_ROWS = 250              # rows inserted (one duplicate-key read) at a time
BATCH_BYTES = 1 << 20         # … or fewer when they are large
MAX_DISPLAY = 100             # bytes of a line or value shown in an error's CONTEXT


def _bad_format(message: str, **kw) -> DsqlError:
    return DsqlError(message, sqlstate="22P04", **kw)


def _invalid_option(message: str) -> DsqlError:
    return InvalidParameterValue(message)


# ---------------------------------------------------------------------------------------
# Options

@dataclass(frozen=True)
class CopyOptions:
    csv: bool = False
    binary: bool = False
    delimiter: bytes = b"\t"
    null: bytes = b"\\N"
    header: bool | str = False            # True, False or "match"
    quote: bytes = b'"'
    escape: bytes = b'"'
    default: bytes | None = None          # PostgreSQL 16: a field that means DEFAULT
    force_not_null: tuple[str, ...] = ()
    force_null: tuple[str, ...] = ()
    force_quote: tuple[str, ...] = ()     # COPY TO, CSV


_TRUE_WORDS = ("true", "on", "yes", "1")
_FALSE_WORDS = ("false", "off", "no", "0")


def _boolean(opt: ast.DefElem, allow_match: bool = False) -> bool | str:
    """PostgreSQL's defGetBoolean (and defGetCopyHeaderChoice for HEADER)."""
    arg = opt.arg
    if arg is None:
        return True
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer) and arg.ival in (0, 1):
        return bool(arg.ival)
    if isinstance(arg, ast.String):
        word = arg.sval.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        if allow_match and word == "match":
            return "match"
    suffix = ' or "match"' if allow_match else ""
    raise _invalid_option(f"{opt.defname} requires a Boolean value{suffix}")


def _string(opt: ast.DefElem) -> str:
    value = option_value(opt, (ast.String, ast.Integer))
    if value is None:
        raise ParseError(f"{opt.defname} requires a string value")
    return str(value)


def _names(opt: ast.DefElem) -> tuple[str, ...]:
    if isinstance(opt.arg, ast.A_Star):
        return ("*",)
    if isinstance(opt.arg, (list, tuple)):
        return tuple(s.sval for s in opt.arg)
    raise ParseError(f"argument to option \"{opt.defname}\" must be a list of column names")


def _one_byte(value: str, what: str) -> bytes:
    raw = value.encode()
    if len(raw) != 1:
        raise FeatureNotSupported(f"COPY {what} must be a single one-byte character")
    return raw


_COPY_OPTIONS = ("format", "delimiter", "null", "header", "quote", "escape", "default",
                 "force_not_null", "force_null", "encoding", "freeze", "force_quote")


def copy_options(options: Any, is_from: bool = True) -> CopyOptions:
    """Validate a CopyStmt's options as PostgreSQL 16's ProcessCopyOptions does."""
    seen: dict[str, ast.DefElem] = {}
    for opt in options or ():
        name = opt.defname
        if name not in _COPY_OPTIONS:
            raise ParseError(f'option "{name}" not recognized')
        if name in seen:
            raise ParseError("conflicting or redundant options")
        seen[name] = opt
    fmt = _string(seen["format"]).lower() if "format" in seen else "text"
    if fmt not in ("text", "csv", "binary"):
        raise _invalid_option(f'COPY format "{fmt}" not recognized')
    csv = fmt == "csv"
    _check_mode_options(seen, fmt, is_from)
    delimiter = _one_byte(_string(seen["delimiter"]), "delimiter") if "delimiter" in seen \
        else (b"," if csv else b"\t")
    null = _string(seen["null"]).encode() if "null" in seen else (b"" if csv else b"\\N")
    quote = _one_byte(_string(seen["quote"]), "quote") if "quote" in seen else b'"'
    escape = _one_byte(_string(seen["escape"]), "escape") if "escape" in seen else quote
    default = _string(seen["default"]).encode() if "default" in seen else None
    _check_separators(csv, delimiter, null, quote, default)
    header = _boolean(seen["header"], allow_match=True) if "header" in seen else False
    if header == "match" and not is_from:
        raise FeatureNotSupported('cannot use "match" with HEADER in COPY TO')
    return CopyOptions(
        csv=csv, binary=fmt == "binary", delimiter=delimiter, null=null, header=header,
        quote=quote, escape=escape, default=default,
        force_not_null=_names(seen["force_not_null"]) if "force_not_null" in seen else (),
        force_null=_names(seen["force_null"]) if "force_null" in seen else (),
        force_quote=_names(seen["force_quote"]) if "force_quote" in seen else ())


def _check_mode_options(seen: dict, fmt: str, is_from: bool) -> None:
    """Options the format or the direction does not allow; encoding and freeze."""
    csv = fmt == "csv"
    if fmt == "binary":
        for name in ("delimiter", "null", "default", "header"):
            if name in seen:
                raise ParseError(f"cannot specify {name.upper()} in BINARY mode")
    if "encoding" in seen:
        encoding = _string(seen["encoding"])
        if encoding.upper().replace("-", "").replace("_", "") not in ("UTF8", "UNICODE"):
            raise FeatureNotSupported(f'COPY encoding "{encoding}" is not supported',
                                      hint="Aurora DSQL uses UTF8.")
    if "freeze" in seen:
        _boolean(seen["freeze"])
    for name in ("quote", "escape", "force_not_null", "force_null", "force_quote"):
        if name in seen and not csv:
            raise FeatureNotSupported(f"COPY {name.replace('_', ' ')} available only in "
                                      "CSV mode")
    if "force_quote" in seen and is_from:
        raise FeatureNotSupported("COPY force quote only available using COPY TO")
    for name in ("force_not_null", "force_null", "default"):
        if name in seen and not is_from:
            what = name.replace("_", " ") if name != "default" else "DEFAULT"
            raise FeatureNotSupported(f"COPY {what} only available using COPY FROM")


def _check_separators(csv: bool, delimiter: bytes, null: bytes, quote: bytes,
                      default: bytes | None) -> None:
    """The delimiter, NULL, quote and DEFAULT strings must not clash."""
    if delimiter in b"\r\n":
        raise _invalid_option("COPY delimiter cannot be newline or carriage return")
    if b"\r" in null or b"\n" in null:
        raise _invalid_option("COPY null representation cannot use newline or carriage "
                              "return")
    if default is not None:
        if b"\r" in default or b"\n" in default:
            raise _invalid_option("COPY default representation cannot use newline or "
                                  "carriage return")
        if default == null:
            raise _invalid_option("NULL specification and DEFAULT specification cannot be "
                                  "the same")
    if not csv and delimiter in b"\\.abcdefghijklmnopqrstuvwxyz0123456789":
        raise _invalid_option(f'COPY delimiter cannot be "{delimiter.decode()}"')
    if csv and delimiter == quote:
        raise _invalid_option("COPY delimiter and quote must be different")
    if delimiter in null:
        raise _invalid_option("COPY delimiter must not appear in the NULL specification")
    if csv and quote in null:
        raise _invalid_option("CSV quote character must not appear in the NULL "
                              "specification")


def check_copy_statement(node: ast.CopyStmt) -> None:
    """COPY goes to and from the client only (``FROM STDIN``, ``TO STDOUT``; psql's
    ``\\copy``): refuse files and programs (0A000), as Aurora DSQL does."""
    way = "FROM" if node.is_from else "TO"
    hint = f"Use COPY ... {way} {'STDIN' if node.is_from else 'STDOUT'} (psql: \\copy)."
    if node.is_program:
        raise FeatureNotSupported(f"COPY {way} PROGRAM is not supported", hint=hint)
    if node.filename is not None:
        raise FeatureNotSupported(f"COPY {way} a file is not supported", hint=hint)
    if node.whereClause is not None:
        raise FeatureNotSupported("COPY FROM ... WHERE is not supported")


# ---------------------------------------------------------------------------------------
# Records: the byte stream cut into lines, whatever the CopyData boundaries

class Records:
    """Splits the COPY data into records. Text format: a newline ends a record unless a
    backslash escapes it; CSV: unless it is inside quotes. The newline style (``\\n`` or
    ``\\r\\n``) is taken from the first record, as PostgreSQL does. A record alone on its
    line reading ``\\.`` ends the data. A record may not grow past ``max_record`` bytes
    (the transaction's size limit: such a row could never commit)."""

    def __init__(self, options: CopyOptions,
                 max_record: int = int(limits.bytes_per_txn_max.value)):
        self._csv = options.csv
        self._buf = bytearray()
        self._scan = 0                # where the search for the record's end resumes
        self._in_quote = False        # CSV state at _scan
        self._escaped = False
        self._max = max_record
        self.crlf: bool | None = None
        self.ended = False            # saw the end marker: the rest is ignored
        quote, escape = options.quote, options.escape
        specials = b"\n" + quote + (escape if escape != quote else b"")
        self._quote, self._escape = quote[0], escape[0]
        self._special = re.compile(b"[" + re.escape(specials) + b"]")

    def feed(self, data: bytes) -> list[bytes]:
        if self.ended:
            return []
        buf = self._buf
        buf += data
        out: list[bytes] = []
        start = 0                     # of the record being looked for
        while not self.ended:
            end = self._find_end(start)
            if end is None:
                break
            self._take(bytes(buf[start:end]), out)
            start = self._scan = end + 1
        if self.ended:
            buf.clear()
            return out
        del buf[:start]               # once per feed: a large CopyData stays linear
        self._scan -= start
        if len(buf) > self._max:
            raise limits.bytes_per_txn_max.error()
        return out

    def finish(self) -> list[bytes]:
        """The last record when the data does not end with a newline."""
        out: list[bytes] = []
        if self._buf and not self.ended:
            record = bytes(self._buf)
            if self.crlf is None:
                self.crlf = False
            self._take(record, out, last=True)
        self._buf.clear()
        return out

    def _take(self, record: bytes, out: list[bytes], last: bool = False) -> None:
        if self.crlf is None:
            self.crlf = record.endswith(b"\r")
        if self.crlf and not last:
            if not record.endswith(b"\r"):
                raise _bad_format("literal newline found in data",
                                  hint='Use "\\n" to represent newline.')
            record = record[:-1]
        elif last and record.endswith(b"\r") and self.crlf:
            record = record[:-1]
        if record == b"\\.":
            self.ended = True
            return
        if not self._csv and b"\\." in record:
            record = self._text_end_marker(record)
            if record is None:
                return
        out.append(record)

    def _text_end_marker(self, record: bytes) -> bytes | None:
        """Text format: ``\\.`` not escaped by a backslash ends the data at the end of a
        line (what precedes it on the line is a last record); elsewhere it is an
        error."""
        for m in _TEXT_TOKEN.finditer(record):
            if m.group() == b"\\.":
                if m.end() != len(record):
                    raise _bad_format("end-of-copy marker corrupt")
                self.ended = True
                return record[:m.start()] or None
        return record

    def _find_end(self, start: int) -> int | None:
        """Where the record starting at ``start`` ends (its newline), resuming the
        search at ``_scan``; None when the buffer holds no end yet."""
        buf = self._buf
        if not self._csv:
            pos = self._scan
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    self._scan = len(buf)
                    return None
                run = 0                  # backslashes just before: odd escapes it
                while nl - run - 1 >= start and buf[nl - run - 1] == 0x5C:
                    run += 1
                if run % 2 == 0:
                    return nl
                pos = nl + 1
        # CSV: PostgreSQL's CopyReadLineText state (in_quote, last_was_esc)
        pos, in_quote, escaped = self._scan, self._in_quote, self._escaped
        quote, escape = self._quote, self._escape
        search = self._special.search
        while True:
            m = search(buf, pos)
            if m is None:
                self._scan, self._in_quote, self._escaped = len(buf), in_quote, escaped
                return None
            i = m.start()
            c = buf[i]
            if escaped and i != pos:
                escaped = False          # the escape was not followed at once by c
            if c == 0x0A:
                if not in_quote:
                    self._in_quote = self._escaped = False
                    return i
                escaped = False
            else:
                if in_quote and c == escape and escape != quote:
                    escaped = not escaped
                elif c == quote:
                    if not escaped:
                        in_quote = not in_quote
                    escaped = False
            pos = i + 1


_TEXT_TOKEN = re.compile(rb"\\.", re.S)


BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_I16, _I32 = struct.Struct("!h"), struct.Struct("!i")


class BinaryTuples:
    """The binary format's stream cut into tuples (each a list of raw values, None for
    NULL), whatever the CopyData boundaries: the header (signature, flags, extension),
    then per tuple an Int16 field count and per field an Int32 length (-1: NULL) and
    the bytes; a count of -1 is the trailer. A tuple may not grow past ``max_tuple``
    bytes (the transaction's size limit)."""

    def __init__(self, width: int, max_tuple: int = int(limits.bytes_per_txn_max.value)):
        self._width = width
        self._buf = bytearray()
        self._header = False
        self._max = max_tuple
        self.ended = False

    def feed(self, data: bytes) -> list[list[bytes | None]]:
        if self.ended:
            if data:
                raise _bad_format("received copy data after EOF marker")
            return []
        buf = self._buf
        buf += data
        pos = 0 if self._header else self._read_header()
        out: list[list[bytes | None]] = []
        while pos is not None and not self.ended:
            end, values = self._read_tuple(pos)
            if end is None:
                break
            if values is None:
                self.ended = True
                if end != len(buf):
                    raise _bad_format("received copy data after EOF marker")
            else:
                out.append(values)
            pos = end
        del buf[:pos or 0]
        if len(buf) > self._max:
            raise limits.bytes_per_txn_max.error()
        return out

    def finish(self) -> list[list[bytes | None]]:
        if not self._header:
            raise _bad_format("COPY file signature not recognized")
        if self._buf and not self.ended:
            raise _bad_format("unexpected EOF in COPY data")
        return []

    def _read_header(self) -> int | None:
        buf, n = self._buf, len(BINARY_SIGNATURE)
        if buf[:n] != BINARY_SIGNATURE[:len(buf)]:
            raise _bad_format("COPY file signature not recognized")
        if len(buf) < n + 8:
            return None
        flags, = _I32.unpack_from(buf, n)
        if flags & (1 << 16):
            raise _bad_format("invalid COPY file header (WITH OIDS)")
        if flags & 0xFFFE0000:
            raise _bad_format("unrecognized critical flags in COPY file header")
        extension, = _I32.unpack_from(buf, n + 4)
        if extension < 0:
            raise _bad_format("invalid COPY file header (missing length)")
        if len(buf) < n + 8 + extension:
            return None
        self._header = True
        return n + 8 + extension

    def _read_tuple(self, pos: int) -> tuple[int | None, list[bytes | None] | None]:
        """(end, values) of the tuple at ``pos``; (end, None) for the trailer; (None,
        None) when the buffer does not hold all of it yet."""
        buf = self._buf
        if len(buf) < pos + 2:
            return None, None
        count, = _I16.unpack_from(buf, pos)
        pos += 2
        if count == -1:
            return pos, None
        if count < 0:
            raise _bad_format(f"row field count is {count}, expected {self._width}")
        values: list[bytes | None] = []
        for _ in range(count):
            if len(buf) < pos + 4:
                return None, None
            size, = _I32.unpack_from(buf, pos)
            pos += 4
            if size == -1:
                values.append(None)
                continue
            if size < 0:
                raise _bad_format("invalid field size")
            if len(buf) < pos + size:
                return None, None
            values.append(bytes(buf[pos:pos + size]))
            pos += size
        return pos, values


# ---------------------------------------------------------------------------------------
# Fields

class Field:
    """One field of a record: the raw bytes as they were (for NULL and DEFAULT
    matching and error messages) and the value (None for NULL)."""
    __slots__ = ("raw", "value", "quoted")

    def __init__(self, raw: bytes, value: str | None, quoted: bool = False):
        self.raw, self.value, self.quoted = raw, value, quoted


_TEXT_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.)|$)", re.S)
_SIMPLE_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t",
                   b"v": b"\v"}


def _text_unescape(m: re.Match) -> bytes:
    octal, hexa, other = m.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexa is not None:
        return bytes([int(hexa, 16)])
    if other is not None:
        return _SIMPLE_ESCAPES.get(other, other)
    return b""                          # a backslash ending the line is dropped


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = " ".join(f"0x{b:02x}" for b in raw[exc.start:exc.start + 2])
        raise CharacterNotInRepertoire(
            f'invalid byte sequence for encoding "UTF8": {bad}') from None
    if "\0" in text:
        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8": 0x00')
    return text


def text_fields(record: bytes, options: CopyOptions) -> list[Field]:
    """The fields of a text-format record (PostgreSQL's CopyReadAttributesText): split at
    unescaped delimiters; a field is NULL when its raw text is the NULL string."""
    delim = options.delimiter
    if b"\r" in record:
        raise _bad_format("literal carriage return found in data",
                          hint='Use "\\r" to represent carriage return.')
    if b"\\" not in record:
        raws = record.split(delim)
    else:
        raws, start = [], 0
        for m in _text_splitter(delim).finditer(record):
            if m.group() == delim:
                raws.append(record[start:m.start()])
                start = m.end()
        raws.append(record[start:])
    null = options.null
    out = []
    for raw in raws:
        if raw == null:
            out.append(Field(raw, None))
        elif b"\\" in raw:
            out.append(Field(raw, _decode(_TEXT_ESCAPE.sub(_text_unescape, raw))))
        else:
            out.append(Field(raw, _decode(raw)))
    return out


_SPLITTERS: dict[bytes, re.Pattern] = {}


def _text_splitter(delim: bytes) -> re.Pattern:
    pattern = _SPLITTERS.get(delim)
    if pattern is None:
        pattern = _SPLITTERS[delim] = re.compile(rb"\\.|" + re.escape(delim), re.S)
    return pattern


_CSV_TOKENS: dict[tuple[bytes, bytes, bytes], tuple[re.Pattern, re.Pattern]] = {}


def _csv_patterns(options: CopyOptions) -> tuple[re.Pattern, re.Pattern]:
    key = (options.delimiter, options.quote, options.escape)
    found = _CSV_TOKENS.get(key)
    if found is None:
        d, q, e = (re.escape(x) for x in key)
        pair = e + b"[" + q + e + b"]"
        # a quoted run (escape + quote/escape is literal; possessive: no backtracking
        # into an escape), an unquoted run, or a delimiter
        token = re.compile(q + b"((?:" + pair + b"|[^" + q + b"])*+)" + q
                           + b"|([^" + d + q + b"]+)|(" + d + b")", re.S)
        unescape = re.compile(e + b"([" + q + e + b"])")
        found = _CSV_TOKENS[key] = (token, unescape)
    return found


def csv_fields(record: bytes, options: CopyOptions) -> list[Field]:
    """The fields of a CSV record (PostgreSQL's CopyReadAttributesCSV): quoting with
    QUOTE, ESCAPE before a quote or escape inside quotes, and NULL only when unquoted."""
    token, unescape = _csv_patterns(options)
    null = options.null
    out: list[Field] = []
    parts: list[bytes] = []
    quoted, start, pos, n = False, 0, 0, len(record)
    while True:
        if pos >= n:
            raw = record[start:]
            out.append(_csv_field(raw, parts, quoted, null))
            return out
        m = token.match(record, pos)
        if m is None:
            raise _bad_format("unterminated CSV quoted field")
        inner, plain, delim = m.groups()
        if delim is not None:
            out.append(_csv_field(record[start:pos], parts, quoted, null))
            parts, quoted, start = [], False, m.end()
            if m.end() == n:                  # a trailing delimiter: one more empty field
                out.append(_csv_field(b"", parts, False, null))
                return out
        elif inner is not None:
            parts.append(unescape.sub(rb"\1", inner) if options.escape in inner else inner)
            quoted = True
        else:
            if b"\r" in plain:
                raise _bad_format("unquoted carriage return found in data",
                                  hint="Use quoted CSV field to represent carriage return.")
            parts.append(plain)
        pos = m.end()


def _csv_field(raw: bytes, parts: list[bytes], quoted: bool, null: bytes) -> Field:
    if not quoted and raw == null:
        return Field(raw, None)
    return Field(raw, _decode(b"".join(parts)), quoted)


# ---------------------------------------------------------------------------------------
# Rows: fields converted and inserted

def _shown(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text.encode()) > MAX_DISPLAY:
        text = text.encode()[:MAX_DISPLAY].decode("utf-8", "ignore") + "..."
    return text


def with_context(exc: DsqlError, context: str) -> DsqlError:
    """PostgreSQL's CONTEXT field (sent as the ErrorResponse 'W' field)."""
    if not getattr(exc, "context", None):
        exc.context = context
    return exc


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
                exc = _bad_format(f'missing data for column "{name}"')
            else:
                exc = _bad_format("extra data after last expected column")
            raise with_context(exc, self._where(record))
        await self._add(self._row(fields, record), len(record))

    async def _tuple(self, values: list[bytes | None]) -> None:
        """A tuple of the binary format: each value through the type's binary input."""
        self._line += 1
        where = f"COPY {self.table.name}, line {self._line}"
        if len(values) != self.width:
            raise with_context(_bad_format(f"row field count is {len(values)}, expected "
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
                                            f'column {col.name}: "{_shown(value)}"') from None
            exprs[pos] = constant(value, col.type_oid)
        return exprs

    def _check_header(self, fields: list[Field], record: bytes) -> None:
        if self._header != "match":
            return
        names = [self.table.columns[p].name for p in self.positions]
        if len(fields) != len(names):
            raise with_context(_bad_format(f"wrong number of fields in header line: got "
                                           f"{len(fields)}, expected {len(names)}"),
                               self._where(record))
        for i, (field, name) in enumerate(zip(fields, names), 1):
            if field.value is None:
                exc = _bad_format(f"column name mismatch in header line field {i}: got "
                                  f'null value ("{field.raw.decode()}"), expected "{name}"')
            elif field.value != name:
                exc = _bad_format(f"column name mismatch in header line field {i}: got "
                                  f'"{field.value}", expected "{name}"')
            else:
                continue
            raise with_context(exc, self._where(record))

    def _where(self, record: bytes) -> str:
        return f'COPY {self.table.name}, line {self._line}: "{_shown(record)}"'

    async def _flush(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        try:
            await self._insert([row for _, row in batch])
        except DsqlError as exc:
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


# ---------------------------------------------------------------------------------------
# COPY TO STDOUT

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
            pending = BINARY_SIGNATURE + _I32.pack(0) + _I32.pack(0)  # flags, extension
            for fields in rows:
                yield pending + self.line(fields)
                pending = b""
            yield pending + _I16.pack(-1)
            return
        if self.options.header:
            yield self.line([n.encode() for n in self._names], header=True)
        for fields in rows:
            yield self.line(fields)

    def line(self, fields: list[bytes | None], header: bool = False) -> bytes:
        opts = self.options
        if opts.binary:
            return _I16.pack(len(fields)) + b"".join(
                _I32.pack(-1) if v is None else _I32.pack(len(v)) + v for v in fields)
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
