"""The client's COPY data cut into records: lines of the text and CSV formats (in
whatever pieces the client sent them), tuples of the binary format.
"""
from __future__ import annotations

import re
import struct

from ... import limits
from .options import CopyOptions, bad_format


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
                raise bad_format("literal newline found in data",
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
                    raise bad_format("end-of-copy marker corrupt")
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


I16, I32 = struct.Struct("!h"), struct.Struct("!i")


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
                raise bad_format("received copy data after EOF marker")
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
                    raise bad_format("received copy data after EOF marker")
            else:
                out.append(values)
            pos = end
        del buf[:pos or 0]
        if len(buf) > self._max:
            raise limits.bytes_per_txn_max.error()
        return out

    def finish(self) -> list[list[bytes | None]]:
        if not self._header:
            raise bad_format("COPY file signature not recognized")
        if self._buf and not self.ended:
            raise bad_format("unexpected EOF in COPY data")
        return []

    def _read_header(self) -> int | None:
        buf, n = self._buf, len(BINARY_SIGNATURE)
        if buf[:n] != BINARY_SIGNATURE[:len(buf)]:
            raise bad_format("COPY file signature not recognized")
        if len(buf) < n + 8:
            return None
        flags, = I32.unpack_from(buf, n)
        if flags & (1 << 16):
            raise bad_format("invalid COPY file header (WITH OIDS)")
        if flags & 0xFFFE0000:
            raise bad_format("unrecognized critical flags in COPY file header")
        extension, = I32.unpack_from(buf, n + 4)
        if extension < 0:
            raise bad_format("invalid COPY file header (missing length)")
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
        count, = I16.unpack_from(buf, pos)
        pos += 2
        if count == -1:
            return pos, None
        if count < 0:
            raise bad_format(f"row field count is {count}, expected {self._width}")
        values: list[bytes | None] = []
        for _ in range(count):
            if len(buf) < pos + 4:
                return None, None
            size, = I32.unpack_from(buf, pos)
            pos += 4
            if size == -1:
                values.append(None)
                continue
            if size < 0:
                raise bad_format("invalid field size")
            if len(buf) < pos + size:
                return None, None
            values.append(bytes(buf[pos:pos + size]))
            pos += size
        return pos, values
