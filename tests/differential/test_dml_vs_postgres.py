"""Differential test: INSERT / UPDATE / DELETE against a real PostgreSQL on the same data.

Each case runs, inside a transaction rolled back afterwards, the DML statement and then a
SELECT of every table, on this database (the in-process cluster: every role, no Ray) and
on PostgreSQL. Compared: the affected-row count, the RETURNING rows (as multisets: their
order is not defined), the final table contents and, for errors, the SQLSTATE.
Hand-written cases cover each form (INSERT ... SELECT, ON CONFLICT, UPDATE ... FROM,
DELETE ... USING, sub-queries, RETURNING expressions, pushed-down filters); a seeded
generator adds random combinations.
"""
from __future__ import annotations

import asyncio
import collections
import decimal
import math
import random
import re

import pytest

from dsql_ray.errors import DsqlError

psycopg = pytest.importorskip("psycopg")

GENERATED_SEED = 20261128
GENERATED_COUNT = 90

SETUP = [
    "create table dml_a (id int primary key, x int, s text, n numeric, flag boolean)",
    "create table dml_b (id int primary key, a_id int, y int, label text)",
    "create table dml_c (g int, k int, v int, primary key (g, k))",
    "create table dml_h (k int, v text)",
    "create table dml_d (id int primary key, x int default 42, s text default 'dflt')",
    "create table dml_v (id int primary key, v varchar(5), d date, b bigint, "
    "f double precision)",
    "create table dml_u (id int primary key, email text unique, n int default 0)",
]
TABLES = {"dml_a": "id", "dml_b": "id", "dml_c": "g, k", "dml_h": "k, v", "dml_d": "id",
          "dml_v": "id", "dml_u": "id"}
WORDS = ["apple", "banana", "cherry", "date", "Apple", "", "fig"]


def _data() -> list[str]:
    rng = random.Random(5)

    def lit(v):
        if v is None:
            return "null"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def maybe(v, p=0.2):
        return None if rng.random() < p else v

    rows = {
        "dml_a": [(i, maybe(rng.randint(-5, 20)), maybe(rng.choice(WORDS)),
                   maybe(decimal.Decimal(rng.randint(-9999, 9999)).scaleb(-2)),
                   maybe(rng.random() < 0.5)) for i in range(1, 21)],
        "dml_b": [(i, maybe(rng.randint(1, 24), 0.1), maybe(rng.randint(0, 30)),
                   maybe(rng.choice(["red", "green", "blue", "Red"])))
                  for i in range(1, 26)],
        "dml_c": [(g, k, maybe(rng.randint(0, 9))) for g in range(1, 4) for k in range(1, 5)],
        "dml_h": [(1, "one"), (2, "two"), (2, "deux"), (3, None), (None, "nothing")],
        "dml_d": [(1, 1, "a"), (2, None, "b")],
        "dml_v": [(1, "abc", "2024-02-29", 10**12, 0.5)],
    }
    return [f"insert into {t} values " + ", ".join(
        "(" + ", ".join(lit(v) for v in r) + ")" for r in rs) for t, rs in rows.items()]


