"""Column types as DSQL stores them: PostgreSQL's types it refuses in a column, and
the (type oid, typmod) of a column definition.
"""
from __future__ import annotations

from pglast import ast

from ...errors import FeatureNotSupported
from .. import types as T
from ..query.exprs import resolve_type
from ..query.sqltypes import type_modifier


#: types DSQL has only at query time, never as a column's type
_QUERY_TIME_ONLY = {T.JSON: "json", T.JSONB: "jsonb"}


#: types PostgreSQL has that DSQL does not store in a column (0A000, not 42704); the
#: name as pglast reports it → the name PostgreSQL prints
_NOT_STORED = {name: name for name in (
    "money", "xml", "inet", "cidr", "macaddr", "macaddr8", "point", "line", "lseg", "box",
    "path", "polygon", "circle", "tsvector", "tsquery", "int4range", "int8range", "numrange",
    "tsrange", "tstzrange", "daterange", "int4multirange", "int8multirange", "nummultirange",
    "tsmultirange", "tstzmultirange", "datemultirange", "bit", "pg_lsn", "pg_snapshot",
    "txid_snapshot", "jsonpath", "tid", "xid", "xid8", "cid", "regclass", "regtype",
    "regproc", "regprocedure", "regoper", "regoperator", "regnamespace", "regrole",
    "regconfig", "regdictionary", "regcollation", "refcursor", "aclitem", "int2vector",
    "oidvector", "pg_node_tree", "gtsvector")} | {"varbit": "bit varying"}


def column_type(tn: ast.TypeName) -> tuple[int, int]:
    """(type oid, typmod) as PostgreSQL stores them."""
    names = [n.sval.lower() for n in tn.names if n.sval != "pg_catalog"]
    if len(names) == 1 and names[0] in _NOT_STORED:
        raise FeatureNotSupported(f"datatype {_NOT_STORED[names[0]]} not supported",
                                  hint="Aurora DSQL does not store this type in a column.")
    if tn.arrayBounds:
        raise FeatureNotSupported("array types are not supported")
    oid, _ = resolve_type(tn)
    if oid in _QUERY_TIME_ONLY:
        raise FeatureNotSupported(f"datatype {_QUERY_TIME_ONLY[oid]} not supported",
                                  hint="Store JSON documents as text and use json or jsonb "
                                       "casts and functions in queries.")
    return oid, type_modifier(tn, oid)
