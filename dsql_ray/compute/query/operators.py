"""The logical plan: small operators, each ``rows(env) -> list[tuple]`` over whole inputs.

scan → join → filter → aggregate → window → project → distinct → sort → limit, plus
set operations, VALUES, CTE scans and recursive unions. Every operator that can grow
its input checks the statement's row budget (SQLSTATE 54000).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...errors import DsqlError, FeatureNotSupported
from ..catalog import TableDef
from .aggregates import AggSpec
from .exprs import Grouping, WinSpec, Windows
from .runtime import CHECK_EVERY, Env, Expr, checked, hashable, row_key, sort_rows


@dataclass
class OutCol:
    name: str
    oid: int
    typmod: int = -1


class Rel:
    columns: list[OutCol]

    def rows(self, env: Env) -> list[tuple]:
        raise NotImplementedError


@dataclass
class OneRow(Rel):
    columns: list[OutCol] = field(default_factory=list)

    def rows(self, env):
        return [()]


@dataclass
class Scan(Rel):
    table: TableDef
    columns: list[OutCol]

    def rows(self, env):
        return env.run.tables[self.table.table_id]


@dataclass
class CteDef:
    name: str
    columns: list[OutCol]
    rel: Rel | None = None
    correlated: bool = False
    work: "WorkTable | None" = None       # set while a recursive CTE's body is planned
    refs: int = 0


@dataclass
class CteScan(Rel):
    cte: CteDef
    columns: list[OutCol]

    def rows(self, env):
        cte = self.cte
        if cte.correlated:
            return cte.rel.rows(env)
        key = ("cte", id(cte))
        got = env.run.cache.get(key)
        if got is None:
            got = env.run.cache[key] = cte.rel.rows(env)
        return got


@dataclass
class WorkTable(Rel):
    """The working table of WITH RECURSIVE: the rows of the previous iteration."""
    columns: list[OutCol]
    current: list[tuple] = field(default_factory=list)

    def rows(self, env):
        return self.current


@dataclass
class RecursiveUnion(Rel):
    base: Rel
    step: Rel
    work: WorkTable
    distinct: bool
    columns: list[OutCol]

    def rows(self, env):
        limit = env.run.config.max_recursion
        out = list(self.base.rows(env))
        seen: set = set()
        if self.distinct:
            out = _unseen(out, seen)
        current = out
        saved = self.work.current
        try:
            for _ in range(limit):
                if not current:
                    return out
                self.work.current = current
                new = self.step.rows(env)
                if self.distinct:
                    new = _unseen(new, seen)
                out.extend(new)
                env.run.check_rows(len(out), out)
                current = new
            if not current:
                return out
        finally:
            self.work.current = saved
        raise DsqlError(f"WITH RECURSIVE did not finish within {limit} iterations",
                        sqlstate="54001",
                        hint="Check the recursive term's stop condition.")


@dataclass
class Values(Rel):
    exprs: list[list[Expr]]
    columns: list[OutCol]

    def rows(self, env):
        return [tuple(e.fn((), env) for e in row) for row in self.exprs]


@dataclass
class Subquery(Rel):
    input: Rel
    columns: list[OutCol]

    def rows(self, env):
        return self.input.rows(env)


@dataclass
class Join(Rel):
    left: Rel
    right: Rel
    kind: str                          # inner, left, right, full, cross
    cond: Callable | None              # on the concatenated row
    lateral: bool
    merged: list[tuple[int, int]]      # USING columns: (left offset, right offset)
    left_keys: list[int]               # equi-join keys (hash join) — left offsets
    right_keys: list[int]              # … and right offsets
    columns: list[OutCol]

    def rows(self, env):
        lrows = self.left.rows(env)
        if self.lateral:
            return self._lateral(lrows, env)
        rrows = self.right.rows(env)
        lw = len(self.left.columns)
        rw = len(self.right.columns)
        cond = self.cond
        out: list[tuple] = []
        check = env.run.check_rows
        lpad, rpad = (None,) * lw, (None,) * rw
        right_matched = [False] * len(rrows) if self.kind in ("right", "full") else None
        if self.left_keys:                   # hash join on the equality keys
            table: dict[tuple, list[int]] = {}
            rk = self.right_keys
            for j, r in enumerate(rrows):
                key = tuple(hashable(r[i]) for i in rk)
                if None not in key:
                    table.setdefault(key, []).append(j)
            lk = self.left_keys

            def candidates(lrow):
                key = tuple(hashable(lrow[i]) for i in lk)
                return () if None in key else table.get(key, ())
            check_over = 4096                # rows held before the next checkpoint
        else:                                # nested loop
            every = range(len(rrows))

            def candidates(lrow):
                return every
            check_over = -1
        keep_left = self.kind in ("left", "full")
        for i, lrow in enumerate(lrows):
            matched = False
            for j in candidates(lrow):
                row = lrow + rrows[j]
                if cond is None or cond(row, env) is True:
                    matched = True
                    out.append(row)
                    if right_matched is not None:
                        right_matched[j] = True
            if not matched and keep_left:
                out.append(lrow + rpad)
            if len(out) > check_over or not i % CHECK_EVERY:
                check(len(out), out)
        if right_matched is not None:
            out.extend(lpad + r for r, m in zip(rrows, right_matched) if not m)
        check(len(out))
        return self._merge(out, lw)

    def _lateral(self, lrows, env):
        rw = len(self.right.columns)
        out = []
        cond = self.cond
        for lrow in lrows:
            matched = False
            for rrow in self.right.rows(env.push(lrow)):
                row = lrow + rrow
                if cond is None or cond(row, env) is True:
                    matched = True
                    out.append(row)
            if not matched and self.kind == "left":
                out.append(lrow + (None,) * rw)
            env.run.check_rows(len(out), out)
        return self._merge(out, len(self.left.columns))

    def _merge(self, out, lw):
        if not self.merged:
            return out
        kind = self.kind
        pairs = [(li, lw + ri) for li, ri in self.merged]
        if kind == "full":
            return [r + tuple(r[a] if r[a] is not None else r[b] for a, b in pairs) for r in out]
        if kind == "right":
            return [r + tuple(r[b] for a, b in pairs) for r in out]
        return [r + tuple(r[a] for a, b in pairs) for r in out]


@dataclass
class Filter(Rel):
    input: Rel
    pred: Callable
    columns: list[OutCol]

    def rows(self, env):
        p = self.pred
        return [r for r in checked(self.input.rows(env), env.run) if p(r, env) is True]


@dataclass
class Aggregate(Rel):
    input: Rel
    keys: list[Expr]
    grouping: Grouping
    having: Callable | None
    columns: list[OutCol]

    def rows(self, env):
        src = self.input.rows(env)
        aggs = self.grouping.aggs
        if not self.keys:
            groups = {(): src}
        else:
            groups: dict[tuple, list[tuple]] = {}
            fns = [k.fn for k in self.keys]
            for r in checked(src, env.run):
                groups.setdefault(tuple(hashable(f(r, env)) for f in fns), []).append(r)
        blank = (None,) * self.grouping.nsrc
        out = []
        having = self.having
        for rows in groups.values():
            row = (rows[0] if rows else blank) + tuple(a.compute(rows, env) for a in aggs)
            if having is None or having(row, env) is True:
                out.append(row)
        return out


# -- window functions -------------------------------------------------------------------------
_ROWS, _RANGE, _GROUPS = 0x4, 0x2, 0x8
_S_UNB_PREC, _E_UNB_FOLL = 0x20, 0x100
_S_CUR, _E_CUR = 0x200, 0x400
_S_OFF_PREC, _E_OFF_PREC, _S_OFF_FOLL, _E_OFF_FOLL = 0x800, 0x1000, 0x2000, 0x4000
_EXCLUDE = 0x8000 | 0x10000 | 0x20000


@dataclass
class Window(Rel):
    input: Rel
    windows: Windows
    columns: list[OutCol]

    def rows(self, env):
        rows = self.input.rows(env)
        specs = self.windows.specs
        values = [[None] * len(specs) for _ in rows]
        for k, spec in enumerate(specs):
            self._compute(spec, k, rows, values, env)
        return [r + tuple(v) for r, v in zip(rows, values)]

    def _compute(self, spec: WinSpec, k: int, rows, values, env):
        parts: dict[tuple, list[int]] = {}
        pfns = [p.fn for p in spec.partition]
        for i, r in enumerate(rows):
            parts.setdefault(tuple(hashable(f(r, env)) for f in pfns), []).append(i)
        ofns = [(o.fn, d, nf) for o, d, nf in spec.order]
        for ids in parts.values():
            okeys = {i: tuple(f(rows[i], env) for f, _, _ in ofns) for i in ids}
            ids = sort_rows(ids, [(lambda i, j=j: okeys[i][j], d, nf)
                                  for j, (_, d, nf) in enumerate(ofns)])
            n = len(ids)
            # peer groups
            gstart, gend, gnum = [0] * n, [0] * n, [0] * n
            start, g = 0, 0
            for p in range(1, n + 1):
                if p == n or okeys[ids[p]] != okeys[ids[start]] or \
                        any(v is None for v in okeys[ids[p]]) != any(
                            v is None for v in okeys[ids[start]]):
                    for q in range(start, p):
                        gstart[q], gend[q], gnum[q] = start, p - 1, g
                    start, g = p, g + 1
            self._fill(spec, k, rows, ids, gstart, gend, gnum, values, env)

    def _fill(self, spec, k, rows, ids, gstart, gend, gnum, values, env):
        """Window function ``spec``'s value for every row of one sorted partition, into
        slot ``k``: ``gstart``/``gend``/``gnum`` give each position's peer group."""
        part = _Partition(rows, ids, gstart, gend, gnum, values, env)
        name = spec.name
        if name in _RANKING:
            for p, i in enumerate(ids):
                values[i][k] = _RANKING[name](part, p)
        elif name == "ntile":
            _fill_ntile(spec, k, part)
        elif name in ("lag", "lead"):
            _fill_offset(spec, k, part)
        elif spec.agg is not None:
            _fill_frame_aggregate(spec, k, part, _frame_bounds(spec, part))
        else:
            _fill_frame_value(spec, k, part, _frame_bounds(spec, part))


