"""A seeded generator of random queries over the differential dataset.

Every query either has no ORDER BY (compared as a multiset) or orders by every output
column (a total order, compared exactly); LIMIT only appears under a total order.
"""
from __future__ import annotations

import random

INT_COLS = {"t1": ["id", "a", "b"], "t2": ["id", "t1_id", "qty"], "t3": ["v"]}
NUM_COLS = {"t1": ["n"], "t2": ["price"], "t3": []}
FLOAT_COLS = {"t1": ["f"], "t2": [], "t3": ["w"]}
TEXT_COLS = {"t1": ["s"], "t2": ["label"], "t3": ["k"]}
BOOL_COLS = {"t1": ["flag"], "t2": [], "t3": []}
TEXT_LITS = ["'apple'", "'banana'", "'red'", "'k1'", "''", "'Apple'", "'zz'", "'blue'"]


class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def pick(self, seq):
        return self.r.choice(seq)

    # -- expressions -------------------------------------------------------------------
    def int_expr(self, t: str, q: str, depth: int = 0) -> str:
        r = self.r.random()
        col = f"{q}.{self.pick(INT_COLS[t])}"
        if depth > 1 or r < 0.45:
            return col
        if r < 0.55:
            return str(self.r.randint(-3, 12))
        if r < 0.7:
            return f"({self.int_expr(t, q, depth + 1)} {self.pick(['+', '-', '*'])} " \
                   f"{self.r.randint(1, 5)})"
        if r < 0.78:
            return f"coalesce({col}, {self.r.randint(-1, 3)})"
        if r < 0.84:
            return f"abs({col})"
        if r < 0.9:
            return f"({col} % {self.r.randint(2, 5)})"
        if r < 0.95:
            return f"nullif({col}, {self.r.randint(0, 3)})"
        return f"case when {self.pred(t, q, depth + 1)} then {col} else " \
               f"{self.r.randint(0, 9)} end"

    def value_expr(self, t: str, q: str) -> tuple[str, str]:
        """(expression, kind) over one table."""
        kinds = ["int"] * 4 + ["text"] * 2 + ["num"] * bool(NUM_COLS[t]) * 2 + \
            ["float"] * bool(FLOAT_COLS[t]) + ["bool"] * bool(BOOL_COLS[t])
        kind = self.pick(kinds)
        if kind == "int":
            return self.int_expr(t, q), kind
        if kind == "text":
            c = f"{q}.{self.pick(TEXT_COLS[t])}"
            return self.pick([c, c, f"upper({c})", f"coalesce({c}, 'none')",
                              f"length({c})", f"substr({c}, 1, 2)", f"{c} || 'x'"]), kind
        if kind == "num":
            c = f"{q}.{self.pick(NUM_COLS[t])}"
            return self.pick([c, f"({c} * 2)", f"({c} + 1)", f"round({c})", f"abs({c})"]), kind
        if kind == "float":
            c = f"{q}.{self.pick(FLOAT_COLS[t])}"
            return self.pick([c, f"({c} * 2)", f"({c} + 0.5)"]), kind
        c = f"{q}.{self.pick(BOOL_COLS[t])}"
        return self.pick([c, f"not {c}", f"{c} is true"]), kind

    def pred(self, t: str, q: str, depth: int = 0) -> str:
        r = self.r.random()
        if depth < 2 and r < 0.25:
            op = self.pick(["and", "or"])
            return f"({self.pred(t, q, depth + 1)} {op} {self.pred(t, q, depth + 1)})"
        if depth < 2 and r < 0.32:
            return f"not ({self.pred(t, q, depth + 1)})"
        r = self.r.random()
        if r < 0.35:
            return f"{self.int_expr(t, q, 1)} {self.pick(['=', '<>', '<', '>', '<=', '>='])} " \
                   f"{self.r.randint(-2, 10)}"
        if r < 0.45:
            c = self.pick(INT_COLS[t] + TEXT_COLS[t] + NUM_COLS[t] + BOOL_COLS[t])
            return f"{q}.{c} is {self.pick(['', 'not '])}null"
        if r < 0.55:
            vals = ", ".join(str(self.r.randint(-2, 8)) for _ in range(self.r.randint(1, 4)))
            if self.r.random() < 0.3:
                vals += ", null"
            return f"{q}.{self.pick(INT_COLS[t])} {self.pick(['in', 'not in'])} ({vals})"
        if r < 0.65:
            c = f"{q}.{self.pick(TEXT_COLS[t])}"
            return self.pick([f"{c} = {self.pick(TEXT_LITS)}", f"{c} < {self.pick(TEXT_LITS)}",
                              f"{c} like '{self.pick(['a', 'b', 'r', 'k', '%'])}%'",
                              f"{c} ilike '%{self.pick(['e', 'a', 'x'])}%'"])
        if r < 0.72:
            lo = self.r.randint(-3, 5)
            return f"{self.int_expr(t, q, 1)} {self.pick(['', 'not '])}between {lo} and " \
                   f"{lo + self.r.randint(0, 6)}"
        if r < 0.8 and NUM_COLS[t]:
            return f"{q}.{self.pick(NUM_COLS[t])} {self.pick(['<', '>', '>='])} " \
                   f"{self.r.randint(-500, 800)}.{self.r.randint(0, 99):02d}"
        if r < 0.86 and BOOL_COLS[t]:
            c = f"{q}.{self.pick(BOOL_COLS[t])}"
            return self.pick([c, f"not {c}", f"{c} is not false", f"{c} = true",
                              f"{c} is distinct from false"])
        if r < 0.92:
            a, b = self.pick(INT_COLS[t]), self.pick(INT_COLS[t])
            return f"{q}.{a} {self.pick(['is distinct from', 'is not distinct from', '='])} " \
                   f"{q}.{b}"
        if FLOAT_COLS[t]:
            return f"{q}.{self.pick(FLOAT_COLS[t])} {self.pick(['<', '>'])} " \
                   f"{self.pick(['0', '1.3', '-1'])}"
        return f"{q}.{self.pick(INT_COLS[t])} > 0"

    # -- query shapes ----------------------------------------------------------------------
    def order_all(self, n: int, limit: bool = True) -> str:
        parts = []
        for i in range(1, n + 1):
            parts.append(f"{i}{self.pick(['', ' desc', ' nulls first', ' desc nulls last'])}")
        out = " order by " + ", ".join(parts)
        if limit and self.r.random() < 0.3:
            out += f" limit {self.r.randint(0, 8)}"
            if self.r.random() < 0.4:
                out += f" offset {self.r.randint(0, 5)}"
        return out

    def simple(self) -> str:
        t = self.pick(["t1", "t1", "t2", "t3"])
        n = self.r.randint(1, 4)
        cols = [self.value_expr(t, t)[0] for _ in range(n)]
        sql = f"select {', '.join(cols)} from {t}"
        if self.r.random() < 0.85:
            sql += f" where {self.pred(t, t)}"
        if self.r.random() < 0.15:
            sql = sql.replace("select ", "select distinct ", 1)
        if self.r.random() < 0.7:
            sql += self.order_all(n)
        return sql

    def join(self) -> str:
        kind = self.pick(["join", "left join", "right join", "full join", "join", "left join"])
        cond = self.pick(["x.id = y.t1_id", "x.a = y.qty", "x.id = y.id",
                          "x.id = y.t1_id and y.qty > 3", "x.s = y.label or x.a = y.qty"])
        if kind == "full join" and " or " in cond:
            cond = "x.id = y.t1_id"
        cols = [self.pick(["x.id", "x.a", "x.s", "x.n"]), self.pick(["y.id", "y.qty", "y.label",
                                                                        "y.price"])]
        sql = f"select {', '.join(cols)} from t1 x {kind} t2 y on {cond}"
        r = self.r.random()
        if r < 0.4:
            sql += f" where {self.pred('t1', 'x')}"
        elif r < 0.7:
            sql += f" where {self.pred('t2', 'y')}"
        if self.r.random() < 0.6:
            sql += self.order_all(2)
        return sql

    def group(self) -> str:
        t = self.pick(["t1", "t1", "t2"])
        keys = self.r.sample(INT_COLS[t][1:] + TEXT_COLS[t] + BOOL_COLS[t],
                             self.r.randint(1, 2))
        aggs = []
        for _ in range(self.r.randint(1, 3)):
            f = self.pick(["count(*)", "count({c})", "sum({c})", "min({c})", "max({c})",
                           "avg({c})", "count(distinct {c})", "sum({n})", "avg({n})",
                           "max({n})", "min({t})", "max({t})"])
            aggs.append(f.format(c=self.pick(INT_COLS[t]), n=self.pick(NUM_COLS[t]),
                                 t=self.pick(TEXT_COLS[t])))
        sql = f"select {', '.join(keys + aggs)} from {t}"
        if self.r.random() < 0.5:
            sql += f" where {self.pred(t, t)}"
        sql += f" group by {', '.join(keys)}"
        if self.r.random() < 0.3:
            sql += f" having count(*) {self.pick(['>', '>=', '<'])} {self.r.randint(1, 3)}"
        if self.r.random() < 0.7:
            sql += " order by " + ", ".join(
                f"{i + 1}{self.pick(['', ' desc', ' nulls first'])}" for i in range(len(keys)))
        return sql

    def setop(self) -> str:
        op = self.pick(["union", "union all", "intersect", "intersect all", "except",
                        "except all"])
        kind = self.pick(["int", "text"])
        if kind == "int":
            left = f"select {self.int_expr('t1', 't1', 1)} from t1 where {self.pred('t1', 't1')}"
            right = f"select {self.int_expr('t2', 't2', 1)} from t2 where {self.pred('t2', 't2')}"
        else:
            left = f"select t1.s from t1 where {self.pred('t1', 't1')}"
            right = f"select t2.label from t2 where {self.pred('t2', 't2')}"
        sql = f"{left} {op} {right}"
        if self.r.random() < 0.6:
            sql += " order by 1" + self.pick(["", " desc", " nulls first"])
        return sql

    def subquery(self) -> str:
        r = self.r.random()
        if r < 0.3:
            return f"select t1.id from t1 where t1.a {self.pick(['in', 'not in'])} " \
                   f"(select t2.qty from t2 where {self.pred('t2', 't2')}) order by 1"
        if r < 0.55:
            return f"select t1.id from t1 where {self.pick(['', 'not '])}exists (select 1 " \
                   f"from t2 where t2.t1_id = t1.id and {self.pred('t2', 't2')}) order by 1"
        if r < 0.8:
            agg = self.pick(["count(*)", "sum(t2.qty)", "max(t2.price)", "min(t2.label)"])
            return f"select t1.id, (select {agg} from t2 where t2.t1_id = t1.id) from t1 " \
                   f"where {self.pred('t1', 't1')} order by 1"
        return f"select t1.id from t1 where t1.a {self.pick(['>', '<', '='])} " \
               f"{self.pick(['any', 'all'])} (select t3.v from t3 where " \
               f"{self.pred('t3', 't3')}) order by 1"

    def window(self) -> str:
        fn = self.pick(["row_number()", "rank()", "dense_rank()", "sum(t1.a)", "count(*)",
                        "max(t1.n)", "lag(t1.a)", "lead(t1.s, 1, 'end')", "avg(t1.a)"])
        part = self.pick(["", "partition by t1.flag ", "partition by t1.a % 2 "])
        order = self.pick(["order by t1.id", "order by t1.a, t1.id", "order by t1.a",
                           "order by t1.s desc, t1.id"])
        if fn in ("row_number()", "lag(t1.a)", "lead(t1.s, 1, 'end')"):
            order = "order by t1.id" if "t1.id" not in order else order
        return f"select t1.id, {fn} over ({part}{order}) from t1 where " \
               f"{self.pred('t1', 't1')} order by 1"

    def cte(self) -> str:
        key = self.pick(["a", "flag", "s"])
        return f"with c as (select {key} as k, count(*) as n, sum(t1.a) as total from t1 " \
               f"where {self.pred('t1', 't1')} group by {key}) select c.k, c.n, c.total, " \
               f"(select count(*) from t2 where t2.qty = c.n) from c order by 1 nulls first"

    def query(self) -> str:
        shape = self.r.random()
        if shape < 0.3:
            return self.simple()
        if shape < 0.48:
            return self.join()
        if shape < 0.64:
            return self.group()
        if shape < 0.76:
            return self.setop()
        if shape < 0.86:
            return self.subquery()
        if shape < 0.94:
            return self.window()
        return self.cte()


def generate(seed: int, count: int) -> list[str]:
    g = Gen(seed)
    return [g.query() for _ in range(count)]
