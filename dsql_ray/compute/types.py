"""PostgreSQL type OIDs the engine speaks (the front end's, :mod:`dsql_ray.frontend.types`,
which compute builds on), and SQL type names mapped to them."""
from __future__ import annotations

from ..frontend.types import (  # noqa: F401
    BOOL, BPCHAR, BYTEA, DATE, FLOAT4, FLOAT8, INT2, INT4, INT8, INTERVAL, JSON, JSONB, NUMERIC,
    CIDR, INET, OID, OID_TO_NAME, TEXT, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ, TYPE_SIZE, UNKNOWN,
    UUID, VARCHAR)

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
    "jsonb": JSONB, "timetz": TIMETZ, "inet": INET, "cidr": CIDR,
}

INTEGER_OIDS = frozenset({INT2, INT4, INT8})

#: the PostgreSQL version the server reports (server_version, version())
SERVER_VERSION = "16.9"
SERVER_VERSION_STRING = (f"PostgreSQL {SERVER_VERSION} (dsql-ray) on x86_64-pc-linux-gnu, "
                         "compiled by gcc, 64-bit")