@dataclass
class _Partition:
    """One window partition, sorted: ``ids[p]`` is the row at position p."""
    rows: list
    ids: list
    gstart: list
    gend: list
    gnum: list
    values: list
    env: Env

    @property
    def n(self) -> int:
        return len(self.ids)


#: ranking functions: (partition, position) → value
_RANKING = {
    "row_number": lambda part, p: p + 1,
    "rank": lambda part, p: part.gstart[p] + 1,
    "dense_rank": lambda part, p: part.gnum[p] + 1,
    "percent_rank": lambda part, p: part.gstart[p] / (part.n - 1) if part.n > 1 else 0.0,
    "cume_dist": lambda part, p: (part.gend[p] + 1) / part.n,
}


def _fill_ntile(spec, k, part: _Partition) -> None:
    n, rows, values, env = part.n, part.rows, part.values, part.env
    for p, i in enumerate(part.ids):
        buckets = spec.args[0].fn(rows[i], env)
        if buckets is None:
            values[i][k] = None
            continue
        if buckets <= 0:
            raise DsqlError("argument of ntile must be greater than zero", sqlstate="22014")
        q, r = divmod(n, buckets)
        big = r * (q + 1)
        values[i][k] = p // (q + 1) + 1 if p < big else r + (p - big) // max(q, 1) + 1


