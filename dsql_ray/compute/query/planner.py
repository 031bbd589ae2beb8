"""SELECT → logical plan (operators.py), with PostgreSQL's naming and typing rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import BoolExprType, JoinType, SetOperation, SortByDir, SortByNulls

from ...errors import (AmbiguousColumn, DatatypeMismatch, DsqlError, DuplicateAlias,
                       FeatureNotSupported, GroupingError, InvalidColumnReference,
                       ParseError, UndefinedColumn)
from .. import types as T
from . import sqltypes as S
from .aggregates import AGGREGATES
from .exprs import ExprCompiler, Grouping, Windows, char_length, figure_colname
from .operators import (Aggregate, CteDef, CteScan, Distinct, Filter, Join, Limit, OneRow,
                        OutCol, Project, RecursiveUnion, Rel, Scan, SetOp, Sort, Strip,
                        Subquery, Values, Window, WorkTable)
from . import srfs
from .astwalk import any_node
from .runtime import Expr
from .scope import CteNamespace, Entry, Frame, Scope


def contains_aggregate(node: Any) -> bool:
    """Does the expression call an aggregate at this query level (not in sub-queries)?"""
    found = False

    def walk(n):
        nonlocal found
        if found or n is None:
            return
        if isinstance(n, (list, tuple)):
            for x in n:
                walk(x)
            return
        if not isinstance(n, ast.Node):
            return
        if isinstance(n, (ast.SubLink, ast.SelectStmt, ast.RangeSubselect)):
            return
        if isinstance(n, ast.FuncCall) and n.over is None and \
                n.funcname[-1].sval.lower() in AGGREGATES:
            found = True
            return
        if isinstance(n, ast.FuncCall) and n.over is not None:
            walk(n.args)                      # sum(sum(x)) OVER () groups
            return
        for name in n:
            walk(getattr(n, name))
    walk(node)
    return found


def _const_int(node) -> int | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        return node.val.ival
    return None


def _single_name(node) -> str | None:
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 1 and \
            isinstance(node.fields[0], ast.String):
        return node.fields[0].sval
    return None


def _sort_flags(sortby: ast.SortBy) -> tuple[bool, bool]:
    if sortby.useOp:
        raise FeatureNotSupported("ORDER BY ... USING is not supported")
    desc = sortby.sortby_dir == SortByDir.SORTBY_DESC
    nulls_first = desc if sortby.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT \
        else sortby.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
    return desc, nulls_first


def _target_identity(target, scope: Scope) -> str:
    """What a select-list item is: a column of the FROM list (whether named or from a *
    expansion) or an expression's tree."""
    _, node, off = target
    if node is None:
        return f"col{off}"
    if isinstance(node, ast.ColumnRef):
        try:
            owner, offset = scope.resolve(node.fields)
        except DsqlError:
            return repr(node)
        if owner is scope:
            return f"col{offset}"
    return repr(node)


