"""A text or CSV record split into fields as PostgreSQL's COPY does (text: backslash
escapes and ``\\N``; CSV: quoting, NULL as an unquoted empty string).
"""
from __future__ import annotations

import re

from ...errors import CharacterNotInRepertoire
from .options import CopyOptions, bad_format


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
        raise bad_format("literal carriage return found in data",
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
            raise bad_format("unterminated CSV quoted field")
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
                raise bad_format("unquoted carriage return found in data",
                                  hint="Use quoted CSV field to represent carriage return.")
            parts.append(plain)
        pos = m.end()


def _csv_field(raw: bytes, parts: list[bytes], quoted: bool, null: bytes) -> Field:
    if not quoted and raw == null:
        return Field(raw, None)
    return Field(raw, _decode(b"".join(parts)), quoted)
