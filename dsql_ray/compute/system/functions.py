"""Functions catalog queries call, registered into the query engine's function table.

Functions that look relations up by name or oid read the catalog as the statement was
planned (``planner.catalog``, a :class:`~dsql_ray.compute.system.SystemCatalog`).
"""
from __future__ import annotations

import contextvars
import os
import uuid
from collections.abc import Mapping
from typing import Callable

from pglast import parse_sql

from ...errors import InvalidParameterValue, InvalidSchemaName, UndefinedObject, UndefinedTable
from .. import types as T
from ..context import CURRENT_SESSION
from ..query import sqltypes as S
from ..query.functions import FUNCTIONS, _arity, int_arg, no_function, register, strict
from ..query.runtime import Expr
from . import tables as ST
from ..indexes import registry_of_catalog
from ..userdefs import DOMAIN_OID_BASE, FUNCTION_OID_BASE
from ..query.exprs import resolve_type

#: the running session's settings (set by the statement's table source when it knows
#: the session); current_setting() and pg_settings fall back to the defaults
CURRENT_SETTINGS: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "dsql_current_settings", default=None)


def default_settings() -> dict[str, str]:
    return {"server_version": T.SERVER_VERSION, "server_version_num":
            "%d%04d" % tuple(int(x) for x in T.SERVER_VERSION.split(".")[:2]),
            "server_encoding": "UTF8", "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
            "TimeZone": "UTC", "integer_datetimes": "on",
            "standard_conforming_strings": "on", "IntervalStyle": "postgres",
            "is_superuser": "on", "application_name": "",
            "transaction_isolation": "repeatable read",
            "default_transaction_isolation": "repeatable read",
            "search_path": '"$user", public', "max_identifier_length": "63",
            "lc_collate": "C", "lc_ctype": "C", "max_index_keys": "32", "jit": "off"}


def _current() -> dict[str, str] | None:
    """The running statement's session settings: those its engine source set, else the
    session's own (a statement without FROM never builds an engine source)."""
    current = CURRENT_SETTINGS.get()
    if current is None:
        current = getattr(CURRENT_SESSION.get(), "settings", None)
    return current


def session_settings() -> dict[str, str]:
    out = default_settings()
    current = _current()
    if current:
        out.update(current)
    return out


#: user tables as the running statement's catalog scan read them (set by scan_system):
#: a compute node's cache only holds the tables it has resolved since it started
CURRENT_TABLES: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "dsql_current_tables", default=None)


#: domains and SQL functions as the running statement's catalog scan read them (set by
#: scan_system), over the compute's catalog cache (which may lag another compute's DDL)
CURRENT_EXTRAS: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "dsql_current_extras", default=None)


def user_defs(c, kind: str) -> Callable[[], tuple]:
    """Run time: the statement's ``domains`` or ``functions`` (userdefs.py)."""
    catalog = c.planner.catalog

    def current() -> tuple:
        scanned = (CURRENT_EXTRAS.get() or {}).get(kind)
        if scanned is not None:
            return scanned
        return tuple((getattr(catalog, kind, None) or {}).values())
    return current


def _snapshot(c) -> "_Relations":
    """oid → TableDef of every relation (tables and their primary-key indexes)."""
    return _Relations(c.planner.catalog)


class _Relations(Mapping):
    """Read when used, so a plan made before a table was known (or cached) still finds
    it: the tables the statement's catalog scan read, over the tables the catalog has
    cached (system relations always)."""

    def __init__(self, catalog):
        self.catalog = catalog
        self._scanned: list | None = None
        self._cached = -1
        self._map: dict = {}

    def _current(self) -> dict:
        snap = getattr(self.catalog, "system_snapshot", None)
        cached = snap() if snap is not None else []
        scanned = CURRENT_TABLES.get()
        if scanned is not self._scanned or len(cached) != self._cached or not self._map:
            by_id = {t.table_id: t for t in cached}
            by_id.update((t.table_id, t) for t in scanned or ())
            tables = list(by_id.values())
            by_oid = {ST.table_oid(t): t for t in [s.table for s in ST.SYSTEM.values()]}
            by_oid.update((ST.table_oid(t), t) for t in tables)
            for t in tables:
                if t.pk and not t.hidden_pk:
                    by_oid[ST.index_oid(t)] = t
            self._scanned, self._cached, self._map = scanned, len(cached), by_oid
        return self._map

    def __getitem__(self, oid):
        return self._current()[oid]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def _const(value, oid):
    return Expr(lambda row, env, v=value: v, oid, True)