def _fill_offset(spec, k, part: _Partition) -> None:
    """lag / lead: the value ``offset`` rows before / after, else the default."""
    rows, ids, values, env = part.rows, part.ids, part.values, part.env
    arg = spec.args[0].fn
    off_fn = spec.args[1].fn if len(spec.args) > 1 else None
    dflt = spec.args[2].fn if len(spec.args) > 2 else None
    for p, i in enumerate(ids):
        off = off_fn(rows[i], env) if off_fn else 1
        if off is None:
            values[i][k] = None
            continue
        q = p - off if spec.name == "lag" else p + off
        if 0 <= q < part.n:
            values[i][k] = arg(rows[ids[q]], env)
        else:
            values[i][k] = dflt(rows[i], env) if dflt else None


def _frame_bounds(spec, part: _Partition) -> Callable[[int], tuple[int, int]]:
    """Position → (first, last) position of its frame (ROWS, or RANGE without offsets)."""
    opts, env, n = spec.frame, part.env, part.n
    if opts & _GROUPS or opts & _EXCLUDE:
        raise FeatureNotSupported("GROUPS frames and frame exclusion are not supported")
    rows_mode = bool(opts & _ROWS)
    s_off = spec.start_offset.fn((), env) if spec.start_offset is not None else 0
    e_off = spec.end_offset.fn((), env) if spec.end_offset is not None else 0
    if not rows_mode and opts & (_S_OFF_PREC | _S_OFF_FOLL | _E_OFF_PREC | _E_OFF_FOLL):
        raise FeatureNotSupported("RANGE frames with offsets are not supported")
    if (s_off is not None and s_off < 0) or (e_off is not None and e_off < 0):
        raise DsqlError("frame starting offset must not be negative", sqlstate="22013")

    def edge(p, unbounded, current, preceding, off, group, unbounded_at):
        if opts & unbounded:
            return unbounded_at
        if opts & current:
            return p if rows_mode else group[p]
        return p - off if opts & preceding else p + off

    def bounds(p):
        s = edge(p, _S_UNB_PREC, _S_CUR, _S_OFF_PREC, s_off, part.gstart, 0)
        e = edge(p, _E_UNB_FOLL, _E_CUR, _E_OFF_PREC, e_off, part.gend, n - 1)
        return max(s, 0), min(e, n - 1)
    return bounds