HAND_WRITTEN: list[str | tuple[str, list]] = [
    # -- INSERT ... VALUES / SELECT / DEFAULT -------------------------------------------
    "insert into dml_a values (100, 1, 'x', 1.5, true)",
    "insert into dml_a (id, s) values (101, 'only s'), (102, null) returning *",
    "insert into dml_d (id) values (10) returning id, x, s",
    "insert into dml_d values (11, default, default), (12, 7, default) returning *",
    "insert into dml_d default values",
    "insert into dml_a values (1, 2, 'dup', 0, false)",
    "insert into dml_a (id, x) values (200, 'abc')",
    "insert into dml_a (id, x) values (200, '12') returning x + 1",
    "insert into dml_a (id, nope) values (1, 1)",
    "insert into dml_a (id, x) values (1, 2, 3)",
    "insert into dml_a (id, x, s) values (1, 2)",
    "insert into dml_a (x) values (5)",
    "insert into dml_a select id + 100, y, label, null, null from dml_b",
    "insert into dml_a select id + 100, y, label from dml_b where y > 10 returning id, x",
    "insert into dml_a (id, x) select id + 1000, x * 2 from dml_a where x is not null",
    "insert into dml_a (id, s) select max(id) + 1, 'max' from dml_a returning *",
    "insert into dml_a (id, x) select b.id + 500, count(*) from dml_b b join dml_b c "
    "on c.a_id = b.a_id group by b.id",
    "insert into dml_a select * from dml_a",
    "insert into dml_a (id, x) select id, y from dml_b where id = 3",
    "insert into dml_h select k + 10, upper(v) from dml_h returning *",
    "insert into dml_h (v) select label from dml_b where id < 4 returning k, v",
    "insert into dml_a (id, x) select 300, 'x'",
    "insert into dml_a (id, x, s) select 301, '7', 'seven' returning x, s",
    "insert into dml_a (id, x) values ((select max(y) from dml_b), 1) returning *",
    "insert into dml_a (id, x) select id + 400, (select count(*) from dml_b where "
    "dml_b.a_id = dml_a.id) from dml_a returning id, x",
    "insert into dml_a (id, x) select 1, 1 union all select 2, 2",
    "insert into dml_a (id) select g * 1000 + k from dml_c order by g, k limit 3 "
    "returning id",
    "with src as (select id + 700 as id, y from dml_b where y < 5) "
    "insert into dml_a (id, x) select id, y from src returning id",
    "insert into dml_a (id, x) select id, x from dml_a where id = 999999",
    # -- assignment casts ----------------------------------------------------------------
    "insert into dml_a (id, x) select 500, 2.5 returning x",
    "insert into dml_a (id, x) select 501, 3.5::float8 returning x",
    "insert into dml_a (id, x) select 502, true",
    "insert into dml_a (id, s) select 503, 42 returning s",
    "insert into dml_a (id, s) select 504, 'a'::text || 'b' returning s",
    "insert into dml_v (id, v, d) select 2, 'hello', '2020-01-01' returning *",
    "insert into dml_v (id, v) select 3, 'toolong'",
    "insert into dml_v (id, v) select 4, 'four '",
    "insert into dml_v (id, d, b, f) select 5, now()::timestamp, 7, 1 returning b, f",
    "insert into dml_v (id, b) select 6, 99999999999 returning b",
    "insert into dml_a (id, x) select 7, 99999999999",
    "update dml_v set v = 'toolong' where id = 1",
    "update dml_v set v = v || 'de' returning v",
    "update dml_v set d = d + 1, f = f * 3 returning d, f",
    "update dml_v set b = (select max(x) from dml_a) returning b",
    "update dml_a set x = (select f from dml_v) where id = 1 returning x",
    "insert into dml_v select 10, v, d, b, f from dml_v on conflict (id) do update "
    "set v = excluded.v returning id",
    # -- ON CONFLICT ------------------------------------------------------------------------
    "insert into dml_a values (1, 99, 'new', 0, true) on conflict do nothing",
    "insert into dml_a values (1, 99, 'new', 0, true) on conflict (id) do nothing returning *",
    "insert into dml_a values (1, 99, 'new', 0, true), (150, 1, 'n', 1, false) "
    "on conflict do nothing returning id",
    "insert into dml_a values (150, 1, 'a', 1, false), (150, 2, 'b', 2, true) "
    "on conflict do nothing returning id, x",
    "insert into dml_a (id, x, s) values (1, 5, 'up') on conflict (id) do update "
    "set x = excluded.x, s = excluded.s returning *",
    "insert into dml_a as t (id, x) values (2, 5), (3, 6), (151, 7) on conflict (id) "
    "do update set x = t.x + excluded.x returning id, x",
    "insert into dml_a (id, x) values (2, 5), (3, 6) on conflict (id) do update "
    "set x = excluded.x where dml_a.x > 5 returning id, x",
    "insert into dml_a (id, x) values (4, 1), (4, 2) on conflict (id) do update "
    "set x = excluded.x",
    "insert into dml_a (id, x) values (152, 1), (152, 2) on conflict (id) do update "
    "set x = excluded.x",
    "insert into dml_a (id, x) values (5, 1) on conflict (x) do nothing",
    "insert into dml_a (id, x) values (5, 1) on conflict (id, x) do nothing",
    "insert into dml_a (id, x) values (5, 1) on conflict do update set x = 1",
    "insert into dml_a (id, x) values (5, 1) on conflict on constraint dml_a_pkey "
    "do update set x = excluded.x * 10 returning x",
    "insert into dml_a (id, x) values (5, 1) on conflict on constraint nope do nothing",
    "insert into dml_a (id, x) select id, y from dml_b on conflict (id) do update "
    "set x = excluded.x, s = 'from b' returning id, x, s",
    "insert into dml_a (id, x) select id, y from dml_b on conflict (id) do nothing",
    "insert into dml_c values (1, 1, 100), (1, 9, 9) on conflict (k, g) do update "
    "set v = dml_c.v + excluded.v returning *",
    "insert into dml_c values (1, 1, 100) on conflict (g) do nothing",
    "insert into dml_h values (1, 'one') on conflict do nothing returning *",
    "insert into dml_h values (1, 'one') on conflict (k) do nothing",
    "insert into dml_d (id) values (1) on conflict (id) do update set x = default, "
    "s = excluded.s returning *",
    "insert into dml_a (id, x) values (6, 1) on conflict (id) do update "
    "set x = (select max(y) from dml_b) returning x",
    "insert into dml_a (id, x) values (7, null) on conflict (id) do update "
    "set id = 7000 returning id",
    "insert into dml_a (id, x) values (8, 1) on conflict (id) do update set x = 1, x = 2",
    "insert into dml_a (id, x) values (9, 1) on conflict (id) do update set s = x::text "
    "where excluded.x is not null returning s",
    # -- UPDATE ----------------------------------------------------------------------------
    "update dml_a set x = x + 1 where x > 10",
    "update dml_a set x = x * 2, s = s || '!' where id between 3 and 9 returning id, x, s",
    "update dml_a set x = null where s is null returning id",
    "update dml_a set n = n * 2 where flag returning id, n",
    "update dml_a set s = 'abc' where s = 'apple' and x >= 0 returning *",
    "update dml_a set id = id + 100 where id < 4 returning id",
    "update dml_a set id = 2 where id = 1",
    "update dml_a set x = 'text' where id = 1",
    "update dml_a set nope = 1",
    "update dml_a set x = 1, x = 2",
    "update dml_a set x = default where id = 2 returning x",
    "update dml_d set x = default, s = default where id = 2 returning *",
    "update dml_a set x = b.y from dml_b b where b.a_id = dml_a.id returning dml_a.id, x",
    "update dml_a a set x = b.y + a.x from dml_b b where b.a_id = a.id and b.label = 'red'",
    "update dml_a set s = b.label from dml_b b where b.id = dml_a.id and b.y > 20 "
    "returning id, s",
    "update dml_a set x = s.total from (select a_id, sum(y) as total from dml_b group by "
    "a_id) s where s.a_id = dml_a.id returning id, x",
    "update dml_a set x = (select max(y) from dml_b where dml_b.a_id = dml_a.id) "
    "returning id, x",
    "update dml_a set x = (select count(*) from dml_b) where id in (select a_id from dml_b "
    "where y < 10) returning id, x",
    "update dml_a set flag = not flag where exists (select 1 from dml_b where "
    "dml_b.a_id = dml_a.id and dml_b.label = 'blue')",
    "update dml_a set x = (select y from dml_b) where id = 1",
    "update dml_a set x = x + 1 where x = (select min(x) from dml_a) returning id, x",
    "update dml_a set x = x + 1 returning id, x * 10 as x10, upper(s) as us, "
    "x > 5 as big",
    "update dml_c set v = v + g * 10 where g = 2 returning *",
    "update dml_c set k = k + 10 where g = 3 and k > 2 returning g, k",
    "update dml_h set v = 'changed' where k = 2 returning *",
    "update dml_h set k = h2.k * 100 from dml_h h2 where h2.v = dml_h.v and h2.k = 1",
    "update dml_a set x = b.y from dml_b b join dml_c c on c.v = b.y where b.a_id = dml_a.id",
    "with big as (select a_id from dml_b where y > 15) update dml_a set x = -1 where id in "
    "(select a_id from big) returning id",
    "update dml_a set x = 1 where id = 999 returning *",
    "update dml_a set (x, s) = (x + 1, 'pair') where id < 4 returning *",
    "update dml_a set (x, s) = (select y, label from dml_b where dml_b.id = dml_a.id) "
    "where id > 15 returning id, x, s",
    "update dml_a set (x, s) = (select y, label from dml_b) where id = 1",
    "update dml_a set (x, s) = (select y from dml_b where id = 1) where id = 1",
    "update dml_a set (x, s) = (1, 'a', 2) where id = 1",
    "insert into dml_a (id, x) values (3, 0) on conflict (id) do update "
    "set (x, s) = (excluded.x, 'upserted') returning *",
    "update dml_a set x = 1 where false",
    # -- DELETE ----------------------------------------------------------------------------
    "delete from dml_a where x < 0",
    "delete from dml_a where s is null returning id, s",
    "delete from dml_a where x is not null and x > 15 returning *",
    "delete from dml_a where id = 3 returning id * 2 as twice",
    "delete from dml_a using dml_b where dml_b.a_id = dml_a.id and dml_b.y > 20",
    "delete from dml_a a using dml_b b where b.a_id = a.id and b.label = 'red' "
    "returning a.id",
    "delete from dml_b where a_id in (select id from dml_a where flag) returning id",
    "delete from dml_b where not exists (select 1 from dml_a where dml_a.id = dml_b.a_id)",
    "delete from dml_b where y > (select avg(x) from dml_a) returning id, y",
    "delete from dml_a using dml_b b, dml_c c where b.a_id = dml_a.id and c.v = b.y",
    "delete from dml_c where (g, k) in (select g, k + 1 from dml_c where v > 5) "
    "returning *",
    "delete from dml_h where k = 2 returning *",
    "delete from dml_h where v is null",
    "delete from dml_a using (select a_id from dml_b group by a_id having count(*) > 1) d "
    "where d.a_id = dml_a.id returning dml_a.id",
    "with gone as (select id from dml_a where x > 5) delete from dml_b where a_id in "
    "(select id from gone)",
    "delete from dml_a where nope = 1",
    "delete from dml_a",
    # -- pushed-down filters (the key-aware path) ------------------------------------------
    "update dml_a set x = 0 where x > 5 and s <> 'fig' returning id",
    "update dml_a set s = 'z' where 5 < x and x <= 12 and s is not null returning id, s",
    "delete from dml_a where x = '7'",
    "delete from dml_a where s >= 'b' and s < 'd' returning id, s",
    "delete from dml_a where flag = true and n is null returning id",
    "update dml_a set x = x where x != 3 and id > 10",
    "update dml_a set x = 1 where x > null",
    "update dml_a set x = 1 where id = 5 and x < 0 returning id",
    "update dml_a set x = 1 where x > 5 or s = 'fig' returning id",
    ("update dml_a set x = $1 where x > $2 returning id, x", [100, 10]),
    ("delete from dml_a where s = $1 returning id", ["apple"]),
    ("insert into dml_a (id, x) values ($1, $2) on conflict (id) do update "
     "set x = excluded.x + $2 returning id, x", [1, 5]),
    ("update dml_a set x = b.y + $1 from dml_b b where b.a_id = dml_a.id and b.y > $2 "
     "returning dml_a.id, x", [1000, 12]),
    # unique constraints as ON CONFLICT arbiters (a unique index)
    "insert into dml_u values (1, 'a@x', 0), (2, 'b@x', 0), (3, null, 0)",
    "insert into dml_u values (10, 'a@x', 5) on conflict (email) do update "
    "set n = dml_u.n + excluded.n returning *",
    "insert into dml_u values (11, 'b@x', 5), (12, 'c@x', 1), (13, null, 1) "
    "on conflict (email) do nothing returning id",
    "insert into dml_u values (14, 'c@x', 1) on conflict on constraint dml_u_email_key "
    "do update set n = 99 returning id, n",
    "insert into dml_u values (15, 'd@x', 1), (16, 'd@x', 2) on conflict (email) "
    "do update set n = 1",
    "insert into dml_u values (17, 'e@x', 1), (18, 'e@x', 2) on conflict (email) "
    "do nothing returning id",
    "insert into dml_u values (1, 'zz', 0) on conflict (email) do nothing",
    "insert into dml_u values (20, 'zz', 0), (20, 'yy', 0) on conflict (email) do nothing",
    "insert into dml_u values (1, 'q@x', 7) on conflict (id) do update set n = excluded.n "
    "returning *",
    "insert into dml_u values (5, 'a@x', 7) on conflict (id) do nothing",
    "insert into dml_u values (6, 'q', 7), (1, 'r', 7) on conflict do nothing returning id",
    "insert into dml_u values (7, 'a@x', 7) on conflict do nothing returning id",
    "insert into dml_u values (8, 'b@x', 1) on conflict (n) do nothing",
    "update dml_u set email = 'b@x' where id = 1",
]


