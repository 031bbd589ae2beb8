"""Properties of the order-preserving key encoding in dsql_ray.keys."""
from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsql_ray.interval import Interval
from dsql_ray.keys import (decode_key, decode_row_key, encode_key, prefix_end, row_key,
                           table_prefix)

_ZONES = [timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]

#: one strategy per column type (values of one column position share a type)
TYPES = {
    "bool": st.booleans(),
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(),
    "decimal": st.decimals(),
    "str": st.text(),
    "bytes": st.binary(),
    "date": st.dates(),
    "time": st.times(),
    "timestamp": st.datetimes(),
    # Bounded so the UTC instant of every zone stays within datetime's range.
    "timestamptz": st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1),
                                timezones=st.sampled_from(_ZONES)),
    "interval": st.timedeltas(),
    "uuid": st.uuids(),
}


def element_key(kind: str, value):
    """SQL order of one element: NULLs last, NaN above every number, -0.0 == 0.0."""
    if value is None:
        return (2,)
    if (kind == "float" and math.isnan(value)) or (kind == "decimal" and value.is_nan()):
        return (1,)
    return (0, value)


def tuple_key(schema, values: tuple):
    return tuple(element_key(kind, v) for kind, v in zip(schema, values))


@st.composite
def schema_and_rows(draw, min_rows=1, max_rows=8):
    """A column-type schema and rows of it (each row possibly a prefix, with NULLs)."""
    schema = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=4))
    columns = [st.none() | TYPES[kind] for kind in schema]
    rows = draw(st.lists(st.tuples(*columns), min_size=min_rows, max_size=max_rows))
    cut = st.integers(0, len(schema))
    return schema, [row[:draw(cut)] if draw(st.booleans()) else row for row in rows]


def cmp(a, b) -> int:
    return (a > b) - (a < b)