def _fill_frame_aggregate(spec, k, part: _Partition, bounds) -> None:
    """An aggregate over each row's frame; a frame that only grows at its end reuses
    the accumulator of the row before."""
    agg: AggSpec = spec.agg
    values = part.values
    vals = [agg.row_values(part.rows[i], part.env) for i in part.ids]
    acc, acc_s, acc_e = None, 0, 0
    for p, i in enumerate(part.ids):
        s, e = bounds(p)
        if s > e:
            acc = None
            values[i][k] = agg.new().result()
            continue
        if acc is not None and s == acc_s and e >= acc_e:
            rng = range(acc_e + 1, e + 1)
        else:
            acc, acc_s = agg.new(), s
            rng = range(s, e + 1)
        for q in rng:
            if vals[q] is not None:
                acc.add(vals[q])
        acc_e = e
        values[i][k] = acc.result()


def _fill_frame_value(spec, k, part: _Partition, bounds) -> None:
    """first_value, last_value, nth_value over each row's frame."""
    rows, ids, values, env, name = part.rows, part.ids, part.values, part.env, spec.name
    arg = spec.args[0].fn
    for p, i in enumerate(ids):
        s, e = bounds(p)
        if s > e:
            values[i][k] = None
        elif name == "first_value":
            values[i][k] = arg(rows[ids[s]], env)
        elif name == "last_value":
            values[i][k] = arg(rows[ids[e]], env)
        else:
            nth = spec.args[1].fn(rows[i], env)
            if nth is not None and nth <= 0:
                raise DsqlError("argument of nth_value must be greater than zero",
                                sqlstate="22016")
            q = s + nth - 1 if nth is not None else None
            values[i][k] = arg(rows[ids[q]], env) if q is not None and q <= e else None


