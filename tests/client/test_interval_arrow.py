"""read_table's Arrow form of intervals: month_day_nano, months kept (no cluster needed)."""
from __future__ import annotations

import datetime as dt

from dsql_ray.client.data import _to_arrow
from dsql_ray.compute import types as T
from dsql_ray.interval import Interval


def test_read_table_gives_intervals_as_arrow_month_day_nano():
    table = _to_arrow([(b"a", (Interval(14, 3, 5),)), (b"b", (dt.timedelta(hours=-1),)),
                       (b"c", (None,))], [("iv", T.INTERVAL, -1, 0, None)])
    assert [None if v is None else tuple(v) for v in table.column("iv").to_pylist()] == \
        [(14, 3, 5000), (0, 0, -3_600_000_000_000), None]
