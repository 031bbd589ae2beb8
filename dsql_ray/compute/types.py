"""PostgreSQL type OIDs the engine speaks, and SQL type names mapped to them."""
from __future__ import annotations

BOOL, BYTEA, INT8, INT2, INT4, TEXT, OID = 16, 17, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID, JSON, JSONB = (
    1082, 1083, 1114, 1184, 1186, 1700, 2950, 114, 3802)

#: SQL type name (as pglast reports it, lower case, pg_catalog stripped) → OID
NAME_TO_OID: dict[str, int] = {
    "bool": BOOL, "boolean": BOOL,
    "int2": INT2, "smallint": INT2,
    "int4": INT4, "int": INT4, "integer": INT4,
    "int8": INT8, "bigint": INT8,
    "float4": FLOAT4, "real": FLOAT4,
    "float8": FLOAT8, "double precision": FLOAT8,
    "numeric": NUMERIC, "decimal": NUMERIC,
    "text": TEXT, "varchar": VARCHAR, "bpchar": BPCHAR, "char": BPCHAR,
    "oid": OID, "bytea": BYTEA, "date": DATE, "time": TIME, "timestamp": TIMESTAMP,
    "timestamptz": TIMESTAMPTZ, "interval": INTERVAL, "uuid": UUID, "json": JSON,
    "jsonb": JSONB,
}

OID_TO_NAME: dict[int, str] = {
    BOOL: "boolean", BYTEA: "bytea", INT8: "bigint", INT2: "smallint", INT4: "integer",
    TEXT: "text", OID: "oid", FLOAT4: "real", FLOAT8: "double precision",
    BPCHAR: "character", VARCHAR: "character varying", DATE: "date",
    TIME: "time without time zone", TIMESTAMP: "timestamp without time zone",
    TIMESTAMPTZ: "timestamp with time zone", INTERVAL: "interval", NUMERIC: "numeric",
    UUID: "uuid", JSON: "json", JSONB: "jsonb", UNKNOWN: "unknown",
}

#: fixed type sizes for RowDescription (-1 = variable)
TYPE_SIZE: dict[int, int] = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, FLOAT4: 4, FLOAT8: 8,
                             OID: 4, DATE: 4, TIME: 8, TIMESTAMP: 8, TIMESTAMPTZ: 8,
                             INTERVAL: 16, UUID: 16}

INTEGER_OIDS = frozenset({INT2, INT4, INT8})

#: the PostgreSQL version the server reports (server_version, version())
SERVER_VERSION = "16.9"
SERVER_VERSION_STRING = (f"PostgreSQL {SERVER_VERSION} (dsql-ray) on x86_64-pc-linux-gnu, "
                         "compiled by gcc, 64-bit")