def _oid_arg(c, name, args, a):
    return int_arg(c, name, args, a, untyped_as=T.INT8)


def _split_name(text: str) -> tuple[str | None, str]:
    """'schema.name' / '"Quoted".name' → (schema, name), PostgreSQL's identifier rules."""
    parts, cur, quoted, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if quoted and i + 1 < len(text) and text[i + 1] == '"':
                cur += '"'
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch if quoted else ch.lower()
        i += 1
    parts.append(cur.strip() if not quoted else cur)
    if len(parts) == 1:
        return None, parts[0]
    return parts[-2], parts[-1]


def lookup_relation(by_oid: dict, text: str) -> int | None:
    schema, name = _split_name(text.strip())
    for path in ([schema] if schema else ["pg_catalog", "public"]):
        for oid, t in by_oid.items():
            if t.schema != path:
                continue
            if oid == ST.table_oid(t) and t.name == name or \
                    oid != ST.table_oid(t) and ST.pk_name(t) == name:
                return oid
    if text.strip().isdigit():
        return int(text)
    return None


def lookup_type(text: str) -> int | None:
    t = text.strip()
    for oid in ST._BASE_TYPES:
        if ST.type_name_of(oid) == t or ST.format_type(oid) == t:
            return oid
    for arr, elem in ST.ELEMENT_OF.items():
        if ST.type_name_of(arr) == t or ST.format_type(arr) == t:
            return arr
    try:
        tn = parse_sql(f"SELECT NULL::{t}")[0].stmt.targetList[0].val.typeName
        return resolve_type(tn)[0]
    except Exception:
        return None


# -- reg* casts: an oid shows as a name, a name reads as an oid ------------------------------
@register("__dsql_regclass", reads_catalog=True)
def _regclass(c, args, name):
    _arity(name, args, 1)
    by_oid = _snapshot(c)
    a = args[0]
    if a.oid in S.INTS:
        def out(v):
            t = by_oid.get(v)
            if t is None:
                return str(v)
            nm = ST.pk_name(t) if v != ST.table_oid(t) else t.name
            return ST._quote(nm) if t.schema in ("public", "pg_catalog") else \
                f"{ST._quote(t.schema)}.{ST._quote(nm)}"
        return strict(out, [a], T.TEXT)
    a = c.coerce(a, T.TEXT)
    if S.category(a.oid) != "S":
        raise no_function("regclass", args)

    def inp(text):
        oid = lookup_relation(by_oid, text)
        if oid is None:
            raise UndefinedTable(f'relation "{text}" does not exist')
        return oid
    return strict(inp, [a], T.INT8)


@register("to_regclass", reads_catalog=True)
def _to_regclass(c, args, name):
    _arity(name, args, 1)
    by_oid = _snapshot(c)
    a = c.coerce(args[0], T.TEXT)
    return strict(lambda text: lookup_relation(by_oid, text), [a], T.INT8)


@register("__dsql_regtype")
def _regtype(c, args, name):
    _arity(name, args, 1)
    a = args[0]
    if a.oid in S.INTS:
        return strict(lambda v: ST.format_type(v, -1) if v in ST._DISPLAY or v in ST.ELEMENT_OF
                      else str(v), [a], T.TEXT)
    a = c.coerce(a, T.TEXT)

    def inp(text):
        oid = lookup_type(text)
        if oid is None:
            raise UndefinedObject(f'type "{text}" does not exist')
        return oid
    return strict(inp, [a], T.INT8)


@register("to_regtype")
def _to_regtype(c, args, name):
    _arity(name, args, 1)
    return strict(lookup_type, [c.coerce(args[0], T.TEXT)], T.INT8)


@register("__dsql_regnamespace", reads_catalog=True)
def _regnamespace(c, args, name):
    _arity(name, args, 1)
    by_oid = _snapshot(c)
    schemas = {"pg_catalog", "public", "information_schema"} | {t.schema for t in by_oid.values()}
    names = {ST.schema_oid(s): s for s in schemas}
    a = args[0]
    if a.oid in S.INTS:
        return strict(lambda v: names.get(v, str(v)), [a], T.TEXT)
    oids = {v: k for k, v in names.items()}

    def inp(text):
        if text not in oids:
            raise InvalidSchemaName(f'schema "{text}" does not exist')
        return oids[text]
    return strict(inp, [c.coerce(a, T.TEXT)], T.INT8)