class SelectPlanner:
    """Plans one statement. ``catalog.resolve(rangevar) -> TableDef``."""

    def __init__(self, catalog, param_oids: list[int] | None = None, user: str = "admin"):
        self.catalog = catalog
        self.param_oids = list(param_oids or [])
        self.frames: list[Frame] = []
        self.tables: dict[int, Any] = {}
        self.user = user
        self.for_update = False
        #: rows come from a generator (set-returning function, recursive CTE): how many
        #: is unknown before the statement runs (query/threads.py)
        self.generates = False

    # -- parameters ----------------------------------------------------------------------------
    def note_param(self, n: int, oid: int) -> int:
        while len(self.param_oids) < n:
            self.param_oids.append(0)
        if oid and oid != S.UNKNOWN and not self.param_oids[n - 1]:
            self.param_oids[n - 1] = oid
        return self.param_oids[n - 1]

    # -- entry points ----------------------------------------------------------------------------
    def plan(self, stmt: ast.SelectStmt) -> Rel:
        return self._finalize_unknown(self.plan_query(stmt, None, 0, CteNamespace()))

    def plan_sublink(self, stmt: ast.SelectStmt, scope: Scope) -> tuple[Rel, Frame]:
        frame = Frame(scope.level + 1)
        self.frames.append(frame)
        try:
            rel = self._finalize_unknown(self.plan_query(stmt, scope, scope.level + 1,
                                                         scope.ctes))
        finally:
            self.frames.pop()
        return rel, frame

    def plan_query(self, stmt: ast.SelectStmt, parent: Scope | None, level: int,
                   ctes: CteNamespace) -> Rel:
        if stmt.withClause is not None:
            ctes = self.plan_with(stmt.withClause, parent, level, ctes)
        if stmt.intoClause is not None:
            raise FeatureNotSupported("SELECT INTO is not supported")
        if stmt.op != SetOperation.SETOP_NONE:
            rel = self.plan_setop(stmt, parent, level, ctes)
            return self.finish_on_output(rel, stmt, parent, level, ctes)
        if stmt.valuesLists:
            rel = self.plan_values(stmt.valuesLists, parent, level, ctes)
            return self.finish_on_output(rel, stmt, parent, level, ctes)
        return self.plan_simple(stmt, parent, level, ctes)

    # -- WITH ----------------------------------------------------------------------------------
    def plan_with(self, with_: ast.WithClause, parent, level, ctes) -> CteNamespace:
        ns = CteNamespace(parent=ctes)
        for cte in with_.ctes:
            if cte.ctename in ns.ctes:
                raise DuplicateAlias(f'WITH query name "{cte.ctename}" specified more than once')
            query = cte.ctequery
            if not isinstance(query, ast.SelectStmt):
                raise FeatureNotSupported("data-modifying statements in WITH are not supported")
            aliases = [a.sval for a in cte.aliascolnames or ()]
            frame = Frame(level)
            self.frames.append(frame)
            try:
                if with_.recursive and self._self_referencing(query, cte.ctename):
                    d = self.plan_recursive(cte, query, aliases, parent, level, ns)
                else:
                    rel = self._finalize_unknown(self.plan_query(query, parent, level, ns))
                    d = CteDef(cte.ctename, self._rename(rel.columns, aliases, cte.ctename), rel)
            finally:
                self.frames.pop()
            d.correlated = frame.correlated
            ns.ctes[cte.ctename] = d
        return ns

    @staticmethod
    def _rename(cols: list[OutCol], aliases: list[str], what: str) -> list[OutCol]:
        if len(aliases) > len(cols):
            raise InvalidColumnReference(
                f'{what} has {len(cols)} columns available but {len(aliases)} '
                "columns specified")
        return [OutCol(aliases[i] if i < len(aliases) else c.name, c.oid)
                for i, c in enumerate(cols)]

    @staticmethod
    def _self_referencing(query, name: str) -> bool:
        return any_node(query, lambda n: isinstance(n, ast.RangeVar) and n.relname == name
                        and not n.schemaname)

    def plan_recursive(self, cte, query, aliases, parent, level, ns) -> CteDef:
        name = cte.ctename
        if query.op != SetOperation.SETOP_UNION or query.sortClause or query.limitCount:
            raise DsqlError(f'recursive query "{name}" does not have the form '
                            "non-recursive-term UNION [ALL] recursive-term", sqlstate="42P19")
        base = self.plan_query(query.larg, parent, level, ns)
        base = self._finalize_unknown(base)
        cols = self._rename(base.columns, aliases, name)
        work = WorkTable(cols)
        d = CteDef(name, cols, None, work=work)
        ns.ctes[name] = d
        try:
            step = self.plan_query(query.rarg, parent, level, ns)
        finally:
            del ns.ctes[name]
        if len(step.columns) != len(cols):
            raise ParseError("each UNION query must have the same number of columns")
        casts = []
        for c, s in zip(cols, step.columns):
            if s.oid != c.oid:
                if S.category(s.oid) != S.category(c.oid) and s.oid != S.UNKNOWN:
                    raise DatatypeMismatch(f'recursive query "{name}" column {len(casts) + 1} has '
                                           f"type {S.type_name(c.oid)} in non-recursive term but "
                                           f"type {S.type_name(s.oid)} overall",
                                           hint="Cast the output of the non-recursive term to the "
                                         "correct type.")
                casts.append(lambda v, oid=c.oid: S.cast(v, oid))
            else:
                casts.append(None)
        if any(casts):
            step = _CastOnly(step, casts, cols)
        d.work = None
        d.rel = RecursiveUnion(base, step, work, not query.all, cols)
        self.generates = True
        return d

    # -- set operations ---------------------------------------------------------------------------
    def plan_setop(self, stmt, parent, level, ctes) -> Rel:
        op = {SetOperation.SETOP_UNION: "union", SetOperation.SETOP_INTERSECT: "intersect",
              SetOperation.SETOP_EXCEPT: "except"}[stmt.op]
        left = self.plan_query(stmt.larg, parent, level, ctes)
        right = self.plan_query(stmt.rarg, parent, level, ctes)
        if len(left.columns) != len(right.columns):
            raise ParseError(f"each {op.upper()} query must have the same number of columns")
        cols, lcasts, rcasts = [], [], []
        for lc, rc in zip(left.columns, right.columns):
            oid = S.common_type([lc.oid, rc.oid], op.upper())
            cols.append(OutCol(lc.name, oid))
            lcasts.append(self._caster(lc.oid, oid))
            rcasts.append(self._caster(rc.oid, oid))
        return SetOp(op, bool(stmt.all), left, right, (lcasts, rcasts), cols)

    @staticmethod
    def _caster(src: int, dst: int):
        if src == dst or (S.category(src) in ("S", "X") and S.category(dst) == "S"):
            return None
        return lambda v: S.cast(v, dst)

    def _finalize_unknown(self, rel: Rel) -> Rel:
        if not any(c.oid in (S.UNKNOWN, 0) for c in rel.columns):
            return rel
        cols = [OutCol(c.name, T.TEXT if c.oid in (S.UNKNOWN, 0) else c.oid)
                for c in rel.columns]
        return _CastOnly(rel, [None] * len(cols), cols)

    # -- VALUES -----------------------------------------------------------------------------------
    def plan_values(self, lists, parent, level, ctes) -> Rel:
        scope = Scope(level, parent, ctes)
        comp = ExprCompiler(self, scope, "VALUES")
        rows = [[comp.compile(n) for n in row] for row in lists]
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise ParseError("VALUES lists must all be the same length")
        cols = []
        for j in range(width):
            column, oid = comp.common([r[j] for r in rows], "VALUES")
            for r, e in zip(rows, column):
                r[j] = e
            cols.append(OutCol(f"column{j + 1}", oid))
        return Values(rows, cols)

    def finish_on_output(self, rel: Rel, stmt, parent, level, ctes) -> Rel:
        """ORDER BY / LIMIT over a set operation's or VALUES' output columns."""
        keys = []
        names = [c.name for c in rel.columns]
        for sortby in stmt.sortClause or ():
            desc, nf = _sort_flags(sortby)
            pos = _const_int(sortby.node)
            name = _single_name(sortby.node)
            if pos is not None:
                if not 1 <= pos <= len(names):
                    raise InvalidColumnReference(f"ORDER BY position {pos} is not in select list")
                keys.append((pos - 1, desc, nf))
            elif name is not None and name in names:
                keys.append((names.index(name), desc, nf))
            elif name is not None:
                raise UndefinedColumn(f'column "{name}" does not exist')
            else:
                raise FeatureNotSupported(
                    "invalid UNION/INTERSECT/EXCEPT ORDER BY clause",
                    detail="Only result column names can be used, not expressions or "
                           "functions.")
        if keys:
            rel = Sort(rel, keys, rel.columns)
        return self._limit(rel, stmt, parent, level, ctes)

    def _limit(self, rel: Rel, stmt, parent, level, ctes) -> Rel:
        if stmt.lockingClause:
            self.for_update = True
        if stmt.limitCount is None and stmt.limitOffset is None:
            return rel
        if stmt.limitOption is not None and getattr(stmt.limitOption, "name", "") == \
                "LIMIT_OPTION_WITH_TIES":
            raise FeatureNotSupported("FETCH ... WITH TIES is not supported")
        comp = ExprCompiler(self, Scope(level, parent, ctes), "LIMIT")
        count = self._int_expr(comp, stmt.limitCount)
        offset = self._int_expr(comp, stmt.limitOffset)
        return Limit(rel, count, offset, rel.columns)

    @staticmethod
    def _int_expr(comp: ExprCompiler, node) -> Expr | None:
        if node is None:
            return None
        e = comp.coerce(comp.compile(node), T.INT8)
        if e.oid not in S.NUMERICS:
            raise DatatypeMismatch(f"argument of LIMIT must be type bigint, not type "
                                   f"{S.type_name(e.oid)}")
        return comp.cast(e, T.INT8) if e.oid != T.INT8 else e

    # -- FROM -----------------------------------------------------------------------------------------
    def plan_from(self, items, parent, level, ctes, where=None) -> tuple[Rel, Scope]:
        """The FROM list as a chain of joins. ``where``: the level's WHERE clause, whose
        conjuncts may also be used early (the caller still applies all of it): one that
        reads a single FROM item filters that item before it is joined, and ``x = y``
        between the items joined so far and the next makes that join a hash join."""
        if not items:
            return OneRow([]), Scope(level, parent, ctes)
        conjs = [c for c in _conjuncts(where) if _early(c)]
        rel, scope = self.plan_item(items[0], parent, level, ctes, None)
        if len(items) > 1:
            rel = self._prefilter(rel, scope, conjs)
        for item in items[1:]:
            rrel, rscope = self.plan_item(item, parent, level, ctes, scope)
            lateral = _is_lateral(item)
            kind, quals = "cross", None
            if not lateral:
                rrel = self._prefilter(rrel, rscope, conjs)
                keys = [c for c in conjs if _joins(c, scope, rscope)]
                if keys:
                    kind = "inner"
                    quals = keys[0] if len(keys) == 1 else ast.BoolExpr(
                        boolop=BoolExprType.AND_EXPR, args=tuple(keys))
            rel, scope = self._combine(rel, scope, rrel, rscope, kind, quals, [], lateral,
                                       None, ctes)
        return rel, scope

    def _prefilter(self, rel: Rel, scope: Scope, conjs: list) -> Rel:
        """``rel`` filtered by the conjuncts that read only its own columns."""
        preds = []
        for c in conjs:
            if not _local_to(c, scope):
                continue
            try:
                preds.append(ExprCompiler(self, scope, "WHERE").boolean(c, "WHERE").fn)
            except DsqlError:
                continue            # the full WHERE clause reports it
        if not preds:
            return rel
        if len(preds) == 1:
            return Filter(rel, preds[0], rel.columns)
        return Filter(rel, lambda row, env: all(p(row, env) is True for p in preds),
                      rel.columns)

    def plan_item(self, item, parent, level, ctes, left_scope: Scope | None
                  ) -> tuple[Rel, Scope]:
        if isinstance(item, ast.RangeVar):
            return self._range_var(item, parent, level, ctes)
        if isinstance(item, ast.RangeSubselect):
            if item.lateral and left_scope is not None:
                rel = self.plan_query(item.subquery, left_scope, level + 1, ctes)
            else:
                rel = self.plan_query(item.subquery, parent, level, ctes)
            if item.alias is None:
                alias = None
                cols = rel.columns
            else:
                alias = item.alias.aliasname
                cols = self._rename(rel.columns, [a.sval for a in item.alias.colnames or ()],
                                    alias)
            rel = self._finalize_unknown(rel)
            cols = [OutCol(c.name, r.oid, r.typmod) for c, r in zip(cols, rel.columns)]
            scope = Scope(level, parent, ctes)
            entry = scope.add_entry(alias, [c.name for c in cols], [c.oid for c in cols])
            entry.typmods = [c.typmod for c in cols]
            return Subquery(rel, cols), scope
        if isinstance(item, ast.JoinExpr):
            return self._join(item, parent, level, ctes, left_scope)
        if isinstance(item, ast.RangeFunction):
            return self._range_function(item, parent, level, ctes, left_scope)
        raise FeatureNotSupported(f"{type(item).__name__} in FROM is not supported yet")

    def _range_var(self, rv: ast.RangeVar, parent, level, ctes) -> tuple[Rel, Scope]:
        alias = rv.alias.aliasname if rv.alias else rv.relname
        colaliases = [a.sval for a in (rv.alias.colnames or ())] if rv.alias else []
        cte = ctes.lookup(rv.relname) if not rv.schemaname else None
        scope = Scope(level, parent, ctes)
        if cte is not None:
            cols = self._rename(cte.columns, colaliases, alias)
            rel = cte.work if cte.work is not None else CteScan(cte, cols)
            scope.add_entry(alias, [c.name for c in cols], [c.oid for c in cols])
            return rel, scope
        table = self.catalog.resolve(rv)
        self.tables[table.table_id] = table
        cols = self._rename([OutCol(c.name, c.type_oid) for c in table.columns], colaliases,
                            alias)
        scope.add_entry(alias, [c.name for c in cols], [c.oid for c in cols], table)
        return Scan(table, cols), scope

    def _range_function(self, item: ast.RangeFunction, parent, level, ctes, left_scope):
        """Functions in FROM (srfs.py): set-returning or scalar, ROWS FROM, WITH
        ORDINALITY, column aliases; implicitly LATERAL after other FROM items."""
        if left_scope is not None:     # implicitly LATERAL: may read earlier FROM items
            arg_scope = Scope(level + 1, left_scope, ctes)
        else:
            arg_scope = Scope(level, parent, ctes)
        comp = ExprCompiler(self, arg_scope, "FROM")
        specs = [srfs.compile_call(comp, call) for call in srfs.split_calls(item)]
        as_values = item.alias is not None and item.alias.aliasname == srfs.LIFTED
        alias, cols = srfs.output_columns(specs, item, as_values)
        rel = srfs.FunctionScan(specs, bool(item.ordinality),
                                [OutCol(n, o) for n, o in cols], as_values)
        self.generates = self.generates or any(s.name in srfs.SRFS for s in specs)
        rel.lateral = left_scope is not None
        scope = Scope(level, parent, ctes)
        scope.add_entry(alias, [n for n, _ in cols], [o for _, o in cols])
        return rel, scope

    def _join(self, j: ast.JoinExpr, parent, level, ctes, outer_left: Scope | None):
        lrel, lscope = self.plan_item(j.larg, parent, level, ctes, outer_left)
        rrel, rscope = self.plan_item(j.rarg, parent, level, ctes, lscope)
        kind = {JoinType.JOIN_INNER: "inner", JoinType.JOIN_LEFT: "left",
                JoinType.JOIN_RIGHT: "right", JoinType.JOIN_FULL: "full"}.get(j.jointype)
        if kind is None:
            raise FeatureNotSupported(f"join type {j.jointype.name} is not supported")
        if kind == "inner" and j.quals is None and not j.usingClause and not j.isNatural:
            kind = "cross"
        lateral = _is_lateral(j.rarg)
        if lateral and kind in ("right", "full"):
            raise InvalidColumnReference("invalid reference to FROM-clause entry for table")
        using = [u.sval for u in j.usingClause or ()]
        if j.isNatural:
            lnames = [lscope.names[o] for o in lscope.star if o not in lscope.hidden]
            rnames = {rscope.names[o] for o in rscope.star if o not in rscope.hidden}
            using = [n for n in dict.fromkeys(lnames) if n in rnames]
        alias = j.alias.aliasname if j.alias else None
        return self._combine(lrel, lscope, rrel, rscope, kind, j.quals, using, lateral, alias,
                             ctes, natural=bool(j.isNatural))

    def _combine(self, lrel, lscope: Scope, rrel, rscope: Scope, kind, quals, using, lateral,
                 alias, ctes, natural=False) -> tuple[Rel, Scope]:
        scope = Scope(lscope.level, lscope.parent, ctes)
        scope.entries = list(lscope.entries)
        scope.oids, scope.names = list(lscope.oids), list(lscope.names)
        scope.hidden, scope.star = set(lscope.hidden), list(lscope.star)
        shift = scope.absorb(rscope)
        merged, lkeys, rkeys = [], [], []
        cond = None
        if using:
            comp = ExprCompiler(self, scope, "JOIN/USING")
            merged_oids = []
            conds = []
            for name in using:
                lo = self._using_side(lscope, name, "left")
                ro = self._using_side(rscope, name, "right")
                lt, rt = lscope.oids[lo], rscope.oids[ro]
                le = Expr(lambda r, e, i=lo: r[i], lt)
                re_ = Expr(lambda r, e, i=ro + shift: r[i], rt)
                conds.append(comp.binary("=", le, re_))
                merged.append((lo, ro))
                merged_oids.append(S.common_type([lt, rt], "JOIN/USING"))
                if S.category(lt) == S.category(rt):
                    lkeys.append(lo)
                    rkeys.append(ro)
            if len(lkeys) != len(conds):
                lkeys, rkeys = [], []
                fns = [c.fn for c in conds]
                cond = lambda row, env: all(f(row, env) is True for f in fns)  # noqa: E731
            base = scope.width
            moffs = list(range(base, base + len(using)))
            lhide = [lo for lo, _ in merged]
            rhide = [ro + shift for _, ro in merged]
            scope.oids.extend(merged_oids)
            scope.names.extend(using)
            scope.hidden |= set(lhide) | set(rhide)
            star = moffs + [o for o in lscope.star if o not in lhide] + \
                [o + shift for o in rscope.star if o + shift not in rhide]
            scope.entries.append(Entry(None, list(using), moffs))
            scope.star = star
        elif quals is not None:
            comp = ExprCompiler(self, scope, "JOIN conditions")
            pred = comp.boolean(quals, "JOIN/ON")
            cond = pred.fn
            if not lateral:
                lkeys, rkeys = self._equi_keys(quals, scope, lscope.width)
        cols = [OutCol(scope.names[i], scope.oids[i]) for i in range(scope.width)]
        if isinstance(rrel, srfs.FunctionScan):
            lateral = rrel.lateral
        rel = Join(lrel, rrel, kind, cond, lateral, merged, lkeys, rkeys, cols)
        if alias is not None:
            aliased = Scope(scope.level, scope.parent, ctes)
            aliased.oids, aliased.names = scope.oids, scope.names
            aliased.star = scope.star
            aliased.entries = [Entry(alias, [scope.names[o] for o in scope.star], scope.star)]
            scope = aliased
        return rel, scope

    @staticmethod
    def _using_side(scope: Scope, name: str, side: str) -> int:
        hits, _ = scope.find_local(None, name)
        if not hits:
            raise UndefinedColumn(f'column "{name}" specified in USING clause does not exist in '
                                  f"{side} table")
        if len(hits) > 1:
            raise AmbiguousColumn(f'common column name "{name}" appears more than once in {side} '
                                  "table")
        return hits[0]

    def _equi_keys(self, quals, scope: Scope, lwidth: int) -> tuple[list[int], list[int]]:
        lkeys, rkeys = [], []
        for c in _conjuncts(quals):
            if not (isinstance(c, ast.A_Expr) and c.kind == 0 and c.name[-1].sval == "="
                    and isinstance(c.lexpr, ast.ColumnRef) and isinstance(c.rexpr, ast.ColumnRef)):
                continue
            try:
                ls, lo = scope.resolve(c.lexpr.fields)
                rs, ro = scope.resolve(c.rexpr.fields)
            except DsqlError:
                continue
            if ls is not scope or rs is not scope:
                continue
            if S.category(scope.oids[lo]) != S.category(scope.oids[ro]) or \
                    S.category(scope.oids[lo]) not in ("N", "S", "B"):
                continue
            if lo >= lwidth > ro:
                lo, ro = ro, lo
            if lo < lwidth <= ro:
                lkeys.append(lo)
                rkeys.append(ro - lwidth)
        return lkeys, rkeys

    # -- one SELECT -------------------------------------------------------------------------------------
    def plan_simple(self, stmt: ast.SelectStmt, parent, level, ctes) -> Rel:
        srfs.lift_targetlist(stmt, bool(stmt.groupClause) or stmt.havingClause is not None or
                             contains_aggregate([t.val for t in stmt.targetList or ()]),
                             figure_colname)
        rel, scope = self.plan_from(stmt.fromClause or (), parent, level, ctes,
                                    stmt.whereClause)
        if stmt.whereClause is not None:
            if contains_aggregate(stmt.whereClause):
                raise GroupingError("aggregate functions are not allowed in WHERE")
            comp = ExprCompiler(self, scope, "WHERE")
            rel = Filter(rel, comp.boolean(stmt.whereClause, "WHERE").fn, rel.columns)

        targets = self._expand_targets(stmt.targetList or (), scope)
        sort_nodes = [s.node for s in stmt.sortClause or ()]
        grouping = Grouping(scope.width)
        grouping.grouped = bool(stmt.groupClause) or stmt.havingClause is not None or \
            contains_aggregate([t[1] for t in targets if t[1] is not None]) or \
            contains_aggregate(stmt.havingClause) or contains_aggregate(sort_nodes)
        windows = Windows(named={w.name: w for w in stmt.windowClause or ()})
        comp = ExprCompiler(self, scope, "SELECT", grouping, windows)

        group_keys = self._group_keys(stmt, targets, scope, grouping)
        out_exprs: list[Expr] = []
        out_cols: list[OutCol] = []
        for name, node, offset in targets:
            if node is None:
                e = self._star_column(comp, scope, offset)
            else:
                e = comp.compile(node)        # unknown stays unknown for UNION typing
            out_exprs.append(e)
            out_cols.append(OutCol(name, e.oid, _typmod(e)))

        having = None
        if stmt.havingClause is not None:
            comp.clause = "HAVING"
            having = comp.boolean(stmt.havingClause, "HAVING").fn
            comp.clause = "SELECT"

        keys = self._order_keys(stmt, targets, scope, comp)

        if grouping.grouped:
            agg_cols = [OutCol("?agg?", a.oid) for a in grouping.aggs]
            rel = Aggregate(rel, group_keys, grouping, having, rel.columns + agg_cols)
        if windows.specs:
            windows.base = len(rel.columns)
            rel = Window(rel, windows, rel.columns + [OutCol("?win?", w.oid)
                                                       for w in windows.specs])
        rel = _project_sort_distinct(rel, out_exprs, out_cols, keys)
        return self._limit(rel, stmt, parent, level, ctes)

    def _group_keys(self, stmt: ast.SelectStmt, targets, scope: Scope,
                    grouping: Grouping) -> list[Expr]:
        """GROUP BY expressions; grouped columns of this level are noted in ``grouping``."""
        group_keys: list[Expr] = []
        if not stmt.groupClause:
            return group_keys
        gcomp = ExprCompiler(self, scope, "GROUP BY")
        for item in stmt.groupClause:
            node = self._group_item(item, targets, scope)
            group_keys.append(gcomp.to_output(gcomp.compile(node)))
            if isinstance(node, ast.ColumnRef):
                s, off = scope.resolve(node.fields)
                if s is scope:
                    grouping.group_offsets.add(off)
                    continue
            grouping.group_nodes.append(node)
        return group_keys

    def _order_keys(self, stmt: ast.SelectStmt, targets, scope: Scope,
                    comp: ExprCompiler) -> "_OrderKeys":
        """ORDER BY and DISTINCT [ON] keys: output columns, or hidden columns after them."""
        hidden: list[Expr] = []
        distinct = stmt.distinctClause
        plain_distinct = distinct is not None and len(distinct) == 1 and distinct[0] is None
        distinct_on = distinct is not None and not plain_distinct
        sort_keys = []
        hidden_nodes: list = []            # the ORDER BY expressions kept as hidden columns
        comp.clause = "ORDER BY"
        for sortby in stmt.sortClause or ():
            desc, nf = _sort_flags(sortby)
            idx = self._output_ref(sortby.node, targets, scope, "ORDER BY")
            if idx is None and distinct_on:      # an output expression, DISTINCT ON's too
                idx = self._matching_target(sortby.node, targets)
            if idx is None:
                if plain_distinct:
                    idx = self._matching_target(sortby.node, targets)
                    if idx is None:
                        raise InvalidColumnReference(
                            "for SELECT DISTINCT, ORDER BY expressions must "
                            "appear in select list")
                else:
                    hidden.append(comp.to_output(comp.compile(sortby.node)))
                    hidden_nodes.append(sortby.node)
                    idx = len(targets) + len(hidden) - 1
            sort_keys.append((idx, desc, nf))
        on_keys = []
        if distinct_on:
            comp.clause = "DISTINCT ON"
            for node in distinct:
                idx = self._output_ref(node, targets, scope, "DISTINCT ON")
                if idx is None:
                    idx = self._matching_target(node, targets)
                if idx is None and node in hidden_nodes:     # also an ORDER BY expression
                    idx = len(targets) + hidden_nodes.index(node)
                if idx is None:
                    hidden.append(comp.to_output(comp.compile(node)))
                    hidden_nodes.append(node)
                    idx = len(targets) + len(hidden) - 1
                on_keys.append(idx)
            if sort_keys:
                lead = [k[0] for k in sort_keys[:len(on_keys)]]
                if len(lead) < len(on_keys) and len(sort_keys) < len(on_keys) or \
                        sorted(lead) != sorted(on_keys[:len(lead)]) and \
                        set(lead) != set(on_keys[:len(lead)]):
                    raise InvalidColumnReference(
                        "SELECT DISTINCT ON expressions must match initial ORDER "
                        "BY expressions")
        comp.clause = "SELECT"
        return _OrderKeys(hidden, sort_keys, on_keys if distinct_on else None, plain_distinct)

    def _star_column(self, comp: ExprCompiler, scope: Scope, offset: int) -> Expr:
        g = comp.grouping
        if g is not None and g.grouped and offset not in g.group_offsets and \
                not comp._functionally_dependent(offset):
            entry = scope.entry_of(offset)
            qual = f"{entry.alias}." if entry is not None and entry.alias else ""
            raise GroupingError(
                f'column "{qual}{scope.names[offset]}" must appear in the GROUP BY '
                "clause or be used in an aggregate function")
        oid = scope.oids[offset]
        return Expr(lambda row, env: row[offset], oid, typmod=char_length(scope, offset, oid))

    def _expand_targets(self, target_list, scope: Scope) -> list[tuple[str, Any, int]]:
        """(name, node, offset): node None means a column of a * expansion at offset."""
        out = []
        for t in target_list:
            val = t.val
            if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
                alias = val.fields[-2].sval if len(val.fields) >= 2 else None
                if alias is None and not scope.entries:
                    raise ParseError("SELECT * with no tables specified is not valid")
                for off in scope.star_for(alias):
                    out.append((scope.names[off], None, off))
                continue
            out.append((t.name or figure_colname(val), val, -1))
        return out

    def _group_item(self, item, targets, scope: Scope):
        if isinstance(item, ast.GroupingSet):
            raise FeatureNotSupported("GROUPING SETS, ROLLUP and CUBE are not supported yet")
        pos = _const_int(item)
        if pos is not None:
            if not 1 <= pos <= len(targets):
                raise InvalidColumnReference(f"GROUP BY position {pos} is not in select list")
            name, node, off = targets[pos - 1]
            if node is None:
                return ast.ColumnRef(fields=self._qualified(scope, off))
            if contains_aggregate(node):
                raise GroupingError("aggregate functions are not allowed in GROUP BY")
            return node
        name = _single_name(item)
        if name is not None:
            hits, _ = scope.find_local(None, name)
            if not hits:
                matches = [t for t in targets if t[0] == name]
                if matches:
                    _, node, off = matches[0]
                    return node if node is not None else ast.ColumnRef(
                        fields=self._qualified(scope, off))
        if contains_aggregate(item):
            raise GroupingError("aggregate functions are not allowed in GROUP BY")
        return item

    @staticmethod
    def _qualified(scope: Scope, off: int) -> tuple:
        entry = scope.entry_of(off)
        name = scope.names[off]
        if entry is not None and entry.alias:
            return (ast.String(sval=entry.alias), ast.String(sval=name))
        return (ast.String(sval=name),)

    @staticmethod
    def _output_ref(node, targets, scope: Scope, what: str) -> int | None:
        pos = _const_int(node)
        if pos is not None:
            if not 1 <= pos <= len(targets):
                raise InvalidColumnReference(f"{what} position {pos} is not in select list")
            return pos - 1
        name = _single_name(node)
        if name is not None:
            idx = [i for i, t in enumerate(targets) if t[0] == name]
            if len(idx) > 1 and len({_target_identity(targets[i], scope) for i in idx}) > 1:
                raise AmbiguousColumn(f'{what} "{name}" is ambiguous')
            if idx:
                return idx[0]
        return None

    @staticmethod
    def _matching_target(node, targets) -> int | None:
        for i, (name, tnode, off) in enumerate(targets):
            if tnode is not None and tnode == node:
                return i
            if tnode is None and isinstance(node, ast.ColumnRef) and \
                    node.fields[-1].sval == name:
                return i
        return None