def generate(seed: int, count: int) -> list[str]:
    """Seeded random DML over the test tables."""
    rng = random.Random(seed)

    def pred_a(alias="dml_a"):
        c = rng.choice([
            lambda: f"{alias}.x > {rng.randint(-5, 20)}",
            lambda: f"{alias}.x <= {rng.randint(-5, 20)}",
            lambda: f"{alias}.x = {rng.randint(-5, 20)}",
            lambda: f"{alias}.x is null",
            lambda: f"{alias}.s is not null",
            lambda: f"{alias}.s = '{rng.choice(WORDS)}'",
            lambda: f"{alias}.s < '{rng.choice(WORDS)}'",
            lambda: f"{alias}.flag",
            lambda: f"{alias}.id between {rng.randint(1, 10)} and {rng.randint(8, 22)}",
            lambda: f"{alias}.n > {rng.randint(-50, 50)}",
            lambda: f"{alias}.x in (select y from dml_b where y < {rng.randint(0, 30)})",
        ])()
        r = rng.random()
        if r < 0.25:
            return f"{c} and {pred_a(alias)}"
        if r < 0.35:
            return f"({c} or {pred_a(alias)})"
        if r < 0.4:
            return f"not ({c})"
        return c

    def pred_b(alias="b"):
        return rng.choice([f"{alias}.y > {rng.randint(0, 30)}", f"{alias}.label = 'red'",
                           f"{alias}.y is null", f"{alias}.label is not null",
                           f"{alias}.y < {rng.randint(0, 30)}"])

    def returning(alias="dml_a", star=True):
        # with FROM / USING, * includes the matched row of the other table, which
        # PostgreSQL picks arbitrarily when several match: spell out the target's columns
        return rng.choice(["", "", " returning *" if star else f" returning {alias}.*",
                           f" returning {alias}.id",
                           f" returning {alias}.id, {alias}.x + 1 as x1"])

    def value_a(alias="dml_a"):
        return rng.choice([f"{alias}.x + {rng.randint(1, 5)}", "null", str(rng.randint(-9, 9)),
                           f"coalesce({alias}.x, 0) * 2", f"{alias}.id * 3",
                           f"(select max(y) from dml_b where dml_b.a_id = {alias}.id)"])

    out = []
    forms = [
        lambda: f"update dml_a set x = {value_a()} where {pred_a()}{returning()}",
        lambda: f"update dml_a set x = {value_a()}, s = coalesce(s, 'was null') "
                f"where {pred_a()}{returning()}",
        lambda: f"delete from dml_a where {pred_a()}{returning()}",
        lambda: f"update dml_a a set x = b.y from dml_b b where b.a_id = a.id and "
                f"{pred_b()} and {pred_a('a')}{returning('a', False)}",
        lambda: f"delete from dml_a a using dml_b b where b.a_id = a.id and {pred_b()}"
                f"{returning('a', False)}",
        lambda: f"delete from dml_a a using dml_b b where b.id = a.id and {pred_b()}"
                f"{returning('a')}",
        lambda: f"insert into dml_a (id, x, s) select id + {rng.choice([0, 5, 100])}, y, "
                f"label from dml_b b where {pred_b()} on conflict (id) do "
                + rng.choice(["nothing", "update set x = excluded.x",
                              "update set x = dml_a.x + coalesce(excluded.x, 0) "
                              "where dml_a.x is not null",
                              "update set s = excluded.s, x = dml_a.id"])
                + returning(),
        lambda: f"insert into dml_a (id, x) select id + 100, x from dml_a where {pred_a()}"
                f"{returning()}",
        lambda: "insert into dml_a (id, x) values " + ", ".join(
            f"({rng.randint(1, 30)}, {rng.randint(0, 9)})" for _ in range(rng.randint(1, 4)))
                + " on conflict (id) do " + rng.choice(["nothing", "update set x = excluded.x"])
                + returning(),
        lambda: f"update dml_c set v = v + 1 where g = {rng.randint(1, 3)} and "
                f"k {rng.choice(['>', '<', '=', '<>'])} {rng.randint(1, 4)} returning *",
    ]
    for _ in range(count):
        out.append(rng.choice(forms)())
    return out