@register("__dsql_regrole")
def _regrole(c, args, name):
    _arity(name, args, 1)
    a = args[0]
    if a.oid in S.INTS:
        return strict(lambda v: ST.OWNER if v == ST.OWNER_OID else str(v), [a], T.TEXT)
    return strict(lambda t: ST.OWNER_OID if t == ST.OWNER else 0, [c.coerce(a, T.TEXT)],
                  T.INT8)


@register("__dsql_regproc")
def _regproc(c, args, name):
    _arity(name, args, 1)
    a = args[0]
    if a.oid in S.INTS:
        return strict(lambda v: "-" if v == 0 else str(v), [a], T.TEXT)
    return strict(lambda t: 0, [c.coerce(a, T.TEXT)], T.INT8)


# -- catalog functions ------------------------------------------------------------------------
@register("format_type")
def _format_type(c, args, name):
    _arity(name, args, 2)
    oid = _oid_arg(c, name, args, args[0])
    mod = _oid_arg(c, name, args, args[1])
    f0, f1 = oid.fn, mod.fn
    domains = user_defs(c, "domains")
    path = tuple(getattr(c.planner.catalog, "search_path", ("public",)))

    def fn(row, env):               # not strict in its typmod
        v = f0(row, env)
        if v is not None and DOMAIN_OID_BASE <= v < FUNCTION_OID_BASE:
            # a domain outside the search path is shown schema-qualified
            return next((d.name if d.schema in path else f"{d.schema}.{d.name}"
                         for d in domains() if d.oid == v), None)
        return None if v is None else ST.format_type(v, f1(row, env))
    return Expr(fn, T.TEXT, oid.const and mod.const)


@register("pg_get_expr")
def _pg_get_expr(c, args, name):
    _arity(name, args, 2, 3)
    e = c.coerce(args[0], T.TEXT)
    f = e.fn
    return Expr(lambda row, env: f(row, env), T.TEXT, e.const)


@register("pg_get_function_result", "pg_get_function_arguments",
          "pg_get_function_identity_arguments", reads_catalog=True)
def _function_text(c, args, name):
    """The result type and the argument list of a SQL function (compute/userdefs.py)."""
    _arity(name, args, 1)
    a = _oid_arg(c, name, args, args[0])
    functions = user_defs(c, "functions")

    def text(v):
        f = next((f for f in functions() if f.oid == v), None)
        if f is None:
            return None
        if name == "pg_get_function_result":
            return ST.format_type(f.ret_oid)
        if name == "pg_get_function_identity_arguments":
            return ", ".join(ST.format_type(o) for o in f.arg_oids)
        return ST.function_arguments(f)
    return strict(text, [a], T.TEXT)


@register("pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible",
          "pg_collation_is_visible", "pg_opclass_is_visible", "pg_operator_is_visible",
          reads_catalog=True)
def _is_visible(c, args, name):
    _arity(name, args, 1)
    by_oid = _snapshot(c) if name == "pg_table_is_visible" else {}
    a = _oid_arg(c, name, args, args[0])

    def visible(v):
        t = by_oid.get(v)
        return t is None or t.schema in ("public", "pg_catalog")
    return strict(visible, [a], T.BOOL)


@register("pg_get_userbyid")
def _pg_get_userbyid(c, args, name):
    _arity(name, args, 1)
    a = _oid_arg(c, name, args, args[0])
    return strict(lambda v: ST.OWNER if v == ST.OWNER_OID else f"unknown (OID={v})", [a],
                  T.TEXT)


@register("obj_description", "col_description", "shobj_description")
def _description(c, args, name):
    _arity(name, args, 1, 2)
    return _const(None, T.TEXT)


@register("current_schemas")
def _current_schemas(c, args, name):
    _arity(name, args, 1)
    a = c.coerce(args[0], T.BOOL)
    return strict(lambda implicit: ["pg_catalog", "public"] if implicit else ["public"], [a],
                  ST.TEXT_ARRAY)


@register("has_table_privilege", "has_schema_privilege", "has_database_privilege",
          "has_column_privilege", "has_any_column_privilege", "has_function_privilege",
          "has_sequence_privilege", "pg_has_role")
def _has_privilege(c, args, name):
    _arity(name, args, 1, 4)
    return _const(True, T.BOOL)


