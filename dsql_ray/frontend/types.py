"""PostgreSQL's data types as the wire carries them: OIDs, names, fixed sizes, and the
text input of the formats both the wire (Bind parameters) and SQL casts read (bytea's
hex and escape forms, one-dimensional array literals). Compute's type system builds on
these; the front end needs nothing more."""
from __future__ import annotations

import re

from ..errors import DsqlError, FeatureNotSupported, InvalidTextRepresentation

BOOL, BYTEA, INT8, INT2, INT4, TEXT, OID = 16, 17, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID, JSON, JSONB = (
    1082, 1083, 1114, 1184, 1186, 1700, 2950, 114, 3802)
TIMETZ, INET, CIDR = 1266, 869, 650

OID_TO_NAME: dict[int, str] = {
    BOOL: "boolean", BYTEA: "bytea", INT8: "bigint", INT2: "smallint", INT4: "integer",
    TEXT: "text", OID: "oid", FLOAT4: "real", FLOAT8: "double precision",
    BPCHAR: "character", VARCHAR: "character varying", DATE: "date",
    TIME: "time without time zone", TIMESTAMP: "timestamp without time zone",
    TIMESTAMPTZ: "timestamp with time zone", INTERVAL: "interval",
    TIMETZ: "time with time zone", INET: "inet", CIDR: "cidr", NUMERIC: "numeric",
    UUID: "uuid", JSON: "json", JSONB: "jsonb", UNKNOWN: "unknown",
}

#: fixed type sizes for RowDescription (-1 = variable)
TYPE_SIZE: dict[int, int] = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, FLOAT4: 4, FLOAT8: 8,
                             OID: 4, DATE: 4, TIME: 8, TIMESTAMP: 8, TIMESTAMPTZ: 8,
                             INTERVAL: 16, UUID: 16, TIMETZ: 12}


# -- text input shared by the wire and SQL casts ---------------------------------------

def _invalid_bytea(text: str) -> DsqlError:
    return InvalidTextRepresentation(f'invalid input syntax for type bytea: "{text}"')


def bytea_input(text: str) -> bytes:
    """bytea input: hex (``\\x0aff``) or the escape format (``a\\012\\\\``)."""
    if text.startswith("\\x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise _invalid_bytea(text) from None
    out, i, raw = bytearray(), 0, text.encode("utf-8")
    while i < len(raw):
        if raw[i] != 0x5C:
            out.append(raw[i])
            i += 1
        elif raw[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        else:
            octal = raw[i + 1:i + 4]
            if len(octal) != 3 or not all(48 <= c <= 55 for c in octal):
                raise _invalid_bytea(text)
            out.append(int(octal, 8))
            i += 4
    return bytes(out)


_ARRAY_ITEM = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^,{}"\s](?:[^,{}"]*[^,{}"\s])?))\s*'
                         r"([,}])")


def array_items(text: str) -> list[str | None]:
    """The elements of a one-dimensional array literal (array_in): ``{1,2,NULL}``,
    ``{"a b","q\\"x"}`` → their text, unquoted; NULL → None."""
    def malformed() -> DsqlError:
        return InvalidTextRepresentation(f'malformed array literal: "{text[:60]}"')
    body = text.strip()
    if not body.startswith("{") or not body.endswith("}"):
        raise malformed()
    if body[1:-1].strip() == "":
        return []
    if body[1:].lstrip().startswith("{"):
        raise FeatureNotSupported("multidimensional arrays are not supported")
    values: list[str | None] = []
    pos = 1
    while pos < len(body):
        m = _ARRAY_ITEM.match(body, pos)
        if m is None:
            raise malformed()
        quoted, bare, end = m.groups()
        if quoted is not None:
            values.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            values.append(None if bare.upper() == "NULL" else bare)
        pos = m.end()
        if end == "}":
            break
    if pos != len(body):
        raise malformed()
    return values