# -- running a case on each side ---------------------------------------------------------
def _norm_value(v):
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return ("float", str(v))
        return ("num", float(f"{v:.12g}"))
    if isinstance(v, decimal.Decimal):
        return ("num", float(f"{float(v):.12g}")) if v.is_finite() else ("num", str(v))
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("num", v)
    return v


def _norm(rows):
    return [tuple(_norm_value(v) for v in r) for r in rows or ()]


def _count(tag: str) -> int | None:
    m = re.search(r"(\d+)$", tag or "")
    return int(m.group(1)) if m else None


def _finals_sql() -> list[str]:
    return [f"select * from {t} order by {order}" for t, order in TABLES.items()]


def _pg_case(conn, sql: str, params: list | None):
    conn.execute("begin")
    try:
        try:
            if params:
                cur = conn.execute(re.sub(r"\$(\d+)", r"%(p\1)s", sql),
                                   {f"p{i + 1}": v for i, v in enumerate(params)})
            else:
                cur = conn.execute(sql)
            returned = cur.fetchall() if cur.description is not None else None
            outcome = ("ok", cur.rowcount, _norm(returned) if returned is not None else None)
        except psycopg.Error as exc:
            return ("error", exc.sqlstate, str(exc).splitlines()[0]), None
        finals = [_norm(conn.execute(q).fetchall()) for q in _finals_sql()]
        return outcome, finals
    finally:
        conn.execute("rollback")


