"""Placeholders, parameter types and the SQLSTATE → exception mapping (no cluster)."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

import dsql_ray
from dsql_ray.client.errors import error_class, from_server
from dsql_ray.client.params import bind, convert_query, type_oids
from dsql_ray.client.server import _pushdown
from dsql_ray.compute.catalog import ColumnDef
from dsql_ray.errors import DsqlError, SerializationFailure


def test_placeholders():
    assert convert_query("SELECT %s, %s, '100%%'", (1, 2)) == ("SELECT $1, $2, '100%'", [0, 1])
    sql, order = convert_query("SELECT %(a)s + %(b)s + %(a)s", {"a": 1, "b": 2})
    assert sql == "SELECT $1 + $2 + $1" and bind(order, {"a": 1, "b": 2}) == [1, 2]
    for bad, params in (("SELECT %s, %s", (1,)), ("SELECT %(a)s", (1,)),
                        ("SELECT %s", {"a": 1}), ("SELECT %s, %(a)s", (1,))):
        with pytest.raises(dsql_ray.ProgrammingError):
            convert_query(bad, params)
    with pytest.raises(dsql_ray.ProgrammingError):
        bind(["a"], {"b": 1})


def test_parameter_types_as_psycopg_declares_them():
    assert type_oids([(None, 1, True, 1.5, Decimal(1), b"x", "s")]) == \
        [0, 20, 16, 701, 1700, 17, 0]
    assert type_oids([(None, 2 ** 70), (5, None)]) == [20, 1700]
    assert type_oids([(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                       dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), uuid.uuid4())]) == \
        [1184, 1114, 1082, 2950]
    with pytest.raises(dsql_ray.ProgrammingError):
        type_oids([(object(),)])


def test_errors_by_sqlstate():
    assert error_class("23505") is dsql_ray.UniqueViolation
    assert issubclass(error_class("23503"), dsql_ray.IntegrityError)
    err = from_server(SerializationFailure())
    assert isinstance(err, dsql_ray.TransactionRollbackError) and \
        isinstance(err, dsql_ray.OperationalError) and err.sqlstate == "40001"
    assert type(from_server(DsqlError("x", sqlstate="42P01"))) is dsql_ray.ProgrammingError
    assert type(from_server(DsqlError("x", sqlstate="0A000"))) is dsql_ray.NotSupportedError
    assert type(from_server(DsqlError("x", sqlstate="54000"))) is dsql_ray.OperationalError
    import pickle
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and again.sqlstate == "40001"


def test_where_pushdown_terms():
    cols = {"id": (0, ColumnDef("id", 23)), "price": (1, ColumnDef("price", 1700)),
            "d": (2, ColumnDef("d", 1082, attnum=5)), "s": (3, ColumnDef("s", 25))}
    assert _pushdown("id >= 10 AND 2.5 > price AND d = '2026-01-02' AND s IS NOT NULL "
                     "AND id <> -3", cols) == (
        (">=", 0, 10), ("<", 1, Decimal("2.5")), ("=", 5, dt.date(2026, 1, 2)),
        ("notnull", 3, None), ("<>", 0, -3))
    for bad in ("id = 1 OR id = 2", "id + 1 = 2", "lower(s) = 'a'"):
        with pytest.raises(DsqlError) as e:
            _pushdown(bad, cols)
        assert e.value.sqlstate == "0A000"
    with pytest.raises(DsqlError) as e:
        _pushdown("nope = 1", cols)
    assert e.value.sqlstate == "42703"
