"""The tables the differential test loads into PostgreSQL and into the engine."""
from __future__ import annotations

import random
from decimal import Decimal

from dsql_ray.compute import types as T

#: name → (columns [(name, SQL type, oid)], primary key)
SCHEMA = {
    "t1": ([("id", "int", T.INT4), ("a", "int", T.INT4), ("b", "bigint", T.INT8),
            ("n", "numeric", T.NUMERIC), ("s", "text", T.TEXT), ("flag", "boolean", T.BOOL),
            ("f", "double precision", T.FLOAT8)], ["id"]),
    "t2": ([("id", "int", T.INT4), ("t1_id", "int", T.INT4), ("qty", "int", T.INT4),
            ("price", "numeric", T.NUMERIC), ("label", "text", T.TEXT)], ["id"]),
    "t3": ([("k", "text", T.TEXT), ("v", "int", T.INT4), ("w", "double precision", T.FLOAT8)],
           ["k"]),
    "e": ([("id", "int", T.INT4), ("x", "int", T.INT4)], []),
}


def _maybe(rng: random.Random, value, p_null=0.2):
    return None if rng.random() < p_null else value


def make_rows(seed: int = 7) -> dict[str, list[tuple]]:
    rng = random.Random(seed)
    words = ["apple", "banana", "cherry", "date", "Apple", "", "b%x", "elder berry", "fig"]
    floats = [0.5, 1.25, -3.0, 2.75, 1e10, 0.0, -0.125, 100.0]
    t1 = []
    for i in range(1, 31):
        t1.append((i, _maybe(rng, rng.randint(-5, 10)),
                   _maybe(rng, rng.randint(-10**10, 10**10)),
                   _maybe(rng, Decimal(rng.randint(-100000, 100000)).scaleb(-2)),
                   _maybe(rng, rng.choice(words)), _maybe(rng, rng.random() < 0.5),
                   _maybe(rng, rng.choice(floats))))
    t2 = []
    for i in range(1, 41):
        t2.append((i, _maybe(rng, rng.randint(1, 35), 0.1), _maybe(rng, rng.randint(0, 20)),
                   _maybe(rng, Decimal(rng.randint(0, 99999)).scaleb(-2)),
                   _maybe(rng, rng.choice(["red", "green", "blue", "Red", "x_y"]))))
    t3 = [("k1", 1, 1.5), ("k2", None, 2.5), ("k3", 3, None), ("apple", 5, -1.0),
          ("banana", 1, 0.25), ("zz", None, None), ("cherry", 7, 7.0), ("A", 2, 3.0)]
    return {"t1": t1, "t2": t2, "t3": t3, "e": []}