async def _our_case(session, sql: str, params: list | None):
    await session.execute_simple("begin")
    try:
        try:
            if params:
                res = await session.execute_prepared(sql, [], params)
            else:
                res = (await session.execute_simple(sql))[-1]
            outcome = ("ok", _count(res.tag),
                       _norm(res.rows) if res.columns is not None else None)
        except DsqlError as exc:
            return ("error", exc.sqlstate, exc.message), None
        except Exception as exc:  # a bug: report it as a mismatch, keep going
            return ("crash", type(exc).__name__, str(exc)), None
        finals = [_norm((await session.execute_simple(q))[-1].rows) for q in _finals_sql()]
        return outcome, finals
    finally:
        await session.execute_simple("rollback")


def _compare(pg, ours) -> str | None:
    (po, pf), (oo, of) = pg, ours
    if po[0] != oo[0]:
        return f"postgres {po} / ours {oo}"
    if po[0] == "error":
        return None if po[1] == oo[1] else f"SQLSTATE postgres {po[1]} ({po[2]}) / " \
                                           f"ours {oo[1]} ({oo[2]})"
    if po[1] != oo[1]:
        return f"affected rows postgres {po[1]} / ours {oo[1]}"
    if (po[2] is None) != (oo[2] is None) or (
            po[2] is not None and collections.Counter(po[2]) != collections.Counter(oo[2])):
        return f"RETURNING postgres {po[2]} / ours {oo[2]}"
    for name, p, o in zip(TABLES, pf, of):
        if p != o:
            return f"table {name} after: postgres {p[:10]} / ours {o[:10]}"
    return None


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    from dsql_ray.sim.cluster import InProcessCluster
    from dsql_ray.sim.loop import close_loop
    from dsql_ray.testing.postgres import PostgresServer, PostgresUnavailable
    try:
        pg = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    loop = asyncio.new_event_loop()
    cluster = loop.run_until_complete(
        InProcessCluster(tmp_path_factory.mktemp("dml")).start())
    try:
        session = cluster.session()
        with pg.connect() as conn:
            conn.autocommit = True
            for stmt in SETUP + _data():
                conn.execute(stmt)
                loop.run_until_complete(session.execute_simple(stmt))
            yield pg, conn, loop, session
    finally:
        cluster.stop()
        close_loop(loop, timeout_s=5)
        pg.stop()


