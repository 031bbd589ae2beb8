"""CREATE [OR REPLACE] FUNCTION … LANGUAGE sql and DROP FUNCTION (``userdefs.py`` holds
the definitions; ``query/exprs.py`` inlines a call).

A function's body must be one expression: ``SELECT expr`` (no FROM, WHERE, …) or the
``RETURN expr`` form. Other bodies, other languages (plpgsql …), procedures, set-returning
and OUT parameters are refused with 0A000 naming what is missing."""
from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums import FunctionParameterMode

from ...errors import (DsqlError, DuplicateFunction, FeatureNotSupported,
                       InvalidFunctionDefinition, UndefinedFunction)
from ..plan.base import Plan
from .. import types as T
from ..query import sqltypes as S
from ..query.astwalk import any_node
from ..query.exprs import resolve_type
from ..query.rowexpr import RowScope, expr_sql, parse_expr
from ..result import QueryResult
from ..userdefs import FUNCTION_OID_BASE, FunctionDef, function_key, function_to_row, row_to_function
from .common import bump, creation_schema, new_id, qualified, require_schema

_VOLATILITY = {"immutable": "i", "stable": "s", "volatile": "v"}


@dataclass
class CreateFunctionPlan(Plan):
    function: FunctionDef | None = None
    replace: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        f = self.function
        await require_schema(txn, f.schema)
        row = await txn.get(function_key(f.schema, f.name))
        oid = None
        if row is not None:
            old = row_to_function(row)
            if old.arg_oids != f.arg_oids:
                raise FeatureNotSupported("function overloading is not supported: "
                                          f'"{f.name}" exists with other argument types')
            if not self.replace:
                raise DuplicateFunction(f'function "{f.name}" already exists with same '
                                        "argument types")
            oid = old.oid
        if oid is None:
            oid = FUNCTION_OID_BASE + await new_id(txn)
        txn.put(function_key(f.schema, f.name), function_to_row(FunctionDef(
            f.schema, f.name, oid, f.arg_names, f.arg_oids, f.arg_defaults, f.ret_oid,
            f.body_sql, f.volatility, f.strict, f.source)))
        await bump(txn)
        return QueryResult("CREATE FUNCTION")


def _options(stmt: ast.CreateFunctionStmt) -> dict:
    out = {}
    for opt in stmt.options or ():
        arg = opt.arg
        if isinstance(arg, ast.String):
            arg = arg.sval
        elif isinstance(arg, ast.Boolean):
            arg = arg.boolval
        elif isinstance(arg, (list, tuple)):
            arg = [a.sval for a in arg]
        out[opt.defname] = arg
    return out


def _body(stmt: ast.CreateFunctionStmt, opts: dict) -> tuple[str, str]:
    """(the body's one expression as SQL text, the source as written)."""
    if isinstance(stmt.sql_body, ast.ReturnStmt):
        text = expr_sql(stmt.sql_body.returnval)
        return text, f"RETURN {text}"
    if stmt.sql_body is not None:
        raise FeatureNotSupported("BEGIN ATOMIC function bodies are not supported")
    source = (opts.get("as") or [""])[0]
    try:
        stmts = parse_sql(source)
    except Exception as exc:          # pglast's ParseError: the body's own syntax error
        raise DsqlError(f"syntax error in function body: {exc}", sqlstate="42601") from None
    one = stmts[0].stmt if len(stmts) == 1 else None
    if not isinstance(one, ast.SelectStmt) or len(one.targetList or ()) != 1 or any(
            getattr(one, a) for a in ("fromClause", "whereClause", "groupClause",
                                      "havingClause", "sortClause", "limitCount",
                                      "withClause", "valuesLists", "distinctClause")) \
            or one.op != 0:
        raise FeatureNotSupported("only SQL functions whose body is one SELECT of one "
                                  "expression (or RETURN expression) are supported")
    return expr_sql(one.targetList[0].val), source.strip()