def _conjuncts(node) -> list:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for a in node.args for c in _conjuncts(a)]
    return [node] if node is not None else []


def _typmod(e: Expr) -> int:
    """The type modifier a result column reports: character(n) → n + 4 (PostgreSQL's)."""
    if e.oid == T.BPCHAR and e.typmod:
        return e.typmod[0] + 4
    return -1


#: functions whose value may change between calls: a conjunct calling one is not moved
_VOLATILE = frozenset({"random", "nextval", "setval", "currval", "lastval", "clock_timestamp",
                       "gen_random_uuid", "timeofday"})


def _early(conj) -> bool:
    """A WHERE conjunct that may be evaluated before the FROM list is fully joined."""
    return not any_node(conj, lambda n: isinstance(n, (ast.SubLink, ast.A_Star)) or (
        isinstance(n, ast.FuncCall) and (n.funcname[-1].sval.lower() in _VOLATILE
                                         or n.over is not None or n.agg_star)))


def _column_refs(conj) -> list:
    refs = []
    any_node(conj, lambda n: isinstance(n, ast.ColumnRef) and refs.append(n) and False)
    return refs


def _where(ref: ast.ColumnRef, scope: Scope) -> bool:
    """The reference names exactly one column among ``scope``'s own FROM items."""
    names = [f.sval for f in ref.fields if isinstance(f, ast.String)]
    if len(names) != len(ref.fields) or not 1 <= len(names) <= 2:
        return False
    hits, _ = scope.find_local(names[0] if len(names) == 2 else None, names[-1])
    return len(hits) == 1