def same(schema, a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and tuple_key(schema, a) == tuple_key(schema, b)


# --- round trip -----------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(TYPES))
@given(data=st.data())
def test_round_trip_each_type(kind, data):
    value = data.draw(st.none() | TYPES[kind])
    decoded = decode_key(encode_key((value,)))
    assert len(decoded) == 1
    assert same([kind], decoded, (value,))
    if value is not None:
        assert type(decoded[0]) is type(value)


@given(schema_and_rows())
def test_round_trip_mixed_tuples(case):
    schema, rows = case
    for row in rows:
        assert same(schema, decode_key(encode_key(row)), row)


def test_round_trip_normalisations():
    assert decode_key(encode_key((-0.0,))) == (0.0,)
    assert math.copysign(1, decode_key(encode_key((-0.0,)))[0]) == 1
    assert decode_key(encode_key((Decimal("1.50"),))) == (Decimal("1.5"),)
    eastern = datetime(2024, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    (utc,) = decode_key(encode_key((eastern,)))
    assert utc == eastern and utc.tzinfo is timezone.utc
    assert decode_key(encode_key((bytearray(b"a\x00"),))) == (b"a\x00",)


# --- order ----------------------------------------------------------------------

@settings(max_examples=300)
@given(schema_and_rows(min_rows=2))
def test_encoding_preserves_order(case):
    schema, rows = case
    for a in rows:
        for b in rows:
            assert cmp(encode_key(a), encode_key(b)) == cmp(tuple_key(schema, a),
                                                            tuple_key(schema, b))


@pytest.mark.parametrize("ascending", [
    [-(2**63), -1, 0, 1, 2**63 - 1, None],
    [False, True, None],
    [-math.inf, -1.5, -1e-300, 0.0, 5e-324, 1.0, math.inf, math.nan, None],
    [Decimal("-Infinity"), Decimal("-10"), Decimal("-1.5"), Decimal("-1.05"), Decimal("-1"),
     Decimal("-0.5"), Decimal(0), Decimal("0.001"), Decimal("0.5"), Decimal(1),
     Decimal("1.05"), Decimal("1.5"), Decimal(10), Decimal("1E+30"), Decimal("Infinity"),
     Decimal("NaN"), None],
    ["", "\x00", "\x00\x00", "\x01", "a", "a\x00", "ab", "b", "é", "\U0001f600", None],
    [b"", b"\x00", b"\x00\xff", b"\x01", b"\xff", b"\xff\x00", None],
    [date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(9999, 12, 31), None],
    [datetime(1, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999999), datetime(1970, 1, 1),
     datetime(9999, 12, 31, 23, 59, 59, 999999), None],
    [time(0), time(0, 0, 0, 1), time(12), time(23, 59, 59, 999999), None],
    [-timedelta(days=1), -timedelta(microseconds=1), timedelta(0), timedelta(microseconds=1),
     timedelta(days=1), None],
    [uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**128 - 1), None],
])
def test_known_orders(ascending):
    encoded = [encode_key((v,)) for v in ascending]
    assert all(a < b for a, b in zip(encoded, encoded[1:]))


def test_equal_values_encode_identically():
    assert encode_key((-0.0,)) == encode_key((0.0,))
    assert encode_key((math.nan,)) == encode_key((-math.nan,))
    assert encode_key((Decimal("1.50"),)) == encode_key((Decimal("1.5"),))
    assert encode_key((Decimal("-0"),)) == encode_key((Decimal("0E+7"),))
    assert encode_key((Decimal("NaN"),)) == encode_key((Decimal("sNaN"),))
    instant = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert encode_key((instant,)) == encode_key((instant.astimezone(_ZONES[2]),))


def test_bool_is_not_int():
    assert encode_key((True,)) != encode_key((1,))
    assert decode_key(encode_key((True, 1))) == (True, 1)
    assert type(decode_key(encode_key((True,)))[0]) is bool


# --- prefixes and ranges ----------------------------------------------------------

@given(schema_and_rows(min_rows=1, max_rows=1))
def test_tuple_prefix_is_byte_prefix(case):
    schema, (row,) = case
    for k in range(len(row)):
        assert encode_key(row).startswith(encode_key(row[:k]))
        assert encode_key(row[:k]) < encode_key(row)


@settings(max_examples=300)
@given(st.data())
def test_prefix_range_holds_exactly_the_keys_with_that_prefix(data):
    """The planner's prefix scan: [encode_key(p), prefix_end(encode_key(p)))."""
    schema, rows = data.draw(schema_and_rows(min_rows=2))
    probe = rows[0]
    k = data.draw(st.integers(0, len(probe)))
    lo = encode_key(probe[:k])
    hi = prefix_end(lo)
    for row in rows:
        # Often share the probe's prefix, so both outcomes are exercised.
        if data.draw(st.booleans()):
            row = probe[:k] + row[k:]
        key = encode_key(row)
        inside = lo <= key and (hi is None or key < hi)
        assert inside == same(schema, row[:k], probe[:k])


@given(st.binary(max_size=6), st.binary(max_size=6))
def test_prefix_end_is_the_tight_upper_bound(prefix, other):
    end = prefix_end(prefix)
    if end is None:
        assert prefix.strip(b"\xff") == b""
    else:
        assert end > prefix and not end.startswith(prefix)
    below_end = end is None or other < end
    assert other.startswith(prefix) == (prefix <= other and below_end)


def test_prefix_end_examples():
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff\xff") == b"b"
    assert prefix_end(b"\xff") is None
    assert prefix_end(b"") is None


# --- table prefixes and row keys ------------------------------------------------------

_IDS = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


@given(_IDS, _IDS)
def test_table_prefix_preserves_order(a, b):
    assert cmp(table_prefix(*a), table_prefix(*b)) == cmp(a, b)
    assert table_prefix(a[0]) == table_prefix(a[0], 0)


@given(_IDS, _IDS, schema_and_rows(min_rows=1, max_rows=1))
def test_row_keys_stay_in_their_index_range(ids, other_ids, case):
    _, (pk,) = case
    key = row_key(ids[0], pk, ids[1])
    lo = table_prefix(*ids)
    hi = prefix_end(lo)
    assert lo <= key and (hi is None or key < hi)
    other = row_key(other_ids[0], pk, other_ids[1])
    assert (lo <= other and (hi is None or other < hi)) == (ids == other_ids)
    table_id, index_id, decoded = decode_row_key(key)
    assert (table_id, index_id) == ids and len(decoded) == len(pk)


# --- errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_int_out_of_range(value):
    with pytest.raises(ValueError):
        encode_key((value,))


def test_interval_and_timetz_keys_order_as_postgresql_compares():
    ivs = [Interval(1, 0, 0), Interval(0, 29, 0), Interval(0, 0, -1), Interval(-2, 75, 3),
           Interval(2**31 - 1, 0, 0)]
    assert [decode_key(k)[0] for k in sorted(encode_key((v,)) for v in ivs)] == sorted(ivs)
    # equal intervals are one key, the key a stored timedelta of that span had
    assert encode_key((Interval(1, 0, 0),)) == encode_key((Interval(0, 30, 0),)) == \
        encode_key((timedelta(days=30),))
    assert encode_key((Interval(0, 0, -3_600_000_000),)) == encode_key((timedelta(hours=-1),))
    zone = timezone(timedelta(hours=2))
    tts = [time(10, 0, tzinfo=zone), time(9, 0, tzinfo=timezone.utc), time(1, tzinfo=zone)]
    decoded = [decode_key(k)[0] for k in sorted(encode_key((v,)) for v in tts)]
    assert decoded == [tts[2], tts[0], tts[1]]
    assert [d.utcoffset() for d in decoded] == [zone.utcoffset(None)] * 2 + [timedelta(0)]


@pytest.mark.parametrize("value", [[1], {"a": 1}, object()])
def test_unsupported_values(value):
    with pytest.raises((TypeError, ValueError)):
        encode_key((value,))


@pytest.mark.parametrize("ids", [(-1, 0), (2**32, 0), (0, -1), (0, 2**32)])
def test_table_ids_out_of_range(ids):
    with pytest.raises(ValueError):
        table_prefix(*ids)


@pytest.mark.parametrize("data", [
    b"\x01",                       # unknown tag
    encode_key((5,))[:-1],         # truncated int
    encode_key(("abc",))[:-1],     # unterminated string
    encode_key((Decimal("1.5"),))[:-1],  # unterminated decimal digits
    encode_key((uuid.uuid4(),))[:-1],    # truncated uuid
])
def test_malformed_keys(data):
    with pytest.raises(ValueError):
        decode_key(data)