def _parameters(stmt: ast.CreateFunctionStmt):
    names, oids, defaults = [], [], []
    for p in stmt.parameters or ():
        if p.mode not in (FunctionParameterMode.FUNC_PARAM_DEFAULT,
                          FunctionParameterMode.FUNC_PARAM_IN):
            raise FeatureNotSupported("OUT, INOUT and VARIADIC parameters are not supported")
        names.append(p.name)
        oids.append(resolve_type(p.argType)[0])
        defaults.append(None if p.defexpr is None else expr_sql(p.defexpr))
        if p.defexpr is None and any(d is not None for d in defaults[:-1]):
            raise InvalidFunctionDefinition("input parameters after one with a default value "
                                            "must also have defaults")
    return tuple(names), tuple(oids), tuple(defaults)


def _check_body(body: str, names, oids, ret_oid: int, user_functions: set[str]) -> None:
    """Compile the body over its parameters (as columns): its errors now, and its type
    against RETURNS (42P13: the same category, or text). A body calling SQL functions
    (``user_functions``, itself included) is checked where it is called."""
    node = parse_expr(body)
    if any_node(node, lambda n: isinstance(n, ast.FuncCall)
                and n.funcname[-1].sval in user_functions):
        return
    named = [n or f"${i}" for i, n in enumerate(names, 1)]
    try:
        e = RowScope(named, oids, None, list(oids)).compile(node)
    except FeatureNotSupported:
        return                       # it calls what only the engine compiles
    if e.oid not in (S.UNKNOWN, 0, ret_oid) and S.category(e.oid) != S.category(ret_oid) \
            and ret_oid not in (T.TEXT, T.VARCHAR):
        raise InvalidFunctionDefinition(
            f"return type mismatch in function declared to return {S.type_name(ret_oid)}",
            detail=f"Actual return type is {S.type_name(e.oid)}.")


def plan_create_function(stmt: ast.CreateFunctionStmt, catalog, param_oids
                         ) -> CreateFunctionPlan:
    if stmt.is_procedure:
        raise FeatureNotSupported("CREATE PROCEDURE is not supported")
    opts = _options(stmt)
    language = (opts.get("language") or "sql").lower()
    if language != "sql":
        raise FeatureNotSupported(f'language "{language}" is not supported',
                                  hint="Use LANGUAGE sql.")
    if stmt.returnType is None or stmt.returnType.setof:
        raise FeatureNotSupported("only functions returning one scalar value are supported")
    schema, name = qualified(stmt.funcname)
    schema = schema or creation_schema(ast.RangeVar(relname=name), catalog)
    names, oids, defaults = _parameters(stmt)
    ret_oid = resolve_type(stmt.returnType)[0]
    body, source = _body(stmt, opts)
    _check_body(body, names, oids, ret_oid,
                {name, *(n for _, n in getattr(catalog, "functions", None) or {})})
    f = FunctionDef(schema, name, 0, names, oids, defaults, ret_oid, body,
                    _VOLATILITY[opts.get("volatility", "volatile")],
                    bool(opts.get("strict", False)), source)
    return CreateFunctionPlan(function=f, replace=bool(stmt.replace), is_ddl=True)


@dataclass
class DropFunctionPlan(Plan):
    names: list[tuple[str | None, str]] = field(default_factory=list)
    if_exists: bool = False
    search_path: tuple[str, ...] = ("public",)

    async def run(self, txn, params, session) -> QueryResult:
        for schema, name in self.names:
            key = None
            for s in ([schema] if schema else self.search_path):
                if await txn.get(function_key(s, name)) is not None:
                    key = function_key(s, name)
                    break
            if key is None:
                if not self.if_exists:
                    raise UndefinedFunction(f"function {name} does not exist")
                session.notice(f"function {name}() does not exist, skipping")
                continue
            txn.delete(key)
        await bump(txn)
        return QueryResult("DROP FUNCTION")


def plan_drop_function(stmt: ast.DropStmt, catalog, param_oids) -> DropFunctionPlan:
    names = [qualified(obj.objname) for obj in stmt.objects]
    return DropFunctionPlan(names=names, if_exists=bool(stmt.missing_ok),
                            search_path=tuple(getattr(catalog, "search_path", ("public",))),
                            is_ddl=True)