@register("pg_get_constraintdef", "pg_get_indexdef", reads_catalog=True)
def _get_def(c, args, name):
    _arity(name, args, 1, 3)
    by_oid = _snapshot(c)
    a = _oid_arg(c, name, args, args[0])
    # pg_get_indexdef(index, column, pretty): column k > 0 gives that key column only
    col = c.coerce(args[1], T.INT4) if name == "pg_get_indexdef" and len(args) > 1 else \
        _const(0, T.INT4)
    pretty = len(args) == 3 and args[2].const and args[2].value() is True

    secondary_now = _secondary_defs(c)        # secondary indexes (compute/indexes.py)
    domains = user_defs(c, "domains")         # domains' CHECKs (compute/userdefs.py)

    def domain_check(v):
        for d in domains():
            for i, (_, sql) in enumerate(d.checks):
                if ST.domain_check_oid(d.oid, i) == v:
                    return ST.domain_check_def(sql)
        return None

    def whole(v):
        secondary = secondary_now()
        if v in secondary:
            if pretty and name == "pg_get_indexdef":
                return secondary[v][3]
            return secondary[v][name == "pg_get_constraintdef"]
        if name == "pg_get_constraintdef" and v >= DOMAIN_OID_BASE * 100:
            return domain_check(v)
        t = by_oid.get(v)
        if t is None and name == "pg_get_constraintdef" and v >= ST.FIRST_USER_OID * 1000:
            t = by_oid.get(v // 1000)    # a CHECK (ST.check_oid) or FOREIGN KEY (ST.fk_oid)
            i = v % 1000 - 500
            if t is not None and t.table_id >= 0 and 0 <= i < len(t.checks):
                return ST.check_def(t.checks[i])
            i = v % 1000 - ST.FK_OID_OFFSET
            if t is not None and t.table_id >= 0 and 0 <= i < len(t.fkeys):
                parent = next((p for p in by_oid.values()
                               if p.table_id == t.fkeys[i].ref_id), None)
                return None if parent is None else ST.fk_def(t.fkeys[i], parent)
            return None
        if t is None or t.table_id < 0 or not t.pk:
            return None
        return ST.constraint_def(t) if name == "pg_get_constraintdef" else ST.index_def(t)

    def key_column(v, k):
        secondary = secondary_now()
        if v in secondary:
            keys = secondary[v][2]
        else:
            t = by_oid.get(v)
            if t is None or t.table_id < 0 or not t.pk:
                return None
            keys = [ST.quote_name(t.columns[p].name) for p in t.pk]
        return keys[k - 1] if k <= len(keys) else ""

    return strict(lambda v, k: whole(v) if k == 0 else key_column(v, k), [a, col], T.TEXT)


def _secondary_defs(c) -> Callable[[], dict[int, tuple[str, str | None, list[str], str]]]:
    """Run time: secondary index oid → (index definition, UNIQUE constraint definition,
    key columns, the pretty index definition), from the indexes the statement's catalog
    scan read at its snapshot (what pg_index and pg_class show), else this compute's
    registry. (The registry alone lagged on a compute that had not refreshed it yet:
    psql's \\d listed a new index with no definition.)"""
    reg = registry_of_catalog(c.planner.catalog)
    memo: dict = {}

    def current() -> dict:
        scanned = (CURRENT_EXTRAS.get() or {}).get("indexes")
        source = scanned if scanned is not None else \
            (tuple(reg.by_name.values()) if reg is not None else ())
        if memo.get("source") is not source:
            memo["source"], memo["defs"] = source, _index_defs(c, source)
        return memo["defs"]
    return current


def _index_defs(c, indexes) -> dict[int, tuple[str, str | None, list[str], str]]:
    names = {t.table_id: t for t in _snapshot(c).values() if t.table_id > 0}
    out = {}
    for d in indexes:
        t = names.get(d.table_id)
        if t is not None:
            out[ST.secondary_index_oid(d)] = (
                d.definition(t),
                f"UNIQUE ({', '.join(d.key_names(t))})" if d.constraint else None,
                [ST.quote_name(n) if e is None else k for n, e, k in
                 zip(d.key_names(t), d.exprs or (None,) * len(d.columns),
                     d.shown_keys(t, True))] + [ST.quote_name(n) for n in d.include_names(t)],
                d.definition(t, pretty=True))
    return out


@register("current_setting")
def _current_setting(c, args, name):
    _arity(name, args, 1, 2)
    a = c.coerce(args[0], T.TEXT)
    missing_ok = args[1].value() if len(args) == 2 and args[1].const else False

    def fn(key):
        settings = {k.lower(): v for k, v in session_settings().items()}
        if key.lower() not in settings:
            if missing_ok:
                return None
            raise UndefinedObject(f'unrecognized configuration parameter "{key}"')
        return settings[key.lower()]
    return strict(fn, [a], T.TEXT, volatile=True)


@register("set_config")
def _set_config(c, args, name):
    """set_config(name, value, is_local): the session's setting (asyncpg turns jit off
    before it introspects types). is_local lasts as long as the session here."""
    _arity(name, args, 3)
    key, value = c.coerce(args[0], T.TEXT), c.coerce(args[1], T.TEXT)
    local = c.coerce(args[2], T.BOOL)

    def fn(k, v, _local):
        current = _current()
        known = {n.lower(): n for n in session_settings()}
        if current is not None:
            current[known.get(k.lower(), k)] = v
        return v
    return strict(fn, [key, value, local], T.TEXT, volatile=True)


@register("pg_encoding_to_char")
def _encoding(c, args, name):
    _arity(name, args, 1)
    a = _oid_arg(c, name, args, args[0])
    return strict(lambda v: "UTF8" if v == 6 else "SQL_ASCII", [a], T.TEXT)


@register("pg_relation_is_publishable")
def _publishable(c, args, name):
    return _const(False, T.BOOL)


@register("pg_get_serial_sequence")
def _serial_sequence(c, args, name):
    return _const(None, T.TEXT)


@register("pg_get_viewdef", reads_catalog=True)
def _get_viewdef(c, args, name):
    _arity(name, args, 1, 2)
    by_oid = _snapshot(c)
    a = _oid_arg(c, name, args, args[0])

    def fn(v):
        t = by_oid.get(v)
        if t is None or t.table_id < 0 or t.kind != "v":
            return None
        return " " + t.view_sql + ";"
    return strict(fn, [a], T.TEXT)


@register("pg_get_statisticsobjdef_columns", "pg_get_triggerdef",
          "pg_get_functiondef", "pg_get_ruledef", "pg_get_partkeydef")
def _no_def(c, args, name):
    return _const(None, T.TEXT)


@register("pg_partition_ancestors")
def _partition_ancestors(c, args, name):
    """No table is partitioned: a relation's only ancestor is itself (psql 18's \\d)."""
    _arity(name, args, 1)
    return _oid_arg(c, name, args, args[0])


@register("gen_random_uuid")
def _gen_random_uuid(c, args, name):
    _arity(name, args, 0)
    return Expr(lambda row, env: uuid.uuid4(), T.UUID)


@register("json_build_object", "jsonb_build_object")
def _json_build_object(c, args, name):
    if len(args) % 2:
        raise InvalidParameterValue(
            "argument list must have even number of elements",
            hint=f"The arguments of {name}() must consist of alternating keys "
            "and values.")
    args = [c.coerce(a, T.TEXT) if a.oid in (S.UNKNOWN, 0) else a for a in args]
    fns, oids = [a.fn for a in args], [a.oid for a in args]
    oid = T.JSONB if name.startswith("jsonb") else T.JSON

    def fn(row, env):
        values = [f(row, env) for f in fns]
        pairs = []
        for i in range(0, len(values), 2):
            if values[i] is None:
                raise InvalidParameterValue("null value not allowed for object key")
            pairs.append((S.to_text(values[i]), values[i + 1], oids[i + 1]))
        return S.json_build_object(pairs, oid)
    return Expr(fn, oid)


@register("pg_backend_pid")
def _backend_pid(c, args, name):
    return _const(os.getpid(), T.INT4)


@register("txid_current", "pg_current_xact_id")
def _txid(c, args, name):
    return Expr(lambda row, env: 1, T.INT8)


@register("pg_postmaster_start_time")
def _start_time(c, args, name):
    return Expr(lambda row, env: env.run.now, T.TIMESTAMPTZ)


@register("inet_server_addr", "inet_client_addr")
def _inet(c, args, name):
    return _const(None, T.TEXT)


@register("pg_is_in_recovery")
def _in_recovery(c, args, name):
    return _const(False, T.BOOL)


__all__ = ["CURRENT_SETTINGS", "FUNCTIONS", "session_settings", "default_settings"]