@dataclass
class Project(Rel):
    input: Rel
    exprs: list[Expr]                 # output columns then hidden (sort / DISTINCT ON) keys
    columns: list[OutCol]

    def rows(self, env):
        fns = [e.fn for e in self.exprs]
        return [tuple(f(r, env) for f in fns) for r in self.input.rows(env)]


@dataclass
class Distinct(Rel):
    input: Rel
    key_cols: list[int]               # columns that decide sameness; first row wins
    columns: list[OutCol]

    def rows(self, env):
        seen = set()
        out = []
        cols = self.key_cols
        for r in self.input.rows(env):
            k = tuple(hashable(r[i]) for i in cols)
            if k not in seen:
                seen.add(k)
                out.append(r)
        return out


@dataclass
class Sort(Rel):
    input: Rel
    keys: list[tuple[int, bool, bool]]   # column, descending, nulls first
    columns: list[OutCol]

    def rows(self, env):
        return sort_rows(self.input.rows(env),
                         [(lambda r, i=i: r[i], d, nf) for i, d, nf in self.keys])


@dataclass
class Limit(Rel):
    input: Rel
    count: Expr | None
    offset: Expr | None
    columns: list[OutCol]

    def rows(self, env):
        rows = self.input.rows(env)
        off = self.offset.fn((), env) if self.offset is not None else None
        cnt = self.count.fn((), env) if self.count is not None else None
        if off is not None:
            if off < 0:
                raise DsqlError("OFFSET must not be negative", sqlstate="2201X")
            rows = rows[off:]
        if cnt is not None:
            if cnt < 0:
                raise DsqlError("LIMIT must not be negative", sqlstate="2201W")
            rows = rows[:cnt]
        return rows


@dataclass
class Strip(Rel):
    """Drop hidden columns (sort keys) after sorting."""
    input: Rel
    columns: list[OutCol]

    def rows(self, env):
        n = len(self.columns)
        return [r[:n] for r in self.input.rows(env)]


@dataclass
class SetOp(Rel):
    op: str                           # union, intersect, except
    all: bool
    left: Rel
    right: Rel
    casts: tuple[list[Callable | None], list[Callable | None]]
    columns: list[OutCol]

    def _side(self, rel, casts, env):
        rows = rel.rows(env)
        if any(casts):
            rows = [tuple(c(v) if c else v for v, c in zip(r, casts)) for r in rows]
        return rows

    def rows(self, env):
        left = self._side(self.left, self.casts[0], env)
        right = self._side(self.right, self.casts[1], env)
        env.run.check_rows(len(left) + len(right), left or right)
        if self.op == "union":
            if self.all:
                return left + right
            return _dedupe(left + right)
        counts: dict[tuple, int] = {}
        for r in right:
            k = row_key(r)
            counts[k] = counts.get(k, 0) + 1
        out = []
        if self.op == "intersect":
            if not self.all:
                return [r for r in _dedupe(left) if row_key(r) in counts]
            for r in left:
                k = row_key(r)
                if counts.get(k, 0) > 0:
                    counts[k] -= 1
                    out.append(r)
            return out
        if not self.all:
            return [r for r in _dedupe(left) if row_key(r) not in counts]
        for r in left:
            k = row_key(r)
            if counts.get(k, 0) > 0:
                counts[k] -= 1
            else:
                out.append(r)
        return out


def _dedupe(rows: list[tuple]) -> list[tuple]:
    return _unseen(rows, set())


def _unseen(rows, seen: set) -> list:
    """The rows whose key is not in ``seen`` yet, first occurrence only; ``seen`` grows."""
    fresh = []
    for r in rows:
        k = row_key(r)
        if k not in seen:
            seen.add(k)
            fresh.append(r)
    return fresh
