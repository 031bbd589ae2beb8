"""CREATE SEQUENCE, and a sequence's parameters (also an identity column's) with
DSQL's rules: bigint only, CACHE 1 or at least 65536.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pglast import ast

from ...errors import DuplicateTable, FeatureNotSupported, InvalidParameterValue
from ..catalog import SequenceDef, table_key
from ..parse import option_value
from ..plan.base import Plan
from ..query import astwalk
from ..result import QueryResult
from .common import (MAX_BIGINT, SEQUENCE_CACHE_MIN, SEQUENCE_COLUMNS, create_relation,
                     creation_schema, refuse_temporary, require_schema)


def _int_option(opt: ast.DefElem) -> int:
    if isinstance(opt.arg, ast.TypeName):
        raise FeatureNotSupported("sequences are bigint only")
    value = option_value(opt, (ast.Integer, ast.Float))
    if value is None:
        raise InvalidParameterValue(f"invalid value for sequence option {opt.defname}")
    return int(value)


def sequence_def(options, owned_by: str | None = None) -> SequenceDef:
    """A sequence's parameters from CREATE SEQUENCE / identity options, with DSQL's rules."""
    given: dict[str, Any] = {}
    for opt in options or ():
        name = opt.defname
        if name == "as":
            tname = opt.arg.names[-1].sval.lower()
            if tname not in ("int8", "bigint"):
                raise FeatureNotSupported("sequences and identity columns must be bigint",
                                          hint="Use AS bigint or omit AS.")
            continue
        if name in ("sequence_name", "owned_by"):
            continue
        if name == "cycle":
            given["cycle"] = bool(getattr(opt.arg, "boolval", True)) if opt.arg else True
            continue
        if name in ("maxvalue", "minvalue") and opt.arg is None:
            continue
        if name == "restart":
            raise FeatureNotSupported("RESTART is not supported in CREATE SEQUENCE")
        given[name] = _int_option(opt)
    if "cache" not in given or not (given["cache"] == 1 or given["cache"] >= SEQUENCE_CACHE_MIN):
        raise FeatureNotSupported(
            f"CACHE must be 1 or at least {SEQUENCE_CACHE_MIN}"
            + ("" if "cache" in given else " and given explicitly"),
            hint="Aurora DSQL sequences and identity columns need CACHE 1 or "
                 f"CACHE >= {SEQUENCE_CACHE_MIN}, e.g. CACHE {SEQUENCE_CACHE_MIN}.")
    inc = given.get("increment", 1)
    if inc == 0:
        raise InvalidParameterValue("INCREMENT must not be zero")
    lo = given.get("minvalue", 1 if inc > 0 else -MAX_BIGINT - 1)
    hi = given.get("maxvalue", MAX_BIGINT if inc > 0 else -1)
    start = given.get("start", lo if inc > 0 else hi)
    if lo >= hi:
        raise InvalidParameterValue(f"MINVALUE ({lo}) must be less than MAXVALUE ({hi})")
    if not lo <= start <= hi:
        raise InvalidParameterValue(
            f"START value ({start}) cannot be "
            f"{'less than MINVALUE' if start < lo else 'greater than MAXVALUE'} "
            f"({lo if start < lo else hi})")
    return SequenceDef(start, inc, lo, hi, given["cache"], given.get("cycle", False), owned_by)


def plain_sequence_args(node):
    """``nextval('s'::regclass)`` → ``nextval('s')`` (a copy): the expression compiler has
    no regclass; the sequence functions take its name."""
    node = copy.deepcopy(node)
    for n in astwalk.nodes(node):
        if isinstance(n, ast.FuncCall) and n.funcname[-1].sval in ("nextval", "currval",
                                                                    "setval") and n.args:
            first = n.args[0]
            if isinstance(first, ast.TypeCast) and first.typeName.names[-1].sval == "regclass":
                n.args = (first.arg,) + tuple(n.args[1:])
    return node


@dataclass
class CreateSequencePlan(Plan):
    schema: str = "public"
    name: str = ""
    sequence: SequenceDef | None = None
    if_not_exists: bool = False

    async def run(self, txn, params, session) -> QueryResult:
        await require_schema(txn, self.schema)
        if await txn.get(table_key(self.schema, self.name)) is not None:
            if self.if_not_exists:
                session.notice(f'relation "{self.name}" already exists, skipping')
                return QueryResult("CREATE SEQUENCE")
            raise DuplicateTable(f'relation "{self.name}" already exists')
        await create_relation(txn, self.schema, self.name, SEQUENCE_COLUMNS, kind="S",
                              sequence=self.sequence)
        return QueryResult("CREATE SEQUENCE")


def plan_create_sequence(stmt: ast.CreateSeqStmt, catalog, param_oids) -> CreateSequencePlan:
    rel = stmt.sequence
    refuse_temporary(rel, "temporary and unlogged sequences")
    return CreateSequencePlan(schema=creation_schema(rel, catalog), name=rel.relname,
                              sequence=sequence_def(stmt.options),
                              if_not_exists=bool(stmt.if_not_exists), is_ddl=True)