def _local_to(conj, scope: Scope) -> bool:
    refs = _column_refs(conj)
    return bool(refs) and all(_where(r, scope) for r in refs)


def _joins(conj, left: Scope, right: Scope) -> bool:
    """``a = b`` with one side a column of ``left`` and the other a column of ``right``."""
    if not (isinstance(conj, ast.A_Expr) and conj.kind == 0 and len(conj.name) == 1
            and conj.name[0].sval == "=" and isinstance(conj.lexpr, ast.ColumnRef)
            and isinstance(conj.rexpr, ast.ColumnRef)):
        return False
    a, b = conj.lexpr, conj.rexpr
    for x, y in ((a, b), (b, a)):
        if _where(x, left) and _where(y, right) and not _where(x, right) \
                and not _where(y, left):
            return True
    return False


def _is_lateral(item) -> bool:
    return (isinstance(item, ast.RangeSubselect) and bool(item.lateral)) or \
        isinstance(item, ast.RangeFunction)


class _CastOnly(Rel):
    """Re-types columns (e.g. unknown → text) and casts values where needed."""

    def __init__(self, input: Rel, casts, columns):
        self.input, self.casts, self.columns = input, casts, columns

    def rows(self, env):
        rows = self.input.rows(env)
        if not any(self.casts):
            return rows
        return [tuple(c(v) if c else v for v, c in zip(r, self.casts)) for r in rows]


@dataclass
class _OrderKeys:
    """What ORDER BY and DISTINCT [ON] need after the projection."""
    hidden: list[Expr]                 # sort-only columns appended to the outputs
    sort_keys: list                    # (column, descending, nulls first)
    on_keys: list[int] | None          # DISTINCT ON columns (None: no DISTINCT ON)
    plain_distinct: bool


def _project_sort_distinct(rel: Rel, out_exprs: list[Expr], out_cols: list[OutCol],
                           keys: _OrderKeys) -> Rel:
    """Project the outputs (and hidden sort columns), then DISTINCT, ORDER BY, DISTINCT
    ON, and strip the hidden columns."""
    hidden = keys.hidden
    rel = Project(rel, out_exprs + hidden,
                  out_cols + [OutCol("?sort?", e.oid) for e in hidden])
    if keys.plain_distinct:
        rel = Distinct(rel, list(range(len(out_cols))), rel.columns)
    if keys.sort_keys:
        rel = Sort(rel, keys.sort_keys, rel.columns)
    if keys.on_keys is not None:
        rel = Distinct(rel, keys.on_keys, rel.columns)
    if hidden:
        rel = Strip(rel, out_cols)
    return rel