def test_dml_matches_postgres(sides):
    pg, conn, loop, session = sides
    corpus = [c if isinstance(c, tuple) else (c, None) for c in HAND_WRITTEN] + \
        [(q, None) for q in generate(GENERATED_SEED, GENERATED_COUNT)]
    assert len(corpus) >= 200
    conn.execute("set statement_timeout = '5s'")
    passed, problems = 0, []
    for sql, params in corpus:
        expect = _pg_case(conn, sql, params)
        got = loop.run_until_complete(asyncio.wait_for(_our_case(session, sql, params), 30))
        problem = _compare(expect, got)
        if problem is None:
            passed += 1
        else:
            problems.append((sql, params, problem))
    print(f"\ndifferential DML: {passed}/{len(corpus)} statements equal to PostgreSQL "
          f"{pg.version.split()[0]}")
    for sql, params, problem in problems:
        print(f"MISMATCH: {sql} {params or ''}\n  {problem}")
    assert not problems, f"{len(problems)} DML statements differ from PostgreSQL (see output)"


def test_dml_cases_have_both_outcomes(sides):
    """The corpus is not vacuous: it changes rows, returns rows and raises errors."""
    pg, conn, loop, session = sides
    kinds = collections.Counter()
    for sql in [c if isinstance(c, str) else c[0] for c in HAND_WRITTEN]:
        outcome, _ = _pg_case(conn, sql, None) if "$" not in sql else (("ok", 1, None), None)
        kinds[outcome[0]] += 1
        if outcome[0] == "ok" and outcome[2]:
            kinds["returning"] += 1
    assert kinds["ok"] >= 80 and kinds["error"] >= 10 and kinds["returning"] >= 40
